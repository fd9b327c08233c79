#!/usr/bin/env bash
# Extract the i-vectors of a dump dir's utterances with a trained extractor, in nj parallel jobs
# through $cmd -> <out-dir>/ivector.scp (+ ivector.N.ark), Kaldi vectors that kaldiio and Kaldi's
# copy-vector read; the back-end steps (train_backend.sh, score_backend.sh) read them.
set -euo pipefail
cmd=run.py
nj=4
num_threads=1
gpu=0
force=false
help_message="Usage: $0 [options] <extractor-dir> <dump-dir> <out-dir>
  e.g. $0 --nj 4 exp/1a/ivector_mfcc60/extractor dump/1a/mfcc60_48k/test exp/1a/ivector_mfcc60/ivectors_test"
. parse_options.sh
if [ $# -ne 3 ]; then echo "$help_message" >&2; exit 1; fi
extractor=$1
data=$2
dir=$3

inputs=("$extractor/final.npz" "$extractor/final.ubm.npz" "$extractor/config.yaml" "$data")
if python -m dcase_tk.bin.stamp check "$dir" --force "$force" "${inputs[@]}"; then exit 0; fi
mkdir -p "$dir/log"
device=auto
[ "$gpu" -gt 0 ] && device=cuda
split_data.sh "$data" "$nj"
echo "$0: extracting i-vectors of $data in $nj jobs (logs: $dir/log/extract.*.log)"
$cmd --num-threads "$num_threads" --gpu "$gpu" JOB=1:"$nj" "$dir/log/extract.JOB.log" \
  python -m dcase_tk.bin.extract_ivectors --device "$device" --config "$extractor/config.yaml" \
    "$extractor/final.ubm.npz" "$extractor/final.npz" "$data/split$nj/JOB" "$dir/ivector.JOB.ark"
scps=()
for ((job = 1; job <= nj; job++)); do scps+=("$dir/ivector.$job.scp"); done
python -m dcase_tk.bin.merge_tables --expect "$data/feats.scp" "$dir/ivector.scp" "${scps[@]}"
python -m dcase_tk.bin.stamp done "$dir" "${inputs[@]}"
