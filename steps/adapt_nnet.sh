#!/usr/bin/env bash
# Adapt a trained neural network system to new recording devices without their labels
# (adversarial domain adaptation, Gharib et al.: dcase_tk/train/adversarial.py), through $cmd.
# --init is the source system's final.pt; its exp dir gives the model, classes and cmvn.ark. The
# system config (conf/systems/<name>.yaml) has the adapt: section. The result is a normal exp dir
# (final.pt, config.yaml), decoded by steps/infer.sh like any other. A killed run resumes from its
# last epoch checkpoint; --force true starts over.
set -euo pipefail
cmd=run.py
system_config=
init=            # the source system's final.pt (required)
num_threads=1
gpu=0            # 0 or 1: adaptation runs in one process
adapt_opts=      # extra --key value overrides of the system config, e.g. "--adapt.epochs 30"
force=false
help_message="Usage: $0 [options] --system_config <system.yaml> --init <source-exp>/final.pt \\
    <source-train-dir> <source-valid-dir> <target-train-dir> <target-valid-dir> <exp-dir>
  The target training dir's clips are the target domain (their labels are never read); the target
  validation dir's labels are read only to score each epoch and choose the kept one (adapt.select_on).
  e.g. $0 --system_config conf/systems/adv_da.yaml --init exp/1b/baseline/final.pt \\
    dump/1b/logmel40_44k/train_deva_tr dump/1b/logmel40_44k/train_deva_cv \\
    dump/1b/logmel40_44k/train_target_tr dump/1b/logmel40_44k/train_target_cv exp/1b/adv_da"
. parse_options.sh
if [ $# -ne 5 ] || [ -z "$system_config" ] || [ -z "$init" ]; then echo "$help_message" >&2; exit 1; fi
source_train=$1
source_valid=$2
target_train=$3
target_valid=$4
dir=$5
if [ "$gpu" -gt 1 ]; then echo "$0: adaptation runs in one process: --gpu 0 or 1, got $gpu" >&2; exit 1; fi
source_dir=$(dirname "$init")
for f in "$init" "$source_dir/config.yaml" "$source_dir/cmvn.ark"; do
  if [ ! -f "$f" ]; then
    echo "$0: $f not found: --init must be the final.pt of a trained system's exp dir (train it first)" >&2
    exit 1
  fi
done

inputs=("$source_train" "$source_valid" "$target_train" "$target_valid" "$system_config" "$init"
        "$source_dir/config.yaml" "$source_dir/cmvn.ark")
if python -m dcase_tk.bin.stamp check "$dir" --force "$force" --extra "$adapt_opts" "${inputs[@]}"; then
  exit 0
fi
[ "$force" = true ] && rm -rf "$dir/checkpoints"
mkdir -p "$dir"
device=auto
[ "$gpu" -gt 0 ] && device=cuda
echo "$0: adapting $source_dir -> $dir (log: $dir/train.log)"
# shellcheck disable=SC2086  # adapt_opts is a list of options
$cmd --num-threads "$num_threads" --gpu "$gpu" "$dir/train.log" \
  python -m dcase_tk.bin.adapt_nnet --config "$system_config" --init "$init" --device "$device" \
    $adapt_opts "$source_train" "$source_valid" "$target_train" "$target_valid" "$dir"
python -m dcase_tk.bin.stamp done "$dir" --extra "$adapt_opts" "${inputs[@]}"
