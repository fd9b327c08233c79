#!/usr/bin/env bash
# Train a UBM on a dump dir, as Kaldi's train_diag_ubm.sh + train_full_ubm.sh: a diagonal GMM
# initialised in memory on a random sample of frames (growing by splitting, or k-means++), then
# ubm.num_iters EM iterations over all frames and ubm.num_iters_full full-covariance ones, each
# iteration's statistics accumulated by nj parallel jobs through $cmd and summed.
# Writes <ubm-dir>/config.yaml (the resolved options), diag.N.npz, full.N.npz and final.npz (a
# link to the last model). A killed run resumes at the iteration it reached; changed inputs or
# options, or --force true, start over.
set -euo pipefail
cmd=run.py
nj=4
num_threads=1
gpu=0
ivector_config=
opts=            # overrides of the config, e.g. "--ubm.num_gauss 64"
force=false
help_message="Usage: $0 [options] --ivector_config <ivector.yaml> <dump-dir> <ubm-dir>
  e.g. $0 --nj 4 --ivector_config conf/ivector/mfcc60.yaml dump/1a/mfcc60_48k/train_tr exp/1a/ivector_mfcc60/ubm"
. parse_options.sh
if [ $# -ne 2 ] || [ -z "$ivector_config" ]; then echo "$help_message" >&2; exit 1; fi
data=$1
dir=$2

inputs=("$data" "$ivector_config")
if python -m dcase_tk.bin.stamp check "$dir" --force "$force" --extra "$opts" "${inputs[@]}"; then exit 0; fi
python -m dcase_tk.bin.stamp start "$dir" --force "$force" --extra "$opts" "${inputs[@]}"
mkdir -p "$dir/log"
# shellcheck disable=SC2086  # opts is a list of options
python -m dcase_tk.bin.ivector_config --config "$ivector_config" $opts "$dir/config.yaml"
device=auto
[ "$gpu" -gt 0 ] && device=cuda
run_opts=(--num-threads "$num_threads" --gpu "$gpu")
split_data.sh "$data" "$nj"

# em_iterations <kind> <iterations>: from <kind>.0.npz to <kind>.<iterations>.npz
em_iterations() {
  local kind=$1 iters=$2 iter
  for ((iter = 0; iter < iters; iter++)); do
    [ -f "$dir/$kind.$((iter + 1)).npz" ] && continue
    echo "$0: $kind EM iteration $((iter + 1)) of $iters"
    $cmd "${run_opts[@]}" JOB=1:"$nj" "$dir/log/acc.$kind.$iter.JOB.log" \
      python -m dcase_tk.bin.gmm_acc_stats --device "$device" --config "$dir/config.yaml" \
        "$dir/$kind.$iter.npz" "$data/split$nj/JOB" "$dir/acc.$kind.$iter.JOB.npz"
    $cmd "$dir/log/est.$kind.$iter.log" python -m dcase_tk.bin.gmm_est --config "$dir/config.yaml" \
      "$dir/$kind.$iter.npz" "$dir/$kind.$((iter + 1)).npz" "$dir"/acc."$kind".$iter.*.npz
    rm -f "$dir"/acc."$kind".$iter.*.npz
  done
}

if [ ! -f "$dir/diag.0.npz" ]; then
  echo "$0: initialising the diagonal UBM (log: $dir/log/init.log)"
  $cmd "${run_opts[@]}" "$dir/log/init.log" \
    python -m dcase_tk.bin.gmm_init --device "$device" --config "$dir/config.yaml" "$data" "$dir/diag.0.npz"
fi
diag_iters=$(python -m dcase_tk.bin.config_value "$dir/config.yaml" ubm.num_iters)
em_iterations diag "$diag_iters"
final=diag.$diag_iters.npz
full_iters=$(python -m dcase_tk.bin.config_value "$dir/config.yaml" ubm.num_iters_full)
if [ "$full_iters" -gt 0 ]; then
  [ -f "$dir/full.0.npz" ] || python -m dcase_tk.bin.gmm_to_full "$dir/$final" "$dir/full.0.npz"
  em_iterations full "$full_iters"
  final=full.$full_iters.npz
fi
ln -sfn "$final" "$dir/final.npz"
python -m dcase_tk.bin.stamp done "$dir" --extra "$opts" "${inputs[@]}"
