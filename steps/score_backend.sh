#!/usr/bin/env bash
# Class posteriors of embeddings from a trained back end -> <embedding-dir>/{score,decision,classes.txt}.
set -euo pipefail
force=false
help_message="Usage: $0 [options] <backend-dir> <embedding-dir>
  e.g. $0 exp/1a/xvector/backend exp/1a/xvector/test"
. parse_options.sh
if [ $# -ne 2 ]; then echo "$help_message" >&2; exit 1; fi
backend=$1
dir=$2

inputs=("$backend/backend.npz" "$backend/backend.yaml" "$dir/xvector.scp")
if python -m dcase_tk.bin.stamp check "$dir" --force "$force" "${inputs[@]}"; then exit 0; fi
python -m dcase_tk.bin.score_backend "$backend" "$dir"
python -m dcase_tk.bin.stamp done "$dir" "${inputs[@]}"
