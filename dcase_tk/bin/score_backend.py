"""Score embeddings with a trained back end: class posteriors and decisions.

  python -m dcase_tk.bin.score_backend exp/1a/xvector/backend exp/1a/xvector/test

Reads ``<dir>/xvector.scp`` and writes ``score`` (softmax of ``scale`` x cosine to each class
mean, in classes.txt order), ``decision`` and ``classes.txt`` into the same dir, the files
``score_classification`` reads.
"""
from dcase_tk import cli
from dcase_tk.backend.cosine import posteriors
from dcase_tk.backend.store import load_dir, read_embeddings
from dcase_tk.io.scores import write_decode_dir


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("backend_dir")
    p.add_argument("emb_dir")
    args = cli.parse(p, argv)
    backend, options, classes = load_dir(args.backend_dir)
    utts, X = read_embeddings(args.emb_dir)
    write_decode_dir(args.emb_dir, utts, posteriors(backend.score(X), options["scale"]), classes)


if __name__ == "__main__":
    cli.run(main)
