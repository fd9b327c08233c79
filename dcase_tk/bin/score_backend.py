"""Score embeddings with a trained back end: class posteriors and decisions.

  python -m dcase_tk.bin.score_backend exp/1a/xvector/backend exp/1a/xvector/test exp/1a/xvector/test

Reads ``<emb-dir>/ivector.scp`` or ``<emb-dir>/xvector.scp`` and writes ``score`` (the back
end's class posteriors, in classes.txt order), ``decision`` and ``classes.txt`` into the decode
dir ``<out-dir>`` (which may be the embedding dir itself), the files ``score_classification``
reads.
"""
from dcase_tk import cli
from dcase_tk.backend.pipeline import Pipeline
from dcase_tk.backend.store import read_embeddings
from dcase_tk.io.scores import write_decode_dir


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("backend_dir")
    p.add_argument("emb_dir")
    p.add_argument("out_dir")
    args = cli.parse(p, argv)
    try:
        pipeline, classes = Pipeline.load(args.backend_dir)
        utts, X = read_embeddings(args.emb_dir)
        posteriors = pipeline.posteriors(X)
    except ValueError as e:
        raise cli.ToolError(str(e)) from None
    write_decode_dir(args.out_dir, utts, posteriors, classes)


if __name__ == "__main__":
    cli.run(main)
