"""Models saved as ``.npz`` files of plain arrays, a format tag first: nothing in them runs code
when loaded (``allow_pickle=False``)."""
import numpy as np
import torch

from dcase_tk.io.atomic import atomic_open


def load_npz(path, fmt, keys):
    """The arrays of a model file written with format tag ``fmt``; ValueError for another file."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable .npz model file ({e})") from None
    if str(arrays.get("format")) != fmt or any(key not in arrays for key in keys):
        raise ValueError(f"{path}: not a {fmt.split('/')[0]} model file "
                         f"(format tag {arrays.get('format')!s}, arrays {sorted(arrays)})")
    return arrays


class NpzModel:
    """``save``/``load`` for a model whose constructor takes the tensors named in ``ARRAYS`` (in
    that order, kept as attributes of the same names) and ``device``; ``FORMAT`` tags the file."""

    FORMAT = ""
    ARRAYS = ()

    def store(self, values, device):
        """Keep ``values`` (one per name of ``ARRAYS``) as float64 tensors on ``device``."""
        for name, value in zip(self.ARRAYS, values):
            setattr(self, name, torch.as_tensor(value, dtype=torch.float64, device=device))

    def save(self, path):
        with atomic_open(path, "wb") as f:
            np.savez(f, format=np.array(self.FORMAT),
                     **{name: getattr(self, name).cpu().numpy() for name in self.ARRAYS})

    @classmethod
    def load(cls, path, device="cpu"):
        arrays = load_npz(path, cls.FORMAT, cls.ARRAYS)
        return cls(*(arrays[name] for name in cls.ARRAYS), device=device)
