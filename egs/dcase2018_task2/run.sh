#!/usr/bin/env bash
# DCASE 2018 Task 2: general-purpose audio tagging of Freesound clips (FSDKaggle2018, 41 classes,
# 0.3-30 s clips, 60 % of the training labels unverified), scored by MAP@3.
#
#   ./run.sh                                   # baseline and cnn8; the mini corpus when db.sh names none
#   ./run.sh --systems "self_verification noisy_label" --stage 5
#   ./run.sh --systems cnn8 --train_opts "--training.epochs 30"
#   ./run.sh --stage 9 --fusions weighted       # a fused system of baseline and cnn8 (conf/fusion)
#
# Stages: 0 corpus, 1 data prep (utt2label, utt2verified, utt2dur, seeded stratified splits of
# the verified and of the unverified clips into utt2fold), 2 fold data dirs (fold k: _cv its
# verified clips, the validation set; _tr the clips of the other folds; _uv its unverified clips,
# held out for the label-refinement rounds of self_verification and noisy_label), 3 features, 4 normalisation statistics
# of each fold's training set, 5 training: the folds run as parallel jobs of $train_cmd, one
# failing fold fails the stage with its log, a finished fold is skipped, 6 inference of each fold
# model on its validation clips and on the test set, 7 scoring: MAP@3 and accuracy per fold and
# over folds, the fold models' mean posteriors on the test set and its Kaggle submission, 8
# RESULTS.md, 9 fusion of systems (--fusions "<name> ...", conf/fusion/<name>.yaml, fitted out of
# fold: fold k's on the other folds' validation clips, the test set's on all of them; scored as
# in stage 7 and added to RESULTS.md). On the mini corpus each system's mini_corpus: overrides
# apply. Every step skips when its inputs are unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./path.sh
. ./cmd.sh
. ./db.sh

stage=0
stop_stage=100
systems="baseline cnn8"   # conf/systems/<name>.yaml
folds=4                   # cross-validation folds of the verified clips
nj=4                      # parallel jobs of the feature step
train_opts=               # extra overrides for every system's training, e.g. "--training.epochs 30"
num_threads=2             # threads of a training (fold) / inference job
gpu=0                     # GPUs per fold job (passed to the launcher)
force=false               # true: redo every step of the chosen stages
mini_corpus_opts=         # options of local/make_mini_corpus.py, e.g. "--train-per-class 20 --snr-db 0 10"
make_feats_script=steps/make_feats.sh
compute_cmvn_script=steps/compute_global_cmvn.sh
train_fold_script=steps/train_fold.sh
infer_script=steps/infer.sh
fuse_script=steps/fuse.sh
fusions=                  # stage 9: conf/fusion/<name>.yaml, each a new system exp/2/fusion_<name>
help_message="Usage: ./run.sh [options]   (DCASE 2018 Task 2 recipe; see the header of run.sh)"
. utils/parse_options.sh
. utils/recipe_helpers.sh

mini=false
if [ -n "$FSDKAGGLE2018" ]; then
  corpus=$FSDKAGGLE2018
else
  corpus=corpus/mini/FSDKaggle2018
  mini=true
fi
data=data/2
dump=dump/2
exp=exp/2
fold_ids=$(seq 1 "$folds")
check_systems $systems
feature_sets=$(for system in $systems; do config_value "conf/systems/$system.yaml" features; done | sort -u)

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  corpus_stage "Set FSDKAGGLE2018 in db.sh to the extracted FSDKaggle2018 release." "$corpus"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "Stage 1: data prep -> $data/train, $data/test"
  # the release's lists (either naming) define the data dirs; the audio is read at stage 3
  mapfile -t lists < <(find "$corpus" -maxdepth 2 -name '*.csv' | sort)
  if ! python -m dcase_tk.bin.stamp check "$data/train" --force "$force" --extra "$folds" "${lists[@]}"; then
    local/prepare_data.py --folds "$folds" "$corpus" "$data"
    utils/validate_data_dir.sh "$data/train" --disjoint-with "$data/test"
    python -m dcase_tk.bin.stamp done "$data/train" --extra "$folds" "${lists[@]}"
  fi
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  for k in $fold_ids; do
    log "Stage 2: fold $k -> $data/fold${k}_{tr,cv,uv}"
    if ! python -m dcase_tk.bin.stamp check "$data/fold${k}_cv" --force "$force" "$data/train"; then
      utils/subset_data_dir.sh --exclude utt2fold "$k" "$data/train" "$data/fold${k}_tr"
      utils/subset_data_dir.sh --filter utt2fold "$k" --filter utt2verified 1 "$data/train" "$data/fold${k}_cv"
      utils/subset_data_dir.sh --filter utt2fold "$k" --filter utt2verified 0 "$data/train" "$data/fold${k}_uv"
      utils/validate_data_dir.sh "$data/fold${k}_tr" --disjoint-with "$data/fold${k}_cv"
      utils/validate_data_dir.sh "$data/fold${k}_uv" --disjoint-with "$data/fold${k}_tr"
      python -m dcase_tk.bin.stamp done "$data/fold${k}_cv" "$data/train"
    fi
  done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  for name in $feature_sets; do
    feats=$dump/$name
    log "Stage 3: features conf/feats/$name.yaml -> $feats"
    for set in train test; do
      $make_feats_script --cmd "$train_cmd" --nj "$nj" --force "$force" --feat_config "conf/feats/$name.yaml" \
        "$data/$set" "$feats/$set"
    done
    # each fold's parts are taken from the features of the whole training set
    for k in $fold_ids; do
      for part in tr cv uv; do
        subset_features "$feats/train" "$data/fold${k}_$part" "$feats/fold${k}_$part"
      done
    done
  done
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  for name in $feature_sets; do
    for k in $fold_ids; do
      log "Stage 4: global mean/variance statistics of $dump/$name/fold${k}_tr"
      $compute_cmvn_script --force "$force" "$dump/$name/fold${k}_tr"
    done
  done
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  for system in $systems; do
    feats=$(feat_dir "$system")
    train_folds "$system" "$feats/foldJOB_tr" "$feats/foldJOB_cv" --heldout "$feats/foldJOB_uv"
  done
fi

if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  for system in $systems; do
    feats=$(feat_dir "$system")
    for k in $fold_ids; do
      log "Stage 6: inference $system fold $k on fold${k}_cv and test -> $exp/$system/fold$k/{cv,test}"
      $infer_script --cmd "$train_cmd" --num_threads "$num_threads" --gpu "$gpu" --force "$force" \
        "$exp/$system/fold$k" "$feats/fold${k}_cv" "$exp/$system/fold$k/cv"
      $infer_script --cmd "$train_cmd" --num_threads "$num_threads" --gpu "$gpu" --force "$force" \
        "$exp/$system/fold$k" "$feats/test" "$exp/$system/fold$k/test"
    done
  done
fi

# score_system <system>: MAP@3 of each fold model on its validation clips and over the folds
# (-> $exp/<system>/cv), and of the system's test decode dir
score_system() {
  local system=$1 k cv_dirs=()
  for k in $fold_ids; do
    log "Stage $stage_now: scoring $system fold $k (verified validation clips)"
    python -m dcase_tk.bin.score_tagging --verbose 0 "$data/fold${k}_cv" "$exp/$system/fold$k/cv"
    cv_dirs+=("$exp/$system/fold$k/cv")
  done
  log "Stage $stage_now: $system over the $folds folds -> $exp/$system/cv/result.txt"
  python -m dcase_tk.bin.aggregate_folds "$exp/$system/cv" "${cv_dirs[@]}"
  python -m dcase_tk.bin.score_tagging --verbose 0 "$data/test" "$exp/$system/test"
}

results() {
  results_stage tagging "DCASE 2018 Task 2 results" \
    "MAP@3 on the verified validation clips of each fold (cv: mean +- std over the $folds folds) and on the test set (the fold models' mean posteriors). fusion_<name>: conf/fusion/<name>.yaml; fold k's fusion fitted on the other folds' validation clips, the test set's on all of them."
}

if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  stage_now=7
  for system in $systems; do
    log "Stage 7: $system on the test set, mean of the fold models -> $exp/$system/test"
    python -m dcase_tk.bin.average_scores --how mean "$exp/$system/test" \
      $(for k in $fold_ids; do echo "$exp/$system/fold$k/test"; done)
    score_system "$system"
  done
fi

if [ "$stage" -le 8 ] && [ "$stop_stage" -ge 8 ]; then
  results
fi

# other_folds [k]: the fold numbers but k, on one line
other_folds() { local j out=(); for j in $fold_ids; do [ "$j" = "${1:-}" ] || out+=("$j"); done; echo "${out[*]}"; }
# cv_sets <fold>...: the members' decode dirs of those folds' validation clips, on one line
cv_sets() { local j out=(); for j in "$@"; do out+=("fold$j/cv"); done; echo "${out[*]}"; }

# pooled_cv <out> <fold>...: the data dir of the validation clips of those folds
pooled_cv() {
  local out=$1 k inputs=()
  shift
  for k in "$@"; do inputs+=("$data/fold${k}_cv"); done
  if ! python -m dcase_tk.bin.stamp check "$out" --force "$force" "${inputs[@]}"; then
    utils/combine_data.sh "$out" "${inputs[@]}"
    python -m dcase_tk.bin.stamp done "$out" "${inputs[@]}"
  fi
}

if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ] && [ -n "$fusions" ]; then
  stage_now=9
  # Out-of-fold fitting: each validation clip is scored by the one fold model that did not train
  # on it. Fold k's fusion is fitted on the other folds' validation clips (fold<k>_oof) and
  # applied to fold k's; the test set's fusion is fitted on all of them (oof).
  for k in $fold_ids; do
    pooled_cv "$data/fold${k}_oof" $(other_folds "$k")
  done
  pooled_cv "$data/oof" $(other_folds)
  for fusion in $fusions; do
    conf=conf/fusion/$fusion.yaml
    members=$(config_value "$conf" members)
    check_systems $members
    for k in $fold_ids; do
      log "Stage 9: fusion $fusion ($conf) of $(echo $members), fold $k -> $exp/fusion_$fusion/fold$k/cv"
      $fuse_script --force "$force" --fusion_config "$conf" --apply_sets "fold$k/cv" \
        --fit_on "$(cv_sets $(other_folds "$k"))" \
        --model_dir "$exp/fusion_$fusion/fold$k/model" "$exp" "$data/fold${k}_oof" "$exp/fusion_$fusion"
    done
    log "Stage 9: fusion $fusion of $(echo $members), test -> $exp/fusion_$fusion/test"
    $fuse_script --force "$force" --fusion_config "$conf" --apply_sets test \
      --fit_on "$(cv_sets $(other_folds))" "$exp" "$data/oof" "$exp/fusion_$fusion"
    score_system "fusion_$fusion"
  done
  results
fi
log "Done."
