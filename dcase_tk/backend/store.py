"""The embeddings a back end reads: ``<emb-dir>/ivector.scp`` (i-vectors, written by
steps/extract_ivectors.sh) or ``<emb-dir>/xvector.scp`` (network embeddings, written by
steps/infer.sh --embeddings true), Kaldi vectors in an ark (DESIGN.md §5). A trained back end's
own files are pipeline.py's."""
import os

from dcase_tk.errors import UserError
from dcase_tk.io.ark import read_vectors

SCPS = {"ivector.scp": "steps/extract_ivectors.sh", "xvector.scp": "steps/infer.sh --embeddings true"}


class EmbeddingsError(UserError, ValueError):
    """An embedding dir without exactly one of the scp files of ``SCPS``."""


def embeddings_scp(emb_dir):
    """The path of the one embedding scp in ``emb_dir``; EmbeddingsError if none or both."""
    found = [name for name in SCPS if os.path.isfile(os.path.join(emb_dir, name))]
    if not found:
        writers = " or ".join(f"{name} ({step})" for name, step in SCPS.items())
        raise EmbeddingsError(f"{emb_dir}: no embeddings; it needs {writers}: run that step first")
    if len(found) > 1:
        raise EmbeddingsError(f"{emb_dir}: both {' and '.join(found)}; an embedding dir holds one "
                              "kind of embedding: remove the stale one or use separate dirs")
    return os.path.join(emb_dir, found[0])


def read_embeddings(emb_dir):
    """``(utts, (N, D) float64)`` from the embedding scp of ``emb_dir``."""
    return read_vectors(embeddings_scp(emb_dir))
