#!/usr/bin/env bash
# Score a decode dir against its data dir: result.json, result.txt, confusion.png and the
# challenge submission file. Prints the result table.
set -euo pipefail
device_average=     # e.g. b,c for Task 1B
submission_key="{utt}"
force=false
help_message="Usage: $0 [options] <data-dir> <decode-dir>
  e.g. $0 --device_average b,c --submission_key 'audio/{utt}.wav' data/1b/test exp/1b/baseline/test"
. parse_options.sh
if [ $# -ne 2 ]; then echo "$help_message" >&2; exit 1; fi
data=$1
dir=$2

inputs=("$data" "$dir/decision")
extra="$device_average $submission_key"
if python -m dcase_tk.bin.stamp check "$dir" --name .done.score --force "$force" --extra "$extra" "${inputs[@]}"; then
  [ -f "$dir/result.txt" ] && cat "$dir/result.txt"
  exit 0
fi
python -m dcase_tk.bin.score_classification --device_average "$device_average" \
  --submission_key "$submission_key" "$data" "$dir"
python -m dcase_tk.bin.stamp done "$dir" --name .done.score --extra "$extra" "${inputs[@]}"
