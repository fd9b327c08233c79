#!/usr/bin/env bash
# DCASE 2018 Task 3: bird audio detection across datasets. Three labelled development datasets
# (freefield1010, warblrb10k, BirdVox-DCASE-20k) that differ in recording conditions; each fold
# trains on two and tests on the third, unseen one; the metric is the ROC AUC.
#
#   ./run.sh                                   # baseline, cnn8, domain_tuning; the mini corpus when db.sh names none
#   ./run.sh --systems cnn8 --stage 5 --train_opts "--training.epochs 30"
#   ./run.sh --stage 9 --fusions "logistic rank"   # fused systems (conf/fusion)
#
# Stages: 0 corpus, 1 data prep (dev, fold<k>_{train,test}: leave one dataset out, folds.txt),
# 2 per fold: 16 % of the training clips of each dataset and class held out for model selection
# (fold<k>_{tr,cv}), 3 features, 4 domain adaptation of the features of systems with a domain:
# section (per-dataset normalisation or CORAL, steps/domain_adapt.sh) and normalisation
# statistics of each fold's training set,
# 5 training: the folds run as parallel jobs of $train_cmd, 6 inference on each held-out
# dataset, 7 scoring (fusion systems first average their members' posteriors): the AUC of each held-out dataset, pooled into cv (every development clip
# scored by the model that never saw its dataset: per-dataset AUCs, their harmonic mean, ROC
# curves; with BAD2018_EVAL, the fold models' mean on the evaluation set and its submission
# file), 8 RESULTS.md, 9 fusion of systems (--fusions "<name> ...", conf/fusion/<name>.yaml: each
# fold's fusion fitted on its validation clips and applied to its held-out dataset, scored as in
# stage 7, added to RESULTS.md). Every step skips when its inputs are unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./path.sh
. ./cmd.sh
. ./db.sh

stage=0
stop_stage=100
systems="baseline cnn8 domain_tuning"   # conf/systems/<name>.yaml
nj=4                      # parallel jobs of the feature step
valid_fraction=0.16       # of each fold's training clips, for model selection (Liaqat et al.: 16 %)
train_opts=               # extra overrides for every system's training, e.g. "--training.epochs 30"
num_threads=2             # threads of a training (fold) / inference job
gpu=0                     # GPUs per fold job (passed to the launcher)
force=false               # true: redo every step of the chosen stages
mini_corpus_opts=         # options of local/make_mini_corpus.py, e.g. "--per-dataset 40"
make_feats_script=steps/make_feats.sh
compute_cmvn_script=steps/compute_global_cmvn.sh
train_fold_script=steps/train_fold.sh
infer_script=steps/infer.sh
fuse_script=steps/fuse.sh
fusions=                  # stage 9: conf/fusion/<name>.yaml, each a new system exp/3/fusion_<name>
help_message="Usage: ./run.sh [options]   (DCASE 2018 Task 3 recipe; see the header of run.sh)"
. utils/parse_options.sh
. utils/recipe_helpers.sh

folds=3
mini=false
if [ -n "$BAD2018_DEV" ]; then
  corpus=$BAD2018_DEV
else
  corpus=corpus/mini/BAD2018
  mini=true
fi
data=data/3
dump=dump/3
exp=exp/3
fold_ids=$(seq 1 "$folds")
check_systems $systems
# A fusion system (a fusion: section) averages the posteriors of its members, which are trained
# like any other system; "trained" is every system with a model, members first.
members() { config_value --default "" "conf/systems/$1.yaml" fusion.members; }
trained=$(for system in $systems; do members "$system"; [ -n "$(members "$system")" ] || echo "$system"; done | awk '!seen[$0]++')
check_systems $trained
# A system with a domain: section trains on features adapted across datasets (stage 4):
# $dump/<features>_<method>; the others on $dump/<features>.
domain_method() { config_value --default "" "conf/systems/$1.yaml" domain.method; }
system_feats() {
  local method
  method=$(domain_method "$1")
  echo "$(feat_dir "$1")${method:+_$method}"
}
# The evaluation set is decoded by the plain systems (domain adaptation would need the
# evaluation datasets' own statistics, not built yet).
has_eval() { [ -n "$BAD2018_EVAL" ] && [ -z "$(members "$1")" ] && [ -z "$(domain_method "$1")" ]; }
feature_sets=$(for system in $trained; do config_value "conf/systems/$system.yaml" features; done | sort -u)
sets=dev
[ -n "$BAD2018_EVAL" ] && sets="dev eval"

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  corpus_stage "Set BAD2018_DEV in db.sh to the folder of the extracted development datasets." "$corpus"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "Stage 1: data prep -> $data/dev, $data/fold{1..$folds}_{train,test}"
  mapfile -t lists < <(find "$corpus" -maxdepth 1 -name '*.csv' | sort)
  if ! python -m dcase_tk.bin.stamp check "$data/dev" --force "$force" --extra "$BAD2018_EVAL" "${lists[@]}"; then
    local/prepare_data.py ${BAD2018_EVAL:+--eval-root "$BAD2018_EVAL"} "$corpus" "$data"
    utils/validate_data_dir.sh "$data/dev"
    python -m dcase_tk.bin.stamp done "$data/dev" --extra "$BAD2018_EVAL" "${lists[@]}"
  fi
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  for k in $fold_ids; do
    log "Stage 2: fold $k (held out: $(awk -v k="$k" '$1 == k {print $2}' "$data/folds.txt")) -> $data/fold${k}_{tr,cv}"
    if ! python -m dcase_tk.bin.stamp check "$data/fold${k}_cv" --force "$force" --extra "$valid_fraction" "$data/fold${k}_train"; then
      utils/split_validation.sh --groups utt --fraction "$valid_fraction" --strata "utt2dataset utt2label" \
        "$data/fold${k}_train" "$data/fold${k}_tr" "$data/fold${k}_cv"
      utils/validate_data_dir.sh "$data/fold${k}_tr" --disjoint-with "$data/fold${k}_test"
      python -m dcase_tk.bin.stamp done "$data/fold${k}_cv" --extra "$valid_fraction" "$data/fold${k}_train"
    fi
  done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  for name in $feature_sets; do
    feats=$dump/$name
    for set in $sets; do
      log "Stage 3: features conf/feats/$name.yaml of $data/$set -> $feats/$set"
      $make_feats_script --cmd "$train_cmd" --nj "$nj" --force "$force" --feat_config "conf/feats/$name.yaml" \
        "$data/$set" "$feats/$set"
    done
    for k in $fold_ids; do
      for part in tr cv test; do
        subset_features "$feats/dev" "$data/fold${k}_$part" "$feats/fold${k}_$part"
      done
    done
  done
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  for system in $trained; do
    method=$(domain_method "$system")
    [ -n "$method" ] || continue
    plain=$(feat_dir "$system")
    adapted=$(system_feats "$system")
    for k in $fold_ids; do
      held_out=$(awk -v k="$k" '$1 == k {print $2}' "$data/folds.txt")
      log "Stage 4: $method of $plain/fold${k}_{tr,cv,test} (statistics of all three; target $held_out) -> $adapted"
      for part in tr cv test; do
        steps/domain_adapt.sh --force "$force" --method "$method" --target "$([ "$method" = coral ] && echo "$held_out")" \
          --reg "$(config_value --default 1.0 "conf/systems/$system.yaml" domain.reg)" \
          --center "$(config_value --default false "conf/systems/$system.yaml" domain.center | tr A-Z a-z)" \
          --stats_from "$plain/fold${k}_tr $plain/fold${k}_cv $plain/fold${k}_test" \
          "$plain/fold${k}_$part" "$adapted/fold${k}_$part"
      done
    done
  done
  for feats in $(for system in $trained; do system_feats "$system"; done | sort -u); do
    for k in $fold_ids; do
      log "Stage 4: global mean/variance statistics of $feats/fold${k}_tr"
      $compute_cmvn_script --force "$force" "$feats/fold${k}_tr"
    done
  done
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  for system in $trained; do
    feats=$(system_feats "$system")
    train_folds "$system" "$feats/foldJOB_tr" "$feats/foldJOB_cv"
  done
fi

if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  for system in $trained; do
    feats=$(system_feats "$system")
    for k in $fold_ids; do
      log "Stage 6: inference $system fold $k on its held-out dataset -> $exp/$system/fold$k/test"
      $infer_script --cmd "$train_cmd" --num_threads "$num_threads" --gpu "$gpu" --force "$force" \
        "$exp/$system/fold$k" "$feats/fold${k}_test" "$exp/$system/fold$k/test"
      if has_eval "$system"; then
        $infer_script --cmd "$train_cmd" --num_threads "$num_threads" --gpu "$gpu" --force "$force" \
          "$exp/$system/fold$k" "$feats/eval" "$exp/$system/fold$k/eval"
      fi
    done
  done
fi

# score_folds <system> <eval: true|false>: the AUC of each held-out dataset, and of all of them
# pooled into cv; with eval true, the fold models' mean on the evaluation set and its submission
score_folds() {
  local system=$1 k test_dirs=()
  for k in $fold_ids; do
    python -m dcase_tk.bin.score_detection --verbose 0 "$data/fold${k}_test" "$exp/$system/fold$k/test" > /dev/null
    test_dirs+=("$exp/$system/fold$k/test")
  done
  log "Stage $stage_now: $system, the $folds held-out datasets pooled -> $exp/$system/cv/result.txt"
  python -m dcase_tk.bin.combine_scores --verbose 0 "$exp/$system/cv" "${test_dirs[@]}"
  python -m dcase_tk.bin.score_detection --verbose 0 "$data/dev" "$exp/$system/cv"
  if [ "$2" = true ]; then
    log "Stage $stage_now: $system on the evaluation set, mean of the fold models -> $exp/$system/eval/submission.csv"
    python -m dcase_tk.bin.average_scores --verbose 0 --how mean "$exp/$system/eval" \
      $(for k in $fold_ids; do echo "$exp/$system/fold$k/eval"; done)
    python -m dcase_tk.bin.score_detection --verbose 0 "$data/eval" "$exp/$system/eval"
  fi
}

results() {
  results_stage detection "DCASE 2018 Task 3 results" \
    "ROC AUC of the bird posterior. cv: every development clip scored by the fold model that did not train on its dataset; the AUC of each dataset, their harmonic mean, and the AUC of all clips pooled. fusion_<name>: conf/fusion/<name>.yaml, fitted on each fold's validation clips."
}

if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  stage_now=7
  for system in $(echo $trained $systems | tr ' ' '\n' | awk '!seen[$0]++'); do
    fused=$(members "$system")
    if [ -n "$fused" ]; then
      how=$(config_value --default mean "conf/systems/$system.yaml" fusion.how)
      for k in $fold_ids; do
        log "Stage 7: $system fold $k: $how of $(echo $fused)"
        python -m dcase_tk.bin.average_scores --verbose 0 --how "$how" \
          "$exp/$system/fold$k/test" $(for m in $fused; do echo "$exp/$m/fold$k/test"; done)
      done
      cp "conf/systems/$system.yaml" "$exp/$system/config.yaml"
    fi
    score_folds "$system" "$(has_eval "$system" && echo true || echo false)"
  done
fi

if [ "$stage" -le 8 ] && [ "$stop_stage" -ge 8 ]; then
  results
fi

if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ] && [ -n "$fusions" ]; then
  stage_now=9
  for fusion in $fusions; do
    conf=conf/fusion/$fusion.yaml
    members=$(config_value "$conf" members)
    check_systems $members
    with_eval=true apply=test
    for member in $members; do
      [ -n "$(members "$member")" ] && { echo "run.sh: $conf: member $member is a fusion: section system; list its members instead" >&2; exit 1; }
      has_eval "$member" || with_eval=false
    done
    $with_eval && apply="test eval"
    # each fold's fusion is fitted on that fold's validation clips (fold<k>_cv, from the two
    # training datasets), then applied to its held-out dataset (and the evaluation set)
    for member in $members; do
      for k in $fold_ids; do
        log "Stage 9: inference $member fold $k on fold${k}_cv -> $exp/$member/fold$k/cv"
        $infer_script --cmd "$train_cmd" --num_threads "$num_threads" --gpu "$gpu" --force "$force" \
          "$exp/$member/fold$k" "$(system_feats "$member")/fold${k}_cv" "$exp/$member/fold$k/cv"
      done
    done
    # shellcheck disable=SC2086  # apply is a list of sets
    fuse_folds "$fusion" $apply
    score_folds "fusion_$fusion" "$with_eval"
  done
  results
fi
log "Done."
