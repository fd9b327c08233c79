#!/usr/bin/env bash
# Train a neural network system (conf/systems/<name>.yaml) on a training and a validation dump
# dir, through $cmd (so it can run on a cluster node). A killed run resumes from its last
# checkpoint; --force true starts over.
set -euo pipefail
cmd=run.py
system_config=
cmvn=            # default: <train-dir>/cmvn.ark (stage 3)
num_threads=1
gpu=0
train_opts=      # extra --key value overrides of the system config, e.g. "--training.epochs 30"
force=false
help_message="Usage: $0 [options] --system_config <system.yaml> <train-dir> <valid-dir> <exp-dir>
  e.g. $0 --system_config conf/systems/baseline.yaml dump/1a/logmel40_48k/train_tr dump/1a/logmel40_48k/train_cv exp/1a/baseline"
. parse_options.sh
if [ $# -ne 3 ] || [ -z "$system_config" ]; then echo "$help_message" >&2; exit 1; fi
train=$1
valid=$2
dir=$3
cmvn=${cmvn:-$train/cmvn.ark}

inputs=("$train" "$valid" "$cmvn" "$system_config")
if python -m dcase_tk.bin.stamp check "$dir" --force "$force" --extra "$train_opts" "${inputs[@]}"; then
  exit 0
fi
[ "$force" = true ] && rm -rf "$dir/checkpoints"
mkdir -p "$dir"
device=auto
[ "$gpu" -gt 0 ] && device=cuda
echo "$0: training $dir (log: $dir/train.log)"
# shellcheck disable=SC2086  # train_opts is a list of options
$cmd --num-threads "$num_threads" --gpu "$gpu" "$dir/train.log" \
  python -m dcase_tk.bin.train_nnet --config "$system_config" --cmvn "$cmvn" --device "$device" \
    $train_opts "$train" "$valid" "$dir"
python -m dcase_tk.bin.stamp done "$dir" --extra "$train_opts" "${inputs[@]}"
