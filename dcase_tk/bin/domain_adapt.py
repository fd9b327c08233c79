"""Domain adaptation of a dump dir's features across datasets (Liaqat et al., DCASE 2018 Task 3).

  python -m dcase_tk.bin.domain_adapt --method dataset_norm \\
      --stats_from dump/3/logmel80/fold1_test dump/3/logmel80/fold1_tr dump/3/logmel80_dnorm/fold1_tr
  python -m dcase_tk.bin.domain_adapt --method coral --target ff1010bird \\
      --stats_from dump/3/logmel80/fold1_test dump/3/logmel80/fold1_tr dump/3/logmel80_coral/fold1_tr

--method dataset_norm: each utterance is standardised (mean 0, standard deviation 1 in every
  dimension) with the statistics of the frames of its own dataset (utt2dataset).
--method coral: each utterance's frames (rows of A) become A' = A (C_s + reg I)^(-1/2)
  (C_t + reg I)^(1/2), C_s the covariance of the frames of its dataset, C_t that of --target
  (P4.1 uses Warblr10k; in the leave-one-dataset-out folds the natural target is the held-out
  test dataset). As in the paper there are no mean terms; --center true subtracts the source
  mean first and adds the target mean after, so that mean and covariance both match the target.
  The target dataset's own utterances are left (nearly) unchanged.

Statistics (per dataset: frame count, mean, covariance) are estimated on the frames of
<in-dump-dir> plus those of every --stats_from dump dir (repeatable). An utterance id already
counted in an earlier dir is not counted again, so giving every part of a fold the same
--stats_from dirs (tr, cv and test) transforms all of them with identical statistics. No label
is read: the statistics of the held-out test dataset come from its own unlabelled frames, which
is transductive (unsupervised) adaptation, legitimate in the leave-one-dataset-out protocol.

Writes <out-dump-dir>: every data-dir file of <in-dump-dir> (utterances and their order
unchanged), feats.scp pointing into <out-dump-dir>/data/feats.ark, and domain_stats.npz
(datasets, count, mean, cov per dataset; the options; the affine map x' = (x - sub) @ matrix +
add of each dataset). The directory is built under a temporary name and renamed into place: a
failure leaves no output directory.
"""
import logging
import os

import kaldiio
import numpy as np

from dcase_tk import cli
from dcase_tk.data import datadir
from dcase_tk.features import domain
from dcase_tk.io.ark import ark_scp_writer
from dcase_tk.io.table import read_table, write_table

log = logging.getLogger("dcase_tk.domain_adapt")

UTT2DATASET = "utt2dataset"
DATA_PREP = "stage 1 (data prep: local/dcase2018_task3/prepare_data.py)"


def dump_tables(directory):
    """``(feats, utt2dataset)`` of a dump dir: ``{utt: ark:offset}``, ``{utt: dataset}``."""
    feats_path = os.path.join(directory, datadir.FEATS_SCP)
    dataset_path = os.path.join(directory, UTT2DATASET)
    if not os.path.isdir(directory):
        raise cli.ToolError(f"{directory}: no such dump directory")
    if not os.path.isfile(feats_path):
        raise cli.ToolError(f"{feats_path} is missing: not a dump dir (written by {datadir.STAGE_FEATURES})")
    if not os.path.isfile(dataset_path):
        raise cli.ToolError(
            f"{dataset_path} is missing: the domain transforms need the dataset of every utterance. "
            f"It is written by {DATA_PREP} and copied into the dump dir by steps/make_feats.sh; "
            f"re-run them for {directory}")
    feats, utt2dataset = read_table(feats_path), read_table(dataset_path)
    lacking = [u for u in feats if u not in utt2dataset]
    if lacking:
        raise cli.ToolError(f"{dataset_path} has no dataset for {len(lacking)} utterances of feats.scp "
                            f"(e.g. '{lacking[0]}'); run utils/validate_data_dir.sh {directory}")
    return feats, utt2dataset


def accumulate(args, directories):
    """Per-dataset statistics of the frames of ``directories``, each utterance id counted once."""
    acc, seen = domain.StatsAccumulator(), set()
    for directory in directories:
        feats, utt2dataset = dump_tables(directory)
        utts = [u for u in feats if u not in seen]
        if len(utts) < len(feats):
            log.info("%s: %d of its utterances already counted", directory, len(feats) - len(utts))
        try:
            for utt in cli.progress(args, f"stats {directory}")(utts):
                acc.add(utt2dataset[utt], kaldiio.load_mat(feats[utt]))
        except ValueError as e:
            raise cli.ToolError(f"{directory}/feats.scp: {e}") from None
        seen.update(utts)
    return acc.result()


def save_stats(path, stats, affines, args):
    datasets = list(stats)
    np.savez(path, datasets=np.array(datasets), count=np.array([stats[d].count for d in datasets]),
             mean=np.stack([stats[d].mean for d in datasets]), cov=np.stack([stats[d].cov for d in datasets]),
             method=args.method, target=args.target or "", reg=args.reg, center=args.center == "true",
             sub=np.stack([affines[d].sub for d in datasets]),
             matrix=np.stack([affines[d].matrix for d in datasets]),
             add=np.stack([affines[d].add for d in datasets]))


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--method", required=True, choices=domain.METHODS)
    p.add_argument("--target", help="CORAL target dataset (a value of utt2dataset); coral only")
    p.add_argument("--reg", type=float, default=1.0, help="CORAL: added to the covariances' diagonal")
    p.add_argument("--center", default="false", choices=["true", "false"],
                   help="CORAL: also move the source mean to the target mean (the paper: false)")
    p.add_argument("--stats_from", "--stats-from", action="append", default=[], metavar="DIR",
                   help="also estimate the statistics on this dump dir (repeatable)")
    p.add_argument("in_dir", metavar="in-dump-dir")
    p.add_argument("out_dir", metavar="out-dump-dir")
    args = cli.parse(p, argv)
    if args.method == "coral" and not args.target:
        raise cli.ToolError("--method coral needs --target DATASET")
    if args.method != "coral" and args.target:
        raise cli.ToolError(f"--target is for --method coral only, not {args.method}")
    if args.reg < 0:
        raise cli.ToolError(f"--reg must be >= 0, got {args.reg}")
    if os.path.realpath(args.out_dir) == os.path.realpath(args.in_dir):
        raise cli.ToolError(f"the output dir must differ from the input dir {args.in_dir}")

    data = datadir.load(args.in_dir)
    feats, utt2dataset = dump_tables(args.in_dir)
    directories = [args.in_dir] + args.stats_from
    stats = accumulate(args, directories)
    for name, s in stats.items():
        log.info("dataset %s: %d frames", name, s.count)
    try:
        affines = domain.transforms(stats, args.method, args.target, args.reg, args.center == "true")
    except ValueError as e:
        raise cli.ToolError(f"{e} (in {', '.join(directories)})") from None
    except np.linalg.LinAlgError:
        raise cli.ToolError(f"a dataset's frame covariance is singular (a constant feature dimension?), "
                            f"so (C + reg I)^(-1/2) does not exist with --reg {args.reg}; use --reg > 0 "
                            f"(the paper's 1)") from None

    final_ark = os.path.join(os.path.abspath(args.out_dir), "data", "feats.ark")

    def write(tmp):
        ark = os.path.join(tmp, "data", "feats.ark")
        with ark_scp_writer(ark) as writer:
            for utt in cli.progress(args, args.method)(list(feats)):
                frames = kaldiio.load_mat(feats[utt])
                affine = affines.get(utt2dataset[utt])      # None only for a dataset without frames
                writer(utt, frames if affine is None else domain.apply(frames, affine))
        # the scp names the temporary ark: point it at the ark's final place
        written = read_table(os.path.join(tmp, "data", "feats.scp"))
        scp = {utt: f"{final_ark}:{value.rpartition(':')[2]}" for utt, value in written.items()}
        write_table(os.path.join(tmp, "data", "feats.scp"), scp)
        data.tables[datadir.FEATS_SCP] = {utt: scp[utt] for utt in feats}
        data.save(tmp)
        save_stats(os.path.join(tmp, "domain_stats.npz"), stats, affines, args)

    datadir.build_dir(args.out_dir, write)
    log.info("%s: %d utterances, %s%s", args.out_dir, len(feats), args.method,
             f" to {args.target} (reg {args.reg:g}, center {args.center})" if args.method == "coral" else "")


if __name__ == "__main__":
    cli.run(main)
