#!/usr/bin/env bash
# Class posteriors of embeddings (<embedding-dir>/ivector.scp or xvector.scp) from a trained back
# end -> <out-dir>/{score,decision,classes.txt}; <out-dir> may be the embedding dir itself.
set -euo pipefail
force=false
help_message="Usage: $0 [options] <backend-dir> <embedding-dir> <out-dir>
  e.g. $0 exp/1a/xvector/backend exp/1a/xvector/test exp/1a/xvector/test"
. parse_options.sh
if [ $# -ne 3 ]; then echo "$help_message" >&2; exit 1; fi
backend=$1
emb=$2
dir=$3

scp=$(python -m dcase_tk.bin.embeddings_scp "$emb")
inputs=("$backend/backend.npz" "$backend/backend.yaml" "$backend/classes.txt" "$scp")
if python -m dcase_tk.bin.stamp check "$dir" --force "$force" "${inputs[@]}"; then exit 0; fi
python -m dcase_tk.bin.score_backend "$backend" "$emb" "$dir"
python -m dcase_tk.bin.stamp done "$dir" "${inputs[@]}"
