#!/usr/bin/env bash
# Offline pitch-shift / time-stretch copies of a data dir's audio, in nj parallel jobs through
# $cmd: the copies go to <out-data-dir>/wav/ and <out-data-dir> becomes a data dir of the copies
# only (<utt>-ps<semitones>, <utt>-ts<rate>, each in its original's group). Add the originals
# with utils/combine_data.sh. A killed run resumes: finished jobs are kept. Details:
# python -m dcase_tk.bin.augment_data --help
set -euo pipefail
nj=4
cmd=run.py
pitch_shifts="-2 2"
time_stretches="0.9 1.1"
force=false
help_message="Usage: $0 [options] <in-data-dir> <out-data-dir>
  e.g. $0 --nj 4 --pitch_shifts \"-2 -1 1 2\" --time_stretches \"0.9 1.1\" data/2/train data/2/train_aug
       utils/combine_data.sh data/2/train_all data/2/train data/2/train_aug"
. parse_options.sh
if [ $# -ne 2 ]; then echo "$help_message" >&2; exit 1; fi
data=$1
dir=$2

factors="pitch_shifts=$pitch_shifts time_stretches=$time_stretches"
if python -m dcase_tk.bin.stamp check "$dir" --force "$force" --extra "$factors" "$data"; then exit 0; fi
validate_data_dir.sh "$data" >/dev/null
# '=' keeps a value that starts with '-' (a negative shift) from reading as an option
opts=("--pitch_shifts=$pitch_shifts" "--time_stretches=$time_stretches")
python -m dcase_tk.bin.augment_data --check "${opts[@]}" "$data" "$dir"
hash=$(python -m dcase_tk.bin.stamp hash "$dir" --extra "$factors" "$data")
mkdir -p "$dir/log" "$dir/data"
echo "$0: augmenting $data in $nj jobs (logs: $dir/log/augment.*.log)"
# Resuming, jobs whose log shows success for this same command (same inputs hash) are kept;
# --force true redoes them all.
rerun_failed=true
if [ "$force" = true ]; then rerun_failed=false; fi
$cmd --rerun-failed "$rerun_failed" JOB=1:"$nj" "$dir/log/augment.JOB.log" \
  python -m dcase_tk.bin.augment_data --job JOB --num_jobs "$nj" --inputs_hash "$hash" \
    "${opts[@]}" "$data" "$dir"
python -m dcase_tk.bin.augment_data --merge --num_jobs "$nj" "${opts[@]}" "$data" "$dir"
validate_data_dir.sh "$dir"
python -m dcase_tk.bin.stamp done "$dir" --extra "$factors" "$data"
