#!/usr/bin/env bash
# Class posteriors of a trained system for a dump dir -> <out-dir>/{score,decision,classes.txt};
# --decode_opts changes how clips are cut and combined (see dcase_tk/decode/infer.py);
# with --embeddings true, the embeddings of an embedding system -> <out-dir>/xvector.{ark,scp}.
set -euo pipefail
cmd=run.py
num_threads=1
gpu=0
embeddings=false
decode_opts=     # overrides of the system's decode section, e.g. "--decode.mode crops --decode.crops 25"
force=false
help_message="Usage: $0 [options] <exp-dir> <dump-dir> <out-dir>
  e.g. $0 exp/1a/baseline dump/1a/logmel40_48k/test exp/1a/baseline/test"
. parse_options.sh
if [ $# -ne 3 ]; then echo "$help_message" >&2; exit 1; fi
exp=$1
data=$2
dir=$3

inputs=("$exp/final.pt" "$exp/config.yaml" "$exp/cmvn.ark" "$data")
name=.done what=infer opts=()
$embeddings && name=.done.xvector what=embeddings opts=(--embeddings)
if python -m dcase_tk.bin.stamp check "$dir" --name $name --force "$force" --extra "$decode_opts" "${inputs[@]}"; then
  exit 0
fi
mkdir -p "$dir"
device=auto
[ "$gpu" -gt 0 ] && device=cuda
$cmd --num-threads "$num_threads" --gpu "$gpu" "$dir/$what.log" \
  python -m dcase_tk.bin.infer_nnet "${opts[@]}" --device "$device" $decode_opts "$exp" "$data" "$dir"
python -m dcase_tk.bin.stamp done "$dir" --name $name --extra "$decode_opts" "${inputs[@]}"
