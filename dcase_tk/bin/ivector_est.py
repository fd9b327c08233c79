"""One M-step of the i-vector extractor (T and, by minimum divergence, the prior) from the summed
statistics of the parallel jobs (Kaldi's ``ivector-extractor-sum-accs`` + ``ivector-extractor-est``).

  python -m dcase_tk.bin.ivector_est exp/x/extractor/3.npz exp/x/extractor/4.npz exp/x/extractor/acc.3.*.npz

Logs the objective per frame (the log-likelihood of the statistics under the old model, up to a
constant); EM never lowers it.
"""
import logging

from dcase_tk import cli
from dcase_tk.gmm import accumulators
from dcase_tk.gmm.extractor import IvectorExtractor

log = logging.getLogger("dcase_tk.ivector_est")


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("extractor")
    p.add_argument("out")
    p.add_argument("accs", nargs="+")
    args = cli.parse(p, argv)
    try:
        extractor = IvectorExtractor.load(args.extractor)
        acc = accumulators.sum_files(args.accs)
        new = extractor.update(acc)
    except ValueError as e:
        raise cli.ToolError(str(e)) from None
    log.info("%s: objective per frame %.5f over %d utterances, %.0f frames (%d jobs)", args.extractor,
             float(acc["objective"]) / float(acc["frames"]), int(acc["utts"]), float(acc["frames"]), len(args.accs))
    new.save(args.out)


if __name__ == "__main__":
    cli.run(main)
