"""Score embeddings with a trained back end: class posteriors and decisions.

  python -m dcase_tk.bin.score_backend exp/1a/xvector/backend exp/1a/xvector/test

Reads ``<dir>/xvector.scp`` and writes ``score`` (softmax of ``scale`` x cosine to each class
mean, in classes.txt order), ``decision`` and ``classes.txt`` into the same dir, the files
``score_classification`` reads.
"""
import os

from dcase_tk import cli
from dcase_tk.backend.cosine import posteriors
from dcase_tk.bin.train_backend import load, read_embeddings
from dcase_tk.io.scores import write_scores
from dcase_tk.io.table import write_list, write_table


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("backend_dir")
    p.add_argument("emb_dir")
    args = cli.parse(p, argv)
    backend, options, classes = load(args.backend_dir)
    utts, X = read_embeddings(args.emb_dir)
    probs = posteriors(backend.score(X), options["scale"])
    write_list(os.path.join(args.emb_dir, "classes.txt"), classes)
    write_scores(os.path.join(args.emb_dir, "score"), utts, probs)
    write_table(os.path.join(args.emb_dir, "decision"),
                {u: classes[int(i)] for u, i in zip(utts, probs.argmax(axis=1))})


if __name__ == "__main__":
    cli.run(main)
