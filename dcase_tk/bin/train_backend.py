"""Train the classical back end of an embedding system on training-set embeddings.

  python -m dcase_tk.bin.train_backend --config conf/systems/xvector.yaml \\
      exp/1a/xvector/train_tr data/1a/train_tr exp/1a/xvector/backend

The ``backend:`` section of the system config gives the pipeline (dcase_tk/backend/pipeline.py,
docs/backends.md), e.g.

  backend:
    transforms: [center, lda, length_norm]
    lda: {dims: 100, reg: 0.001, between_reg: 0.01}
    classifier: {name: cosine, scale: 10.0}

Embeddings come from ``<emb-dir>/ivector.scp`` or ``<emb-dir>/xvector.scp``, labels from
``<data-dir>/utt2label`` in ``<data-dir>/classes.txt`` order. Writes ``backend.npz``,
``backend.yaml`` (the resolved section) and ``classes.txt`` into the back-end dir.
"""
import os

import numpy as np

from dcase_tk import cli
from dcase_tk.backend.pipeline import Pipeline
from dcase_tk.backend.store import read_embeddings
from dcase_tk.io.table import read_table
from dcase_tk.train.data import read_classes


def training_labels(data_dir, utts, classes):
    """Class indices of ``utts`` from ``<data_dir>/utt2label``."""
    index = {c: i for i, c in enumerate(classes)}
    utt2label = read_table(os.path.join(data_dir, "utt2label"))
    missing = [u for u in utts if utt2label.get(u) not in index]
    if missing:
        raise cli.ToolError(f"{data_dir}/utt2label: no known label for {len(missing)} "
                            f"embedding(s), e.g. '{missing[0]}'")
    return np.array([index[utt2label[u]] for u in utts])


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("emb_dir")
    p.add_argument("data_dir")
    p.add_argument("out_dir")
    args, system = cli.parse(p, argv, with_config=True)
    if not system.get("backend"):
        raise cli.ToolError(f"{args.config or 'the config'}: no backend: section; an embedding system needs one "
                            "(see docs/backends.md)")
    try:
        pipeline = Pipeline.from_config(system["backend"])
    except ValueError as e:
        raise cli.ToolError(f"{args.config or 'the config'}: {e}") from None
    classes = read_classes(args.data_dir)
    utts, X = read_embeddings(args.emb_dir)
    labels = training_labels(args.data_dir, utts, classes)
    try:
        pipeline.fit(X, labels, len(classes))
    except ValueError as e:
        raise cli.ToolError(f"back end on {args.emb_dir}: {e}") from None
    accuracy = np.mean(pipeline.posteriors(X).argmax(axis=1) == labels)
    cli.log.info("back end %s: accuracy on its %d training embeddings %.3f",
                 pipeline.classifier.name, len(utts), accuracy)
    pipeline.save(args.out_dir, classes)


if __name__ == "__main__":
    cli.run(main)
