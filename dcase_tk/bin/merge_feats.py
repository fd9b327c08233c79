"""Merge the per-job outputs of compute_feats into a dump dir: the data dir plus features.

  python -m dcase_tk.bin.merge_feats --nj 4 --config conf/feats/logmel40_48k.yaml \\
      data/1a/train dump/1a/logmel40_48k/train

The dump dir is a complete data dir (every file of the source, restricted to the utterances
with features) plus ``feats.scp``, ``utt2num_frames``, ``frame_shift`` (seconds), ``feats.yaml``
(the resolved feature config) and, if any audio was unusable, ``bad_utts`` (``<utt> <reason>``).
Fails, writing nothing, when more than ``--max_bad_fraction`` of the utterances are unusable.
"""
import logging
import os

from dcase_tk import cli, config as cfg
from dcase_tk.data import datadir
from dcase_tk.features.config import FeatureConfig
from dcase_tk.io.table import read_table

log = logging.getLogger("dcase_tk.merge_feats")


def read_jobs(dump_dir, nj):
    feats, num_frames, bad = {}, {}, {}
    for job in range(1, nj + 1):
        stem = os.path.join(dump_dir, "data", f"raw_feats.{job}")
        for suffix in (".scp", ".num_frames", ".bad"):
            if not os.path.isfile(stem + suffix):
                raise cli.ToolError(f"{stem}{suffix} is missing: job {job} of the feature step did "
                                    f"not finish; see {dump_dir}/log/make_feats.{job}.log")
        feats.update(read_table(stem + ".scp"))
        num_frames.update(read_table(stem + ".num_frames"))
        bad.update(read_table(stem + ".bad"))
    return feats, num_frames, bad


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("--nj", type=int, required=True)
    p.add_argument("--max_bad_fraction", type=float, default=0.01)
    p.add_argument("data_dir")
    p.add_argument("dump_dir")
    args, resolved = cli.parse(p, argv, with_config=True)
    config = FeatureConfig.from_dict(resolved)
    source = datadir.load(args.data_dir)
    feats, num_frames, bad = read_jobs(args.dump_dir, args.nj)
    utts = source.utts
    if len(bad) > args.max_bad_fraction * len(utts):
        shown = "\n".join(f"  {u}: {r}" for u, r in list(sorted(bad.items()))[:10])
        raise cli.ToolError(
            f"{len(bad)} of {len(utts)} utterances of {args.data_dir} have unusable audio "
            f"(more than --max_bad_fraction {args.max_bad_fraction}); first ones:\n{shown}\n"
            f"all reasons are in {args.dump_dir}/data/raw_feats.*.bad")
    unaccounted = [u for u in utts if u not in feats and u not in bad]
    if unaccounted:
        raise cli.ToolError(f"{len(unaccounted)} utterances of {args.data_dir} are in no job's "
                            f"output (e.g. {unaccounted[:3]}); was the split made with another --nj?")
    dump = source.subset([u for u in utts if u in feats])
    dump.tables[datadir.FEATS_SCP] = {u: feats[u] for u in dump.utts}
    dump.tables["utt2num_frames"] = {u: num_frames[u] for u in dump.utts}
    dump.extras["frame_shift"] = f"{config.hop_samples / config.sample_rate:g}\n".encode()
    dump.extras["feats.yaml"] = cfg.dump(resolved).encode()
    if bad:
        dump.extras["bad_utts"] = "".join(f"{u} {r}\n" for u, r in sorted(bad.items())).encode()
        log.warning("%d unusable utterances left out; see %s/bad_utts", len(bad), args.dump_dir)
    dump.save(args.dump_dir)
    log.info("%s: %d utterances, %d frames", args.dump_dir, len(dump.utts),
             sum(int(n) for n in dump.tables["utt2num_frames"].values()))


if __name__ == "__main__":
    cli.run(main)
