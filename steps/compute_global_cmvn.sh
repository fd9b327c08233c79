#!/usr/bin/env bash
# Global mean/variance statistics of a (training) dump dir -> <dump-dir>/cmvn.ark, in the format
# of Kaldi's compute-cmvn-stats. Compute them on the training set only.
set -euo pipefail
force=false
help_message="Usage: $0 [options] <train-dump-dir>   (writes <train-dump-dir>/cmvn.ark)"
. parse_options.sh
if [ $# -ne 1 ]; then echo "$help_message" >&2; exit 1; fi
dir=$1

if python -m dcase_tk.bin.stamp check "$dir" --name .done.cmvn --force "$force" "$dir/feats.scp"; then
  exit 0
fi
python -m dcase_tk.bin.compute_global_cmvn "$dir/feats.scp" "$dir/cmvn.ark"
python -m dcase_tk.bin.stamp done "$dir" --name .done.cmvn "$dir/feats.scp"
