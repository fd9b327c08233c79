#!/usr/bin/env bash
# DCASE 2018 Task 5: monitoring of domestic activities (SINS), 9 activities from 10 s clips of a
# 4-microphone node, 4 folds, scored by the macro F1 of the clip decisions.
#
#   ./run.sh                                  # baseline and cnn8; the mini corpus when db.sh names none
#   ./run.sh --systems cnn8 --stage 5 --train_opts "--training.epochs 30"
#   ./run.sh --stage 9 --fusions weighted       # a fused system of baseline and cnn8 (conf/fusion)
#
# A system's channels: says how the 4 microphones are used. each: every channel is a training
# example of its own (<clip>-ch1..4, utils/split_channels.sh) and the 4 channel posteriors of a
# test clip are averaged (the official protocol); mono: the channels are averaged into one signal
# (Kong et al.).
#
# Stages: 0 corpus, 1 data prep (dev, fold<k>_{train,test} from the release's setup files),
# 2 per fold: 30 % of the training sessions (per activity) held out for model selection,
# fold<k>_{tr,cv,test}, and their channel splits, 3 features, 4 normalisation statistics of each
# fold's training set, 5 training: the folds run as parallel jobs of $train_cmd, 6 inference on
# each fold's test clips (channel systems: fused, and each channel alone for comparison), 7
# scoring: macro F1 per fold and over the folds, 8 RESULTS.md, 9 fusion of systems (--fusions
# "<name> ...", conf/fusion/<name>.yaml: each fold's fusion fitted on its validation clips and
# applied to its test clips, scored as in stage 7, added to RESULTS.md). Every step skips when
# its inputs are unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./path.sh
. ./cmd.sh
. ./db.sh

stage=0
stop_stage=100
systems="baseline cnn8"   # conf/systems/<name>.yaml
nj=4                      # parallel jobs of the feature step
valid_fraction=0.3        # of each fold's training sessions, for model selection (the baseline's 30 %)
train_opts=               # extra overrides for every system's training, e.g. "--training.epochs 30"
num_threads=2             # threads of a training (fold) / inference job
gpu=0                     # GPUs per fold job (passed to the launcher)
force=false               # true: redo every step of the chosen stages
mini_corpus_opts="--sessions-per-class 4 --sensor-noise-db -44"  # local/make_mini_corpus.py: every activity in every test fold; noisy microphones
make_feats_script=steps/make_feats.sh
compute_cmvn_script=steps/compute_global_cmvn.sh
train_fold_script=steps/train_fold.sh
infer_script=steps/infer.sh
fuse_script=steps/fuse.sh
fusions=                  # stage 9: conf/fusion/<name>.yaml, each a new system exp/5/fusion_<name>
help_message="Usage: ./run.sh [options]   (DCASE 2018 Task 5 recipe; see the header of run.sh)"
. utils/parse_options.sh
. utils/recipe_helpers.sh

folds=4
mini=false
if [ -n "$SINS2018_DEV" ]; then
  corpus=$SINS2018_DEV
else
  corpus=corpus/mini/DCASE2018-task5-dev
  mini=true
fi
data=data/5
dump=dump/5
exp=exp/5
fold_ids=$(seq 1 "$folds")
check_systems $systems
# A system's data sets carry the suffix _ch when its channels are separate utterances.
suffix() {
  local channels
  channels=$(config_value --default mono "conf/systems/$1.yaml" channels)
  case "$channels" in
    each) echo _ch ;;
    mono) echo "" ;;
    *) echo "run.sh: conf/systems/$1.yaml: channels must be each or mono, got '$channels'" >&2; return 1 ;;
  esac
}
# "<features><suffix>" of every system, once each
layouts=$(for system in $systems; do echo "$(config_value "conf/systems/$system.yaml" features) $(suffix "$system")"; done | sort -u)

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  corpus_stage "Set SINS2018_DEV in db.sh to the extracted DCASE2018-task5-dev folder." "$(dirname "$corpus")"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "Stage 1: data prep -> $data/dev, $data/fold{1..$folds}_{train,test}"
  if ! python -m dcase_tk.bin.stamp check "$data/dev" --force "$force" "$corpus/meta.txt" "$corpus/evaluation_setup"; then
    local/prepare_data.py "$corpus" "$data"
    utils/validate_data_dir.sh "$data/dev"
    python -m dcase_tk.bin.stamp done "$data/dev" "$corpus/meta.txt" "$corpus/evaluation_setup"
  fi
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "Stage 2: channel utterances of $data/dev -> $data/dev_ch"
  if ! python -m dcase_tk.bin.stamp check "$data/dev_ch" --force "$force" "$data/dev"; then
    utils/split_channels.sh --channels 1,2,3,4 "$data/dev" "$data/dev_ch"
    python -m dcase_tk.bin.stamp done "$data/dev_ch" "$data/dev"
  fi
  for k in $fold_ids; do
    log "Stage 2: fold $k -> $data/fold${k}_{tr,cv,test}{,_ch} ($valid_fraction of the training sessions of each activity validate)"
    if ! python -m dcase_tk.bin.stamp check "$data/fold${k}_cv" --force "$force" --extra "$valid_fraction" \
        "$data/fold${k}_train" "$data/fold${k}_test"; then
      utils/split_validation.sh --fraction "$valid_fraction" --strata utt2label \
        "$data/fold${k}_train" "$data/fold${k}_tr" "$data/fold${k}_cv"
      for part in tr cv test; do
        utils/split_channels.sh --channels 1,2,3,4 "$data/fold${k}_$part" "$data/fold${k}_${part}_ch"
      done
      utils/validate_data_dir.sh "$data/fold${k}_tr" --disjoint-with "$data/fold${k}_cv"
      utils/validate_data_dir.sh "$data/fold${k}_tr" --disjoint-with "$data/fold${k}_test"
      python -m dcase_tk.bin.stamp done "$data/fold${k}_cv" --extra "$valid_fraction" \
        "$data/fold${k}_train" "$data/fold${k}_test"
    fi
  done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  while read -r name s; do
    feats=$dump/$name
    log "Stage 3: features conf/feats/$name.yaml of $data/dev$s -> $feats/dev$s"
    $make_feats_script --cmd "$train_cmd" --nj "$nj" --force "$force" --feat_config "conf/feats/$name.yaml" \
      "$data/dev$s" "$feats/dev$s"
    # each fold's parts are taken from the features of the whole development set
    for k in $fold_ids; do
      for part in tr cv test; do
        subset_features "$feats/dev$s" "$data/fold${k}_$part$s" "$feats/fold${k}_$part$s"
      done
    done
  done <<< "$layouts"
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  while read -r name s; do
    for k in $fold_ids; do
      log "Stage 4: global mean/variance statistics of $dump/$name/fold${k}_tr$s"
      $compute_cmvn_script --force "$force" "$dump/$name/fold${k}_tr$s"
    done
  done <<< "$layouts"
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  for system in $systems; do
    feats=$(feat_dir "$system")
    s=$(suffix "$system")
    train_folds "$system" "$feats/foldJOB_tr$s" "$feats/foldJOB_cv$s"
  done
fi

# decode_fold <system> <k> <set>: fold k's model on fold<k>_<set> -> $exp/<system>/fold<k>/<set>;
# a channel system decodes each channel (<set>_ch) and averages the 4 posteriors of each clip
decode_fold() {
  local system=$1 k=$2 set=$3 feats s
  feats=$(feat_dir "$system")
  s=$(suffix "$system")
  log "Stage $stage_now: inference $system fold $k on fold${k}_$set$s -> $exp/$system/fold$k/$set$s"
  $infer_script --cmd "$train_cmd" --num_threads "$num_threads" --gpu "$gpu" --force "$force" \
    "$exp/$system/fold$k" "$feats/fold${k}_$set$s" "$exp/$system/fold$k/$set$s"
  if [ -n "$s" ]; then
    log "Stage $stage_now: $system fold $k: the 4 channel posteriors of each clip averaged -> $exp/$system/fold$k/$set (each alone: ${set}_ch1..4)"
    python -m dcase_tk.bin.fuse_channels --verbose 0 --how mean --each_channel true "$feats/fold${k}_$set$s" \
      "$exp/$system/fold$k/$set$s" "$exp/$system/fold$k/$set"
  fi
}

# score_folds <system> <sets>: macro F1 of each fold's decode dir of each set (test, test_ch1 ...)
# and over the folds -> $exp/<system>/cv<suffix of the set>
score_folds() {
  local system=$1 set k out fold_dirs
  for set in $2; do
    fold_dirs=()
    for k in $fold_ids; do
      python -m dcase_tk.bin.score_classification --verbose 0 --submission_key 'audio/{utt}.wav' \
        "$data/fold${k}_test" "$exp/$system/fold$k/$set" > /dev/null
      fold_dirs+=("$exp/$system/fold$k/$set")
    done
    out=$exp/$system/cv${set#test}
    log "Stage $stage_now: $system, $set of the $folds folds -> $out/result.txt"
    python -m dcase_tk.bin.aggregate_folds --verbose 0 "$out" "${fold_dirs[@]}" > /dev/null
  done
  grep -E "^(macro_f1|accuracy) " "$exp/$system/cv/result.txt"
}

if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  stage_now=6
  for system in $systems; do
    for k in $fold_ids; do
      decode_fold "$system" "$k" test
    done
  done
fi

if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  stage_now=7
  for system in $systems; do
    sets=test
    [ -n "$(suffix "$system")" ] && sets="test test_ch1 test_ch2 test_ch3 test_ch4"
    score_folds "$system" "$sets"
  done
fi

results() {
  results_stage activity "DCASE 2018 Task 5 results" \
    "Macro F1 over the 9 activities on each fold's test clips; cv: mean +- std over the $folds folds. Channel systems: cv fuses the 4 channel posteriors of each clip, cv_chN is channel N alone. fusion_<name>: conf/fusion/<name>.yaml, fitted on each fold's validation clips."
}

if [ "$stage" -le 8 ] && [ "$stop_stage" -ge 8 ]; then
  results
fi

if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ] && [ -n "$fusions" ]; then
  stage_now=9
  for fusion in $fusions; do
    conf=conf/fusion/$fusion.yaml
    members=$(config_value "$conf" members)
    check_systems $members
    # each fold's fusion is fitted on that fold's validation clips (fold<k>_cv: sessions its
    # members did not train on), then applied to its test clips
    for member in $members; do
      for k in $fold_ids; do
        decode_fold "$member" "$k" cv
      done
    done
    fuse_folds "$fusion" test
    score_folds "fusion_$fusion" test
  done
  results
fi
log "Done."
