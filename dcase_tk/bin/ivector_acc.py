"""E-step statistics of the i-vector extractor on one parallel job's utterances (Kaldi's
``ivector-extractor-acc-stats``); ``ivector_est`` sums the jobs'. The Baum-Welch statistics are
computed from the features with the UBM on the fly, as Kaldi's training script does.

  python -m dcase_tk.bin.ivector_acc --config exp/x/extractor/config.yaml exp/x/extractor/final.ubm.npz \\
      exp/x/extractor/3.npz dump/x/train_tr/split4/2 exp/x/extractor/acc.3.2.npz
"""
from dcase_tk import cli
from dcase_tk.gmm import accumulators
from dcase_tk.gmm.ivector_io import parse


def main(argv=None):
    args, extractor, stats = parse(__doc__, "acc", argv)
    acc = None
    for _, N, F in stats():
        acc = extractor.accumulate(N, F, acc)
    accumulators.save(args.acc, acc)


if __name__ == "__main__":
    cli.run(main)
