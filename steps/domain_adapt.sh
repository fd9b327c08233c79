#!/usr/bin/env bash
# Domain adaptation of a dump dir's features across datasets (Liaqat et al., DCASE 2018 Task 3):
# per-dataset mean/variance normalisation or CORAL towards --target, with the statistics of each
# dataset estimated on <in-dump-dir> plus the --stats_from dump dirs (labels are never read).
# Writes <out-dump-dir>: the same data dir, new feats.scp + data/feats.ark, domain_stats.npz.
# See python -m dcase_tk.bin.domain_adapt --help.
set -euo pipefail
method=dataset_norm
target=
reg=1.0
center=false
stats_from=
force=false
help_message="Usage: $0 [options] <in-dump-dir> <out-dump-dir>
  --method dataset_norm|coral   --target DATASET (coral)   --reg 1.0   --center true|false
  --stats_from \"DIR ...\"        more dump dirs to estimate the statistics on (space-separated)
  e.g. $0 --method coral --target ff1010bird --stats_from dump/3/logmel80/fold1_test \\
         dump/3/logmel80/fold1_tr dump/3/logmel80_coral/fold1_tr"
. parse_options.sh
if [ $# -ne 2 ]; then echo "$help_message" >&2; exit 1; fi
in=$1
out=$2

opts=(--method "$method" --reg "$reg" --center "$center")
if [ -n "$target" ]; then opts+=(--target "$target"); fi
# the features and datasets, not the whole dirs: a cmvn.ark added to a dir later changes nothing
inputs=("$in/feats.scp" "$in/utt2dataset")
for d in $stats_from; do
  opts+=(--stats_from "$d")
  inputs+=("$d/feats.scp" "$d/utt2dataset")
done
extra="${opts[*]}"
if python -m dcase_tk.bin.stamp check "$out" --force "$force" --extra="$extra" "${inputs[@]}"; then
  exit 0
fi
python -m dcase_tk.bin.domain_adapt "${opts[@]}" "$in" "$out"
python -m dcase_tk.bin.stamp done "$out" --extra="$extra" "${inputs[@]}"
