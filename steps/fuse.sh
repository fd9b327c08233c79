#!/usr/bin/env bash
# Score-level fusion of systems (docs/fusion.md): fit the method of a conf/fusion/<name>.yaml on
# the members' decode dirs of the validation or out-of-fold set (<exp-dir>/<member>/<fit_on>, with
# the labels of <fit-data-dir>; several sets in fit_on are pooled), save it to --model_dir
# (default <fusion-dir>/model), and apply it to the members'
# decode dirs of each --apply_sets set -> <fusion-dir>/<set>/{score,decision,classes.txt}, which
# steps/score.sh scores like any other system's. Fitting on a test or training set (names matching
# --test_sets / --train_sets), or on a set sharing clips with an apply set, is refused.
set -euo pipefail
fusion_config=
fit_on=                      # the set(s) fitted on, e.g. "fold2/cv fold3/cv"; default: the config's
model_dir=                   # where the fitted fusion goes; default: <fusion-dir>/model
apply_sets=test              # decode dir names to fuse
test_sets="test test_* *_test eval eval_* *_eval evaluation leaderboard"   # never fitted on
train_sets="train train_dev? *_train tr *_tr"                             # never fitted on
fusion_opts=                 # overrides of the config, e.g. "--method gmean" or "--options.C 0.5"
force=false
help_message="Usage: $0 --fusion_config <conf/fusion/x.yaml> [options] <exp-dir> <fit-data-dir> <fusion-dir>
  e.g. $0 --fusion_config conf/fusion/weighted.yaml --fit_on train_cv --apply_sets test \\
         exp/1a data/1a/train_cv exp/1a/fusion_weighted"
. parse_options.sh
if [ $# -ne 3 ] || [ -z "$fusion_config" ]; then echo "$help_message" >&2; exit 1; fi
exp=$1
data=$2
dir=$3
model_dir=${model_dir:-$dir/model}

[ -n "$fit_on" ] || fit_on=$(python -m dcase_tk.bin.config_value --default "" "$fusion_config" fit_on)
members=$(python -m dcase_tk.bin.config_value "$fusion_config" members)
inputs=("$fusion_config")
[ -d "$data" ] && inputs+=("$data")
for set in $fit_on $apply_sets; do
  for m in $members; do
    inputs+=("$exp/$m/$set/score" "$exp/$m/$set/classes.txt")
  done
done
extra="$fit_on|$apply_sets|$test_sets|$train_sets|$fusion_opts"
if python -m dcase_tk.bin.stamp check "$model_dir" --force "$force" --extra "$extra" "${inputs[@]}"; then
  exit 0
fi
opts=(--model_dir "$model_dir")
[ -n "$fit_on" ] && opts+=(--fit_on "$fit_on")
# shellcheck disable=SC2086  # fusion_opts is a list of --key value words
python -m dcase_tk.bin.fuse_scores --config "$fusion_config" "${opts[@]}" $fusion_opts \
  --fit_data "$data" --apply_sets "$apply_sets" --test_sets "$test_sets" --train_sets "$train_sets" \
  "$exp" "$dir"
python -m dcase_tk.bin.stamp done "$model_dir" --extra "$extra" "${inputs[@]}"
