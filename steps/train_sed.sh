#!/usr/bin/env bash
# Train a sound event detection system (DCASE 2018 Task 4) in passes: a model trained on the
# weak labels, then, when its config has passes:, models trained on what earlier passes say of
# the unlabelled clips (the baseline's two-pass pseudo-labelling, Koutini et al.'s distillation).
# <exp-dir> ends up usable by steps/infer.sh either way.
#
#   <exp-dir>/system.yaml      the system config with --train_opts applied
#   without passes:            one training on <feat-root>/weak_tr (validated on weak_cv), in <exp-dir>
#   with passes: [p1, p2 ...]  <exp-dir>/<p> for each, in order, as its pass.<p> section says:
#     train: [sets]            the dump dirs <feat-root>/<set> it trains on (default weak_tr)
#     valid: set               the validation dump dir (default weak_cv)
#     pseudo_labels: {from: <earlier pass>, sets: [sets], options: {threshold: 0.5}}
#                              the sets (default: every train set but weak_tr) get the clip tags of
#                              the earlier pass's model as utt2labels (dcase_tk.bin.pseudo_label):
#                              <p>/decode_<set> (its clip posteriors), <p>/data_<set>
#     frame_targets: {from: <earlier pass>, sets: [sets], options: {median: s, gaussian_sigma: s}}
#                              the sets (default: every train set) get the earlier pass's frame
#                              posteriors, smoothed, as frame_targets.scp (dcase_tk.bin.frame_targets)
#                              Either takes the set with the earlier pass's own pseudo-labels when
#                              it had some (<from>/data_<set>), so a later pass keeps its utt2labels.
#     unlabelled: set          clips for virtual adversarial training (training.vat)
#     overrides: {...}         changes to the system config for this pass (e.g. training.objective)
#   and <exp-dir>/{final.pt,config.yaml,cmvn.ark,classes.txt} link to the last pass's.
# Normalisation: <feat-root>/weak_tr/cmvn.ark for every pass. Every part skips when done, so a
# killed run resumes where it stopped (a training from its last checkpoint). Inner steps run
# through --cmd (default run.py: this script is itself a job of $train_cmd in run.sh).
set -euo pipefail
cmd=run.py
num_threads=1
gpu=0
system_config=
train_opts=      # --key value overrides of the system config, e.g. "--training.epochs 30"
force=false
help_message="Usage: $0 [options] --system_config <system.yaml> <feat-root> <exp-dir>
  e.g. $0 --system_config conf/systems/baseline.yaml dump/4/logmel64_44k exp/4/baseline"
. parse_options.sh
if [ $# -ne 2 ] || [ -z "$system_config" ]; then echo "$help_message" >&2; exit 1; fi
feats=$1
dir=$2
cmvn=$feats/weak_tr/cmvn.ark

mkdir -p "$dir"
# shellcheck disable=SC2086  # train_opts is a list of options
python -m dcase_tk.bin.resolve_config "$system_config" "$dir/system.yaml" $train_opts
config=$dir/system.yaml
config_value() { python -m dcase_tk.bin.config_value "$@"; }
common=(--cmd "$cmd" --num_threads "$num_threads" --gpu "$gpu" --force "$force")
passes=$(config_value --default "" "$config" passes)

if [ -z "$passes" ]; then
  train_nnet.sh "${common[@]}" --cmvn "$cmvn" --system_config "$config" "$feats/weak_tr" "$feats/weak_cv" "$dir"
  exit 0
fi

# labelled_set <pass> <set> <what> <tool> <decode opts>: the dump dir <set> with what the earlier
# pass's model says of it (utt2labels or frame_targets.scp; the tool's options are
# pass.<pass>.<what>.options) -> <dir>/<pass>/data_<set>
labelled_set() {
  local pass=$1 set=$2 what=$3 tool=$4 decode_opts=$5 from out tool_opts source
  from=$(config_value "$config" "pass.$pass.$what.from")
  tool_opts=$(config_value --as_options "$config" "pass.$pass.$what.options")
  [ -f "$dir/$from/final.pt" ] || { echo "$0: pass $pass takes $what from '$from', which is not an earlier pass of $config" >&2; exit 1; }
  out=$dir/$pass/data_$set
  # the set as the earlier pass trained on it (with its pseudo-labels), else as dumped
  source=$feats/$set
  [ -d "$dir/$from/data_$set" ] && source=$dir/$from/data_$set
  infer.sh --cmd "$cmd" --num_threads "$num_threads" --gpu "$gpu" --force "$force" \
    --decode_opts "$decode_opts" "$dir/$from" "$source" "$dir/$pass/decode_$set"
  if ! python -m dcase_tk.bin.stamp check "$out" --force "$force" --extra "$tool_opts" \
      "$dir/$pass/decode_$set" "$source"; then
    # shellcheck disable=SC2086  # tool_opts is a list of options
    python -m dcase_tk.bin.$tool $tool_opts "$dir/$pass/decode_$set" "$source" "$out"
    python -m dcase_tk.bin.stamp done "$out" --extra "$tool_opts" "$dir/$pass/decode_$set" "$source"
  fi
}

for pass in $passes; do
  train_sets=$(config_value --default weak_tr "$config" "pass.$pass.train")
  valid=$(config_value --default weak_cv "$config" "pass.$pass.valid")
  pseudo_sets=$(config_value --default "" "$config" "pass.$pass.pseudo_labels.sets")
  [ -z "$pseudo_sets" ] && [ -n "$(config_value --default "" "$config" "pass.$pass.pseudo_labels.from")" ] &&
    pseudo_sets=$(echo "$train_sets" | grep -vx weak_tr || true)
  target_sets=$(config_value --default "" "$config" "pass.$pass.frame_targets.sets")
  [ -z "$target_sets" ] && [ -n "$(config_value --default "" "$config" "pass.$pass.frame_targets.from")" ] &&
    target_sets=$train_sets
  sources=()
  for set in $train_sets; do
    if echo "$pseudo_sets" | grep -qx "$set"; then
      labelled_set "$pass" "$set" pseudo_labels pseudo_label ""
      sources+=("$dir/$pass/data_$set")
    elif echo "$target_sets" | grep -qx "$set"; then
      labelled_set "$pass" "$set" frame_targets frame_targets "--decode.frame_posteriors true"
      sources+=("$dir/$pass/data_$set")
    else
      sources+=("$feats/$set")
    fi
  done
  train=${sources[0]}
  if [ ${#sources[@]} -gt 1 ]; then
    train=$dir/$pass/train
    if ! python -m dcase_tk.bin.stamp check "$train" --force "$force" "${sources[@]}"; then
      combine_data.sh "$train" "${sources[@]}"
      python -m dcase_tk.bin.stamp done "$train" "${sources[@]}"
    fi
  fi
  mkdir -p "$dir/$pass"
  # shellcheck disable=SC2046  # the overrides are a list of options
  python -m dcase_tk.bin.resolve_config "$config" "$dir/$pass/system.yaml" \
    $(config_value --as_options "$config" "pass.$pass.overrides")
  unlabelled=$(config_value --default "" "$config" "pass.$pass.unlabelled")
  train_nnet.sh "${common[@]}" --cmvn "$cmvn" --system_config "$dir/$pass/system.yaml" \
    ${unlabelled:+--unlabelled "$feats/$unlabelled"} "$train" "$feats/$valid" "$dir/$pass"
done

for name in final.pt config.yaml cmvn.ark classes.txt; do
  ln -sfn "$pass/$name" "$dir/$name"
done
echo "$0: $dir = its last pass, $dir/$pass"
