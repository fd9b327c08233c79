#!/usr/bin/env bash
# Compute features for a data dir in nj parallel jobs through $cmd; the dump dir that results is
# the data dir (restricted to utterances with usable audio) plus feats.scp, utt2num_frames,
# frame_shift and the resolved feature config. A killed run resumes: finished jobs are kept.
set -euo pipefail
nj=4
cmd=run.py
feat_config=
max_bad_fraction=0.01
force=false
help_message="Usage: $0 [options] --feat_config <feats.yaml> <data-dir> <dump-dir>
  e.g. $0 --nj 4 --feat_config conf/feats/logmel40_48k.yaml data/1a/train dump/1a/logmel40_48k/train"
. parse_options.sh
if [ $# -ne 2 ] || [ -z "$feat_config" ]; then echo "$help_message" >&2; exit 1; fi
data=$1
dir=$2

if python -m dcase_tk.bin.stamp check "$dir" --force "$force" "$data" "$feat_config"; then exit 0; fi
validate_data_dir.sh "$data" >/dev/null
hash=$(python -m dcase_tk.bin.stamp hash "$dir" "$data" "$feat_config")
mkdir -p "$dir/log" "$dir/data"
split_data.sh "$data" "$nj"
echo "$0: computing features for $data in $nj jobs (logs: $dir/log/make_feats.*.log)"
# --rerun-failed: jobs whose log shows success for this same command (same inputs hash) are kept
$cmd --rerun-failed true JOB=1:"$nj" "$dir/log/make_feats.JOB.log" \
  python -m dcase_tk.bin.compute_feats --config "$feat_config" --inputs_hash "$hash" \
    "$data/split$nj/JOB" "$dir/data/raw_feats.JOB.ark"
python -m dcase_tk.bin.merge_feats --nj "$nj" --max_bad_fraction "$max_bad_fraction" \
  --config "$feat_config" "$data" "$dir"
validate_data_dir.sh "$dir"
python -m dcase_tk.bin.stamp done "$dir" "$data" "$feat_config"
