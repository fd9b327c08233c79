"""``score`` files: ``<utt> <p_1> ... <p_C>`` in classes.txt order, one utterance a line, and the
decode dirs that hold them."""
import os

import numpy as np

from dcase_tk.io.atomic import atomic_open
from dcase_tk.io.table import TableError, read_lines, read_list, sort_key, write_list, write_table


def write_scores(path, utts, scores):
    scores = np.asarray(scores)
    with atomic_open(path) as f:
        for i in sorted(range(len(utts)), key=lambda i: sort_key(utts[i])):
            f.write(utts[i] + " " + " ".join(f"{v:.6f}" for v in scores[i]) + "\n")


def write_decode_dir(out_dir, utts, probs, classes):
    """What scoring reads from a decode dir: ``score``, ``decision`` (the most probable class)
    and ``classes.txt``."""
    os.makedirs(out_dir, exist_ok=True)
    write_list(os.path.join(out_dir, "classes.txt"), classes)
    write_scores(os.path.join(out_dir, "score"), utts, probs)
    write_table(os.path.join(out_dir, "decision"),
                {u: classes[int(i)] for u, i in zip(utts, np.asarray(probs).argmax(axis=1))})


def read_scores(path, n_classes=None):
    """``(utts, (N, C) float array)``; checks every line has the same number of columns."""
    utts, rows = [], []
    for number, utt, rest in read_lines(path):
        try:
            row = [float(v) for v in rest.split()]
        except ValueError:
            raise TableError(f"{path}:{number}: non-numeric score for '{utt}'") from None
        expected = n_classes or (len(rows[0]) if rows else len(row))
        if len(row) != expected:
            raise TableError(f"{path}:{number}: {len(row)} scores for '{utt}', expected {expected} "
                             "(one per line of classes.txt)")
        utts.append(utt)
        rows.append(row)
    return utts, np.array(rows, dtype=np.float64).reshape(len(rows), -1)


def read_decode_dir(decode_dir):
    """``(classes, utts, (N, C) scores)`` of a decode dir's ``classes.txt`` and ``score``; a
    repeated utterance is an error."""
    classes = read_list(os.path.join(decode_dir, "classes.txt"))
    path = os.path.join(decode_dir, "score")
    utts, scores = read_scores(path, n_classes=len(classes))
    if len(set(utts)) < len(utts):
        seen = set()
        for number, utt, _ in read_lines(path):
            if utt in seen:
                raise TableError(f"{path}:{number}: a second score row for '{utt}'; keep one row "
                                 "per utterance")
            seen.add(utt)
    return classes, utts, scores


def read_aligned_decode_dirs(decode_dirs):
    """``(classes, utts, (K, N, C) scores)`` of several decode dirs of the same clips (fold
    models, fusion members), rows in the first dir's order; TableError naming the dir whose
    classes or clips differ."""
    classes, utts, first = read_decode_dir(decode_dirs[0])
    stack = [first]
    for d in decode_dirs[1:]:
        other_classes, other_utts, scores = read_decode_dir(d)
        if other_classes != classes:
            raise TableError(f"{d}/classes.txt differs from {decode_dirs[0]}/classes.txt; combined "
                             "decode dirs must score the same classes in the same order")
        missing, extra = sorted(set(utts) - set(other_utts)), sorted(set(other_utts) - set(utts))
        if missing or extra:
            raise TableError(f"{d}/score and {decode_dirs[0]}/score list different clips "
                             f"({len(missing)} missing, e.g. {missing[:3]}; {len(extra)} extra, e.g. "
                             f"{extra[:3]}); decode the same data dir in each")
        row = {u: i for i, u in enumerate(other_utts)}
        stack.append(scores[[row[u] for u in utts]])
    return classes, utts, np.stack(stack)
