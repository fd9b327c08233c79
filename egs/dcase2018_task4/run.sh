#!/usr/bin/env bash
# DCASE 2018 Task 4: large-scale weakly labelled semi-supervised sound event detection in
# domestic environments (10 classes; 1578 weakly labelled, 14412 unlabelled in-domain and 39999
# out-of-domain training clips; 288 strongly labelled test clips), scored by the event-based
# macro F1 (sed_eval: 200 ms onset collar, offset max(200 ms, 20 % of the event)).
#
#   ./run.sh                                   # baseline and cnn8_sed; the mini corpus when db.sh names none
#   ./run.sh --systems "mil gcrnn_vat distillation" --stage 5
#   ./run.sh --systems baseline --stage 6 --train_opts "--training.epochs 30"
#
# Stages: 0 corpus, 1 data prep (weak, unlabel_in_domain, unlabel_out_of_domain, test, and eval
# when db.sh names it), 2 splits: weak_tr / weak_cv ($valid_fraction of the weak clips, for model
# selection) and test_tune / test_rest ($tune_fraction of the test clips, on which a system's
# tune: section tunes its post-processing; the tuned decoding is scored on test_rest only),
# 3 features of $feature_sets, 4 normalisation statistics of weak_tr, 5 training
# (steps/train_sed.sh: the passes of a system, e.g. the baseline's pseudo-labelling), 6 inference
# (frame posteriors) and post-processing of each decoding of a system: postprocess: (-> <set>),
# each decodings.<name> (-> <set>_<name>), the tuned one (-> test_rest_tuned) and the label-free
# SALR one (salr: section, -> test_salr), each with the challenge's submission.csv, 7 scoring
# (dcase_tk.bin.score_sed: event- and segment-based F1/ER per class, tagging F1/AUC, event rolls
# of $plot_clips clips), 8 RESULTS.md. Every step skips when its inputs are unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./path.sh
. ./cmd.sh
. ./db.sh

stage=0
stop_stage=100
systems="baseline cnn8_sed"      # conf/systems/<name>.yaml
feature_sets="weak unlabel_in_domain test"   # data sets to extract features of (eval too when present)
nj=4                      # parallel jobs of the feature step
valid_fraction=0.2        # of the weak clips, for model selection (the baseline's 20 %)
tune_fraction=0.5         # of the test clips, for tuning post-processing (systems with a tune: section)
train_opts=               # extra overrides for every system's training, e.g. "--training.epochs 30"
num_threads=2             # threads of a training / inference job
gpu=0                     # GPUs per training job (passed to the launcher)
plot_clips=4              # event rolls (reference above prediction) of this many test clips
force=false               # true: redo every step of the chosen stages
mini_corpus_opts=         # options of local/make_mini_corpus.py, e.g. "--weak-per-class 20"
make_feats_script=steps/make_feats.sh
compute_cmvn_script=steps/compute_global_cmvn.sh
train_sed_script=steps/train_sed.sh
infer_script=steps/infer.sh
help_message="Usage: ./run.sh [options]   (DCASE 2018 Task 4 recipe; see the header of run.sh)"
. utils/parse_options.sh
. utils/recipe_helpers.sh

mini=false
if [ -n "$DCASE2018_TASK4" ]; then
  corpus=$DCASE2018_TASK4
else
  corpus=corpus/mini
  mini=true
fi
data=data/4
dump=dump/4
exp=exp/4
check_systems $systems
feature_configs=$(for system in $systems; do config_value "conf/systems/$system.yaml" features; done | sort -u)

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  corpus_stage "Set DCASE2018_TASK4 in db.sh to the folder holding the release's dataset/." "$corpus"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "Stage 1: data prep -> $data/{weak,unlabel_in_domain,unlabel_out_of_domain,test}"
  eval_opts=()
  [ -n "$DCASE2018_TASK4_EVAL" ] && eval_opts=(--eval-root "$DCASE2018_TASK4_EVAL")
  # the lists (a stamp hashes the files of the dirs it is given, not their sub-dirs)
  lists=()
  for dir in "$corpus"/dataset/metadata/* "${DCASE2018_TASK4_EVAL:+$DCASE2018_TASK4_EVAL/dataset/metadata/eval}"; do
    [ -d "$dir" ] && lists+=("$dir")
  done
  if ! python -m dcase_tk.bin.stamp check "$data/weak" --force "$force" --extra "${eval_opts[*]}" "${lists[@]}"; then
    local/prepare_data.py "${eval_opts[@]}" "$corpus" "$data"
    for set in weak unlabel_in_domain unlabel_out_of_domain test eval; do
      if [ -d "$data/$set" ]; then utils/validate_data_dir.sh "$data/$set"; fi
    done
    python -m dcase_tk.bin.stamp done "$data/weak" --extra "${eval_opts[*]}" "${lists[@]}"
  fi
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "Stage 2: $data/weak -> weak_tr, weak_cv ($valid_fraction); $data/test -> test_tune ($tune_fraction), test_rest"
  if ! python -m dcase_tk.bin.stamp check "$data/weak_cv" --force "$force" --extra "$valid_fraction" "$data/weak"; then
    utils/split_validation.sh --fraction "$valid_fraction" --strata "" --groups utt \
      "$data/weak" "$data/weak_tr" "$data/weak_cv"
    python -m dcase_tk.bin.stamp done "$data/weak_cv" --extra "$valid_fraction" "$data/weak"
  fi
  if ! python -m dcase_tk.bin.stamp check "$data/test_tune" --force "$force" --extra "$tune_fraction" "$data/test"; then
    utils/split_validation.sh --fraction "$tune_fraction" --strata "" --groups utt \
      "$data/test" "$data/test_rest" "$data/test_tune"
    python -m dcase_tk.bin.stamp done "$data/test_tune" --extra "$tune_fraction" "$data/test"
  fi
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  sets=$feature_sets
  [ -d "$data/eval" ] && sets="$sets eval"
  for name in $feature_configs; do
    for set in $sets; do
      log "Stage 3: features conf/feats/$name.yaml of $data/$set -> $dump/$name/$set"
      $make_feats_script --cmd "$train_cmd" --nj "$nj" --force "$force" --feat_config "conf/feats/$name.yaml" \
        "$data/$set" "$dump/$name/$set"
    done
    for part in weak_tr weak_cv; do subset_features "$dump/$name/weak" "$data/$part" "$dump/$name/$part"; done
    for part in test_tune test_rest; do subset_features "$dump/$name/test" "$data/$part" "$dump/$name/$part"; done
  done
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  for name in $feature_configs; do
    log "Stage 4: global mean/variance statistics of $dump/$name/weak_tr"
    $compute_cmvn_script --force "$force" "$dump/$name/weak_tr"
  done
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  for system in $systems; do
    opts=$(system_opts "$system")
    log "Stage 5: training $system -> $exp/$system ${opts:+(overrides: $opts)}"
    $train_cmd --num-threads "$num_threads" --gpu "$gpu" "$exp/$system/log/train_sed.log" \
      $train_sed_script --num_threads "$num_threads" --gpu "$gpu" --force "$force" \
        --system_config "conf/systems/$system.yaml" --train_opts "$opts" "$(feat_dir "$system")" "$exp/$system"
  done
fi

# decode <model dir> <set> <out>: frame and clip posteriors of a trained model (of the system
# being decoded: its features) on <set> -> <out>
decode() {
  $infer_script --cmd "$train_cmd" --num_threads "$num_threads" --gpu "$gpu" --force "$force" \
    --decode_opts "--decode.frame_posteriors true" "$1" "$(feat_dir "$system")/$2" "$3"
}

# postprocess <decode dir> <set> <out> <config> [--postprocess.<key> <value> ...]: the events of
# the posteriors of <set> -> <out>/{events,submission.csv}
postprocess() {
  local decoded=$1 set=$2 out=$3 config=$4
  shift 4
  if ! python -m dcase_tk.bin.stamp check "$out" --force "$force" --extra "$*" "$decoded" "$config"; then
    python -m dcase_tk.bin.postprocess_sed --verbose 0 --config "$config" "$@" --data_dir "$data/$set" "$decoded" "$out"
    python -m dcase_tk.bin.stamp done "$out" --extra "$*" "$decoded" "$config"
  fi
}

# score <set> <decode dir> <out> [score_sed options]: event-based F1 ... of <out>/events -> <out>/result.json
score() {
  local set=$1 decoded=$2 out=$3
  shift 3
  local inputs=("$out/events" "$decoded/score" "$data/$set")
  if ! python -m dcase_tk.bin.stamp check "$out" --name .done.score --force "$force" --extra "$*" "${inputs[@]}"; then
    python -m dcase_tk.bin.score_sed --verbose 0 "$@" --decode_dir "$decoded" "$data/$set" "$out"
    python -m dcase_tk.bin.stamp done "$out" --name .done.score --extra "$*" "${inputs[@]}"
  fi
}

# merge_decode <set>...: Koutini et al.'s per-class merge for $system: each of its merge.members
# passes decodes test_tune, post-processed and scored there; per class, the posteriors of the
# member with the best F1 -> $exp/$system/decode/<set> (dcase_tk.bin.merge_per_class)
merge_decode() {
  local member set m select=() apply
  for member in $(config_value "$config" merge.members); do
    m=$exp/$system/merge/$member
    decode "$exp/$system/$member" test_tune "$m/decode/test_tune"
    postprocess "$m/decode/test_tune" test_tune "$m/test_tune" "$config"
    score test_tune "$m/decode/test_tune" "$m/test_tune" > /dev/null
    select+=("$m/test_tune")
  done
  for set in "$@"; do
    apply=()
    for member in $(config_value "$config" merge.members); do
      decode "$exp/$system/$member" "$set" "$exp/$system/merge/$member/decode/$set"
      apply+=("$exp/$system/merge/$member/decode/$set")
    done
    if ! python -m dcase_tk.bin.stamp check "$exp/$system/decode/$set" --force "$force" "${select[@]/%//result.json}" "${apply[@]}"; then
      python -m dcase_tk.bin.merge_per_class --verbose 0 --select_dirs "${select[*]}" --apply_dirs "${apply[*]}" "$exp/$system/decode/$set"
      python -m dcase_tk.bin.stamp done "$exp/$system/decode/$set" "${select[@]/%//result.json}" "${apply[@]}"
    fi
  done
}

if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  for system in $systems; do
    config=$exp/$system/system.yaml
    main_sets=test
    [ -d "$data/eval" ] && main_sets="test eval"
    tuned=$(config_value --default "" "$config" tune --keys)
    merged=$(config_value --default "" "$config" merge --keys)
    decode_sets=$main_sets
    [ -n "$tuned" ] && decode_sets="$decode_sets test_tune"
    # systems that choose anything on test_tune are also scored on the other test clips alone
    [ -n "$tuned$merged" ] && decode_sets="$decode_sets test_rest"
    log "Stage 6: $system: frame posteriors of $decode_sets -> $exp/$system/decode"
    if [ -n "$merged" ]; then
      merge_decode $decode_sets
    else
      for set in $decode_sets; do decode "$exp/$system" "$set" "$exp/$system/decode/$set"; done
    fi
    log "Stage 6: $system: events of each decoding -> $exp/$system/{$main_sets}*"
    for set in $main_sets; do
      postprocess "$exp/$system/decode/$set" "$set" "$exp/$system/$set" "$config"
      for name in $(config_value --default "" "$config" decodings --keys); do
        # shellcheck disable=SC2046  # the overrides are a list of options
        postprocess "$exp/$system/decode/$set" "$set" "$exp/$system/${set}_$name" "$config" \
          $(config_value --as_options --prefix postprocess "$config" "decodings.$name")
      done
    done
    if [ -n "$tuned" ]; then
      log "Stage 6: $system: post-processing tuned on $data/test_tune, applied to test_rest -> $exp/$system/test_rest_tuned"
      if ! python -m dcase_tk.bin.stamp check "$exp/$system/tune" --force "$force" "$exp/$system/decode/test_tune" "$config"; then
        python -m dcase_tk.bin.tune_postprocess --verbose 0 --config "$config" "$exp/$system/decode/test_tune" \
          "$data/test_tune" "$exp/$system/tune" > "$exp/$system/tune.log"
        python -m dcase_tk.bin.stamp done "$exp/$system/tune" "$exp/$system/decode/test_tune" "$config"
      fi
      postprocess "$exp/$system/decode/test_rest" test_rest "$exp/$system/test_rest_tuned" "$exp/$system/tune/postprocess.yaml"
    fi
    [ -n "$tuned$merged" ] && postprocess "$exp/$system/decode/test_rest" test_rest "$exp/$system/test_rest" "$config"
    if [ -n "$(config_value --default "" "$config" salr --keys)" ]; then
      log "Stage 6: $system: label-free post-processing chosen by SALR on the test clips -> $exp/$system/test_salr"
      if ! python -m dcase_tk.bin.stamp check "$exp/$system/salr" --force "$force" "$exp/$system/decode/test" "$config"; then
        python -m dcase_tk.bin.salr --verbose 0 --config "$config" "$exp/$system" "$(feat_dir "$system")/test" \
          "$exp/$system/decode/test" "$exp/$system/salr"
        python -m dcase_tk.bin.stamp done "$exp/$system/salr" "$exp/$system/decode/test" "$config"
      fi
      postprocess "$exp/$system/decode/test" test "$exp/$system/test_salr" "$exp/$system/salr/postprocess.yaml"
    fi
  done
fi

if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  for system in $systems; do
    for out in "$exp/$system"/test*/ "$exp/$system"/eval*/; do
      out=${out%/}
      [ -f "$out/events" ] || continue
      set=$(basename "$out")
      case "$set" in test_rest*) set=test_rest ;; test*) set=test ;; eval*) set=eval ;; esac
      [ -f "$data/$set/events" ] || continue          # an eval set without its reference
      plots=0
      [ "$(basename "$out")" = test ] && plots=$plot_clips
      log "Stage 7: scoring $out against $data/$set"
      score "$set" "$exp/$system/decode/$set" "$out" --plot_clips "$plots" | grep "^macro" || true
    done
  done
fi

if [ "$stage" -le 8 ] && [ "$stop_stage" -ge 8 ]; then
  results_stage sed "DCASE 2018 Task 4 results" \
    "Event-based macro F1 and ER (sed_eval, 200 ms onset collar, offset max(200 ms, 20 %)), segment-based macro F1 (1 s), clip tagging macro F1 and AUC. test: the system's postprocess: section on every test clip; test_<name>: its decodings.<name>; test_rest_tuned: post-processing tuned on test_tune and scored on the other test clips (test_rest: the untuned one on the same clips); test_salr: chosen without labels by SALR."
fi
log "Done."
