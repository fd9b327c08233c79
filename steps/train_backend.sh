#!/usr/bin/env bash
# Train the back end of an embedding system (transforms such as LDA and length norm, then a
# classifier: cosine, PLDA, Gaussian, logistic, SVM or MLP) on the embeddings of its training set
# (<embedding-dir>/ivector.scp or xvector.scp); the system config's backend: section sets it up
# (docs/backends.md).
set -euo pipefail
system_config=
force=false
help_message="Usage: $0 --system_config <system.yaml> <embedding-dir> <data-dir> <backend-dir>
  e.g. $0 --system_config conf/systems/xvector.yaml exp/1a/xvector/train_tr data/1a/train_tr exp/1a/xvector/backend"
. parse_options.sh
if [ $# -ne 3 ] || [ -z "$system_config" ]; then echo "$help_message" >&2; exit 1; fi
emb=$1
data=$2
dir=$3

scp=$(python -m dcase_tk.bin.embeddings_scp "$emb")
inputs=("$scp" "$data" "$system_config")
if python -m dcase_tk.bin.stamp check "$dir" --force "$force" "${inputs[@]}"; then exit 0; fi
python -m dcase_tk.bin.train_backend --config "$system_config" "$emb" "$data" "$dir"
python -m dcase_tk.bin.stamp done "$dir" "${inputs[@]}"
