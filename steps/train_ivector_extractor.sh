#!/usr/bin/env bash
# Train an i-vector extractor (total-variability matrix) on a dump dir with a trained UBM, as
# Kaldi's train_ivector_extractor.sh: a random T of rank extractor.ivector_dim, then
# extractor.num_iters EM iterations, each one's statistics accumulated by nj parallel jobs through
# $cmd (Baum-Welch statistics from the UBM's Gaussian-selected posteriors) and summed, the M-step
# followed by minimum-divergence re-estimation.
# Writes <dir>/config.yaml (the resolved options), final.ubm.npz (a copy of the UBM), 0.npz ..
# N.npz (every iteration's model) and final.npz (a link to the last). A killed run resumes at the
# iteration it reached; changed inputs or options, or --force true, start over.
set -euo pipefail
cmd=run.py
nj=4
num_threads=1
gpu=0
ivector_config=
opts=            # overrides of the config, e.g. "--extractor.ivector_dim 100"
force=false
help_message="Usage: $0 [options] --ivector_config <ivector.yaml> <dump-dir> <ubm-dir> <extractor-dir>
  e.g. $0 --nj 4 --ivector_config conf/ivector/mfcc60.yaml dump/1a/mfcc60_48k/train_tr exp/1a/ivector_mfcc60/ubm exp/1a/ivector_mfcc60/extractor"
. parse_options.sh
if [ $# -ne 3 ] || [ -z "$ivector_config" ]; then echo "$help_message" >&2; exit 1; fi
data=$1
ubm=$2
dir=$3

inputs=("$data" "$ubm/final.npz" "$ivector_config")
if python -m dcase_tk.bin.stamp check "$dir" --force "$force" --extra "$opts" "${inputs[@]}"; then exit 0; fi
python -m dcase_tk.bin.stamp start "$dir" --force "$force" --extra "$opts" "${inputs[@]}"
mkdir -p "$dir/log"
# shellcheck disable=SC2086  # opts is a list of options
python -m dcase_tk.bin.ivector_config --config "$ivector_config" $opts "$dir/config.yaml"
[ -f "$dir/final.ubm.npz" ] || cp "$ubm/final.npz" "$dir/final.ubm.npz"
device=auto
[ "$gpu" -gt 0 ] && device=cuda
split_data.sh "$data" "$nj"

[ -f "$dir/0.npz" ] || python -m dcase_tk.bin.ivector_init --config "$dir/config.yaml" "$dir/final.ubm.npz" "$dir/0.npz"
iters=$(python -m dcase_tk.bin.config_value "$dir/config.yaml" extractor.num_iters)
for ((iter = 0; iter < iters; iter++)); do
  [ -f "$dir/$((iter + 1)).npz" ] && continue
  echo "$0: EM iteration $((iter + 1)) of $iters (logs: $dir/log/acc.$iter.*.log, $dir/log/est.$iter.log)"
  $cmd --num-threads "$num_threads" --gpu "$gpu" JOB=1:"$nj" "$dir/log/acc.$iter.JOB.log" \
    python -m dcase_tk.bin.ivector_acc --device "$device" --config "$dir/config.yaml" \
      "$dir/final.ubm.npz" "$dir/$iter.npz" "$data/split$nj/JOB" "$dir/acc.$iter.JOB.npz"
  $cmd "$dir/log/est.$iter.log" \
    python -m dcase_tk.bin.ivector_est "$dir/$iter.npz" "$dir/$((iter + 1)).npz" "$dir"/acc.$iter.*.npz
  rm -f "$dir"/acc.$iter.*.npz
done
ln -sfn "$iters.npz" "$dir/final.npz"
python -m dcase_tk.bin.stamp done "$dir" --extra "$opts" "${inputs[@]}"
