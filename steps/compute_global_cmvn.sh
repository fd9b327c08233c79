#!/usr/bin/env bash
# Global mean/variance statistics of a (training) dump dir -> <dump-dir>/cmvn.ark, in the format
# of Kaldi's compute-cmvn-stats. Compute them on the training set only.
set -euo pipefail
force=false
help_message="Usage: $0 [options] <train-dump-dir>   (writes <train-dump-dir>/cmvn.ark)"
. parse_options.sh
if [ $# -ne 1 ]; then echo "$help_message" >&2; exit 1; fi
dir=$1

# The inputs are feats.scp and the arks it names (by size and mtime): re-extracted features can
# leave feats.scp word for word the same. A dump dir rebuilt without its cmvn.ark recomputes it.
mapfile -t arks < <(awk '{sub(/:[0-9]+$/, "", $2); print $2}' "$dir/feats.scp" | sort -u)
if [ -f "$dir/cmvn.ark" ] && python -m dcase_tk.bin.stamp check "$dir" --name .done.cmvn --force "$force" \
    "$dir/feats.scp" "${arks[@]}"; then
  exit 0
fi
python -m dcase_tk.bin.compute_global_cmvn "$dir/feats.scp" "$dir/cmvn.ark"
python -m dcase_tk.bin.stamp done "$dir" --name .done.cmvn "$dir/feats.scp" "${arks[@]}"
