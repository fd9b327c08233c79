"""EM statistics as plain arrays: a dict ``name -> float64 array`` whose every entry is a sum
over frames or utterances, so that the statistics of parallel jobs add up to those of the whole
data (Kaldi's ``*-acc-stats`` per job, ``*-sum-accs``, then ``*-est``)."""
import numpy as np

from dcase_tk.io.atomic import atomic_open

FORMAT = "dcase_tk.gmm.accumulator/1"


def add(acc, batch):
    """``acc + batch`` entry by entry; ``batch`` when ``acc`` is None."""
    batch = {key: np.asarray(value, dtype=np.float64) for key, value in batch.items()}
    if acc is None:
        return batch
    if set(acc) != set(batch):
        raise ValueError(f"accumulators with different entries: {sorted(acc)} vs {sorted(batch)}")
    for key, value in batch.items():
        if np.shape(acc[key]) != value.shape:
            raise ValueError(f"accumulator entry '{key}': shape {np.shape(acc[key])} vs {value.shape}")
    return {key: acc[key] + value for key, value in batch.items()}


def save(path, acc):
    with atomic_open(path, "wb") as f:
        np.savez(f, format=np.array(FORMAT), **acc)


def load(path):
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable accumulator ({e})") from None
    if str(arrays.pop("format", "")) != FORMAT:
        raise ValueError(f"{path}: not an accumulator written by dcase_tk.gmm.accumulators.save")
    return arrays


def sum_files(paths):
    """The sum of the accumulators in ``paths`` (the outputs of one EM iteration's jobs)."""
    if not paths:
        raise ValueError("no accumulator files to sum")
    acc = None
    for path in paths:
        try:
            acc = add(acc, load(path))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
    return acc
