"""Print the embedding scp of an embedding dir (``ivector.scp`` or ``xvector.scp``, exactly one
of them), or say which step writes it: what the back-end steps stamp.

  python -m dcase_tk.bin.embeddings_scp exp/1a/ivector_mfcc60/ivectors_test
"""
from dcase_tk import cli
from dcase_tk.backend.store import embeddings_scp


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("emb_dir")
    args = cli.parse(p, argv)
    print(embeddings_scp(args.emb_dir))


if __name__ == "__main__":
    cli.run(main)
