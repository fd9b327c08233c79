"""The files of an embedding system's back end: the embeddings it reads (``<dir>/xvector.scp``)
and a trained back-end dir: ``backend.npz`` (the fitted pipeline, plain numpy), ``backend.yaml``
(its options, with the posterior ``scale``) and ``classes.txt`` (the score columns)."""
import os

from dcase_tk import config as cfg
from dcase_tk.backend.cosine import Backend
from dcase_tk.io.ark import read_vectors
from dcase_tk.io.table import read_list, write_list


def read_embeddings(emb_dir):
    """``(utts, (N, D) float64)`` from ``<emb_dir>/xvector.scp``."""
    scp = os.path.join(emb_dir, "xvector.scp")
    if not os.path.isfile(scp):
        raise FileNotFoundError(f"{scp} not found: run steps/infer.sh --embeddings true first")
    return read_vectors(scp)


def save_dir(directory, backend, options, classes):
    os.makedirs(directory, exist_ok=True)
    backend.save(os.path.join(directory, "backend.npz"))
    write_list(os.path.join(directory, "classes.txt"), classes)
    cfg.save(options, os.path.join(directory, "backend.yaml"))


def load_dir(directory):
    """``(Backend, options, classes)``."""
    return (Backend.load(os.path.join(directory, "backend.npz")),
            cfg.load_yaml(os.path.join(directory, "backend.yaml")),
            read_list(os.path.join(directory, "classes.txt")))
