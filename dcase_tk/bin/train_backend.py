"""Train the classical back end of an embedding system on training-set embeddings.

  python -m dcase_tk.bin.train_backend --config conf/systems/xvector.yaml \\
      exp/1a/xvector/train_tr data/1a/train_tr exp/1a/xvector/backend

The ``backend:`` section of the system config gives the pipeline (see
dcase_tk/backend/cosine.py): ``lda`` (true/false), ``lda_dims``, ``reg`` and ``between_reg``
(regularisation of the within- and between-class scatter, Zeinali et al.'s alpha and beta) and
``scale`` (the softmax scale turning cosine scores into posteriors). Labels come from
``<data-dir>/utt2label`` in ``classes.txt`` order. Writes ``backend.npz``, ``classes.txt`` and
``backend.yaml`` (the resolved section).
"""
import os

import numpy as np

from dcase_tk import cli
from dcase_tk.backend.cosine import Backend
from dcase_tk.backend.store import read_embeddings, save_dir
from dcase_tk.io.table import read_table
from dcase_tk.train.data import read_classes

OPTIONS = {"lda": True, "lda_dims": None, "reg": 1e-3, "between_reg": 1e-2, "scale": 10.0}


def backend_options(section):
    unknown = sorted(set(section) - set(OPTIONS))
    if unknown:
        raise cli.ToolError(f"unknown backend option(s) {unknown}; known: {sorted(OPTIONS)}")
    return {**OPTIONS, **section}


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("emb_dir")
    p.add_argument("data_dir")
    p.add_argument("out_dir")
    args, system = cli.parse(p, argv, with_config=True)
    options = backend_options(system.get("backend") or {})
    classes = read_classes(args.data_dir)
    index = {c: i for i, c in enumerate(classes)}
    utt2label = read_table(os.path.join(args.data_dir, "utt2label"))
    utts, X = read_embeddings(args.emb_dir)
    missing = [u for u in utts if utt2label.get(u) not in index]
    if missing:
        raise cli.ToolError(f"{args.data_dir}/utt2label: no known label for {len(missing)} "
                            f"embedding(s), e.g. '{missing[0]}'")
    labels = np.array([index[utt2label[u]] for u in utts])
    backend = Backend(lda=options["lda"], lda_dims=options["lda_dims"], reg=options["reg"],
                      between_reg=options["between_reg"])
    try:
        backend.fit(X, labels, len(classes))
    except ValueError as e:
        raise cli.ToolError(f"back end on {args.emb_dir}: {e}") from None
    save_dir(args.out_dir, backend, options, classes)


if __name__ == "__main__":
    cli.run(main)
