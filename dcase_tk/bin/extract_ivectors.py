"""Extract i-vectors (posterior means of the total-variability factors) of the utterances of a
dump dir into a Kaldi ark/scp of vectors (Kaldi's ``ivector-extract``).

  python -m dcase_tk.bin.extract_ivectors --config exp/x/extractor/config.yaml exp/x/extractor/final.ubm.npz \\
      exp/x/extractor/final.npz dump/x/test/split4/1 exp/x/ivectors_test/ivector.1.ark
"""
from dcase_tk import cli
from dcase_tk.gmm.ivector_io import parse
from dcase_tk.io.ark import ark_scp_writer


def main(argv=None):
    args, extractor, stats = parse(__doc__, "ark", argv)
    with ark_scp_writer(args.ark) as write:
        for utts, N, F in stats():
            for utt, vector in zip(utts, extractor.extract(N, F).astype("float32")):
                write(utt, vector)


if __name__ == "__main__":
    cli.run(main)
