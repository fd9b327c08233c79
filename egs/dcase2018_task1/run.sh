#!/usr/bin/env bash
# DCASE 2018 Task 1: acoustic scene classification, subtasks A (one device), B (mismatched
# devices, ranked on devices B+C) and C (A's data, external data allowed).
#
#   ./run.sh                               # subtask A; the mini corpus when db.sh names none
#   ./run.sh --subtask b --stage 6         # from training on
#   ./run.sh --systems "baseline" --train_opts "--training.epochs 50"
#   ./run.sh --systems "cnn8 xvector"        # any conf/systems/<name>.yaml
#
#   ./run.sh --systems "ivector ivector_svm"  # i-vectors (conf/ivector/mfcc60.yaml) + back ends
#   ./run.sh --systems "baseline cnn4 cnn8" --fusions "mean weighted"   # + fused systems (conf/fusion)
#   ./run.sh --subtask b --systems "baseline adv_da"   # + the baseline adapted to devices B, C
#   ./run.sh --subtask c --external_data "data/my_clips"  # + external training data (docs/task1.md)
#
# Stages: 0 corpus, 1 data prep, 2 features, 3 normalisation statistics, 4 UBM, i-vector
# extractor and i-vectors (systems with an ivector: entry), 5 their back ends and scores,
# 6 training, 7 inference (for embedding systems: embeddings, back-end training and scoring),
# 8 scoring and RESULTS.md, 9 fusion of systems (--fusions; fitted on the validation split,
# scored, and added to RESULTS.md). On the mini corpus each system's (and i-vector config's) mini_corpus:
# overrides apply. Every step skips when its inputs are unchanged.
#
# Adaptation systems (subtask b; a system YAML with an adapt: section, e.g. adv_da): stage 1 also
# writes data/1b/train_target, the training clips of the devices other than --train_device (the
# target domain), split by the locations of train_deva_tr/_cv into train_target_tr (adaptation
# data; its labels are never read) and train_target_cv (held-out clips whose labels only choose
# the adapted epoch); stage 6 adapts the trained system adapt.from (exp/1b/<from>/final.pt) with
# steps/adapt_nnet.sh, after training the other systems. The source system must be in --systems
# too, or trained by an earlier run. --train_opts does not reach adaptation systems: --adapt_opts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
. ./path.sh
. ./cmd.sh
. ./db.sh

stage=0
stop_stage=100
subtask=a                 # a | b | c
systems="baseline"        # conf/systems/<name>.yaml
nj=4                      # parallel jobs of the feature step
download=false            # true: fetch the real corpus from Zenodo (MD5-checked) into downloads/
train_device=             # train on this device only; default: all for a/c, "a" for b (as the baseline)
valid_fraction=0.3        # of the training locations held out for model selection
train_opts=               # extra overrides for every system's training, e.g. "--training.epochs 50"
adapt_opts=               # extra overrides for every adaptation system, e.g. "--adapt.epochs 50"
external_data=            # subtask c: data dirs of external labelled clips, added to training only
num_threads=2             # threads of a training / inference job
gpu=0                     # GPUs per training job (passed to the launcher)
force=false               # true: redo every step of the chosen stages
make_feats_script=steps/make_feats.sh
compute_cmvn_script=steps/compute_global_cmvn.sh
train_nnet_script=steps/train_nnet.sh
adapt_nnet_script=steps/adapt_nnet.sh
infer_script=steps/infer.sh
train_backend_script=steps/train_backend.sh
score_backend_script=steps/score_backend.sh
train_ubm_script=steps/train_ubm.sh
train_ivector_extractor_script=steps/train_ivector_extractor.sh
extract_ivectors_script=steps/extract_ivectors.sh
score_script=steps/score.sh
fuse_script=steps/fuse.sh
fusions=                  # stage 9: conf/fusion/<name>.yaml, each a new system exp/1X/fusion_<name>
help_message="Usage: ./run.sh [options]   (DCASE 2018 Task 1 recipe; see the header of run.sh)"
. utils/parse_options.sh

log() { echo "$(date '+%F %T') (run.sh) $*"; }
if [ -n "$external_data" ] && [ "$subtask" != c ]; then
  echo "run.sh: --external_data is for --subtask c (the subtask that allows external data)" >&2; exit 1
fi
case "$subtask" in
  a|c) release=TUT-urban-acoustic-scenes-2018-development; db_root=$TUT2018_DEV; fs=48k; mini_subtask=a
       eval_root=$TUT2018_EVAL; leaderboard_root=$TUT2018_LEADERBOARD ;;
  b) release=TUT-urban-acoustic-scenes-2018-mobile-development; db_root=$TUT2018_MOBILE_DEV; fs=44k; mini_subtask=b
     eval_root=$TUT2018_MOBILE_EVAL; leaderboard_root=$TUT2018_MOBILE_LEADERBOARD
     train_device=${train_device:-a} ;;
  *) echo "run.sh: --subtask must be a, b or c, got '$subtask'" >&2; exit 1 ;;
esac
mini=false
if [ -n "$db_root" ]; then
  corpus=$db_root
elif [ "$download" = true ]; then
  corpus=downloads/$release
else
  corpus=corpus/mini/$release
  mini=true
fi
data=data/1$subtask
dump=dump/1$subtask
exp=exp/1$subtask
train_set=train
[ -n "$train_device" ] && train_set=train_dev$train_device
# the target domain of adaptation systems (subtask b): the other devices' training clips
target_parts=
[ "$subtask" = b ] && target_parts="train_target_tr train_target_cv"
# the labelled fold-1 test set, then the unlabelled sets db.sh names (submission files only)
eval_sets="test"
prep_opts=()
[ -n "$eval_root" ] && eval_sets="$eval_sets evaluation" && prep_opts+=(--eval-root "$eval_root")
[ -n "$leaderboard_root" ] && eval_sets="$eval_sets leaderboard" && prep_opts+=(--leaderboard-root "$leaderboard_root")
config_value() { python -m dcase_tk.bin.config_value "$@"; }
# An i-vector system's features are those of its i-vector config (conf/ivector/<name>.yaml).
ivector_name() { config_value --default "" "conf/systems/$1.yaml" ivector; }
feat_name() {
  local ivector
  ivector=$(ivector_name "$1")
  if [ -n "$ivector" ]; then config_value "conf/ivector/$ivector.yaml" features
  else config_value "conf/systems/$1.yaml" features; fi
}
feat_conf() {
  local name=$1
  if [ -f "conf/feats/${name}_$fs.yaml" ]; then echo "conf/feats/${name}_$fs.yaml"; else echo "conf/feats/$name.yaml"; fi
}
feat_dir() { echo "$dump/$(basename "$(feat_conf "$1")" .yaml)"; }
mini_opts() { if $mini; then config_value --as_options "$1" mini_corpus; fi; }
# The system's overrides for the mini corpus (its mini_corpus: section), then --train_opts.
system_opts() {
  local opts
  opts=$(mini_opts "conf/systems/$1.yaml")
  echo "$opts${opts:+${train_opts:+ }}$train_opts"
}
has_backend() { [ -n "$(config_value --as_options "conf/systems/$1.yaml" backend)" ]; }
# An adaptation system's source system (its adapt.from), or nothing.
adapt_source() { config_value --default "" "conf/systems/$1.yaml" adapt.from; }
# back_end <stage> <system> <embeddings dir prefix>: train the system's back end on
# <prefix><train set>_tr and score <prefix><set> of every evaluation set into exp/<system>/<set>
back_end() {
  local stage=$1 system=$2 prefix=$3 set
  log "Stage $stage: back end of $system on ${prefix}${train_set}_tr -> $exp/$system/backend"
  $train_backend_script --force "$force" --system_config "conf/systems/$system.yaml" \
    "${prefix}${train_set}_tr" "$data/${train_set}_tr" "$exp/$system/backend"
  for set in $eval_sets; do
    $score_backend_script --force "$force" "$exp/$system/backend" "${prefix}$set" "$exp/$system/$set"
  done
}
ivector_systems=
nnet_systems=
adapt_systems=            # also in nnet_systems: trained in stage 6 after the others
for system in $systems; do
  [ -f "conf/systems/$system.yaml" ] || { echo "run.sh: no conf/systems/$system.yaml" >&2; exit 1; }
done
for system in $systems; do
  if [ -n "$(ivector_name "$system")" ]; then ivector_systems="$ivector_systems $system"
  else nnet_systems="$nnet_systems $system"; fi
  from=$(adapt_source "$system")
  [ -n "$from" ] || continue
  adapt_systems="$adapt_systems $system"
  if [ "$subtask" != b ]; then
    echo "run.sh: $system adapts $from to other devices: it is for --subtask b" >&2; exit 1
  fi
  if [ ! -f "conf/systems/$from.yaml" ] || [ -n "$(ivector_name "$from")" ] || has_backend "$from" || \
      [ "$(feat_name "$from")" != "$(feat_name "$system")" ]; then
    echo "run.sh: $system (adapt.from: $from) needs conf/systems/$from.yaml, a network system without a" \
      "back end on the same features ($(feat_name "$system"))" >&2; exit 1
  fi
done

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  log "Stage 0: corpus ($corpus)"
  if [ -n "$db_root" ]; then
    [ -f "$corpus/meta.csv" ] || { echo "run.sh: db.sh points to $corpus, which has no meta.csv" >&2; exit 1; }
  elif [ "$download" = true ]; then
    local/download.py --subtask "$mini_subtask" downloads downloads
  else
    utils/make_mini_corpus.sh --force "$force" --hint "Set TUT2018_DEV / TUT2018_MOBILE_DEV in db.sh, or run with --download true." \
      "$corpus" local/make_mini_corpus.py --subtask "$mini_subtask" corpus/mini
  fi
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "Stage 1: data prep -> $data"
  inputs=("$corpus/meta.csv" "$corpus/evaluation_setup")
  extra="$subtask $train_device $valid_fraction ${prep_opts[*]}${target_parts:+ $target_parts}"
  [ -n "$external_data" ] && inputs+=($external_data)
  if ! python -m dcase_tk.bin.stamp check "$data" --force "$force" --extra "$extra" "${inputs[@]}"; then
    local/prepare_data.py --subtask "$subtask" "${prep_opts[@]}" "$corpus" "$data"
    if [ "$train_set" != train ]; then
      utils/subset_data_dir.sh --filter utt2device "$train_device" "$data/train" "$data/$train_set"
    fi
    utils/split_validation.sh --fraction "$valid_fraction" --strata "utt2label utt2city" \
      "$data/$train_set" "$data/${train_set}_tr" "$data/${train_set}_cv"
    utils/validate_data_dir.sh "$data/train" --disjoint-with "$data/test"
    utils/validate_data_dir.sh "$data/${train_set}_tr" --disjoint-with "$data/${train_set}_cv"
    if [ -n "$target_parts" ]; then
      # the target domain, split by the locations of the source's split, so that no location of
      # train_target_cv (labels read to choose the adapted epoch) is in the source training set
      utils/subset_data_dir.sh --exclude utt2device "$train_device" "$data/train" "$data/train_target"
      for part in tr cv; do
        utils/subset_data_dir.sh --utt-list <(awk 'NR == FNR { keep[$2]; next } $2 in keep' \
          "$data/${train_set}_$part/utt2spk" "$data/train_target/utt2spk") "$data/train_target" "$data/train_target_$part"
      done
      utils/validate_data_dir.sh "$data/train_target_tr" --disjoint-with "$data/train_target_cv"
      utils/validate_data_dir.sh "$data/train_target_cv" --disjoint-with "$data/${train_set}_tr"
    fi
    if [ -n "$external_data" ]; then
      # subtask c: the external clips join train (so stage 2 extracts their features) and
      # train_tr, never train_cv, which chooses the epoch on the challenge's own recordings
      log "Stage 1: external data $external_data -> $data/train, $data/${train_set}_tr"
      for dir in $external_data; do utils/validate_data_dir.sh "$dir"; done
      utils/combine_data.sh "$data/external" $external_data
      for set in train ${train_set}_tr; do
        utils/combine_data.sh "$data/$set.tmp" "$data/$set" "$data/external"
        rm -rf "$data/$set" && mv "$data/$set.tmp" "$data/$set"
      done
      utils/validate_data_dir.sh "$data/train" --disjoint-with "$data/test"
      utils/validate_data_dir.sh "$data/${train_set}_tr" --disjoint-with "$data/${train_set}_cv"
    fi
    python -m dcase_tk.bin.stamp done "$data" --extra "$extra" "${inputs[@]}"
  fi
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  for system in $systems; do
    feats=$(feat_dir "$(feat_name "$system")")
    conf=$(feat_conf "$(feat_name "$system")")
    log "Stage 2: features $conf -> $feats"
    for set in train $eval_sets; do
      $make_feats_script --cmd "$train_cmd" --nj "$nj" --force "$force" --feat_config "$conf" "$data/$set" "$feats/$set"
    done
    # The training and validation parts (and the target domain's) are taken from the features
    # of the whole training set.
    for part in ${train_set}_tr ${train_set}_cv $target_parts; do
      if ! python -m dcase_tk.bin.stamp check "$feats/$part" --force "$force" "$feats/train" "$data/$part"; then
        utils/subset_data_dir.sh --utt-list "$data/$part/wav.scp" "$feats/train" "$feats/$part"
        python -m dcase_tk.bin.stamp done "$feats/$part" "$feats/train" "$data/$part"
      fi
    done
  done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  for system in $systems; do
    feats=$(feat_dir "$(feat_name "$system")")
    log "Stage 3: global mean/variance statistics of $feats/${train_set}_tr"
    $compute_cmvn_script --force "$force" "$feats/${train_set}_tr"
  done
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  for ivector in $(for system in $ivector_systems; do ivector_name "$system"; done | sort -u); do
    conf=conf/ivector/$ivector.yaml
    feats=$(feat_dir "$(config_value "$conf" features)")
    dir=$exp/ivector_$ivector
    opts=$(mini_opts "$conf")
    log "Stage 4: UBM, i-vector extractor ($conf) on $feats/${train_set}_tr -> $dir ${opts:+(overrides: $opts)}"
    common=(--cmd "$train_cmd" --nj "$nj" --num_threads "$num_threads" --gpu "$gpu" --force "$force")
    $train_ubm_script "${common[@]}" --ivector_config "$conf" --opts "$opts" "$feats/${train_set}_tr" "$dir/ubm"
    $train_ivector_extractor_script "${common[@]}" --ivector_config "$conf" --opts "$opts" \
      "$feats/${train_set}_tr" "$dir/ubm" "$dir/extractor"
    for set in ${train_set}_tr $eval_sets; do
      log "Stage 4: i-vectors of $set -> $dir/ivectors_$set"
      $extract_ivectors_script "${common[@]}" "$dir/extractor" "$feats/$set" "$dir/ivectors_$set"
    done
  done
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  for system in $ivector_systems; do
    back_end 5 "$system" "$exp/ivector_$(ivector_name "$system")/ivectors_"
  done
fi

if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  for system in $nnet_systems; do
    [ -n "$(adapt_source "$system")" ] && continue       # below, once the systems they adapt are
    feats=$(feat_dir "$(feat_name "$system")")
    opts=$(system_opts "$system")
    log "Stage 6: training $system -> $exp/$system ${opts:+(overrides: $opts)}"
    $train_nnet_script --cmd "$train_cmd" --num_threads "$num_threads" --gpu "$gpu" --force "$force" \
      --system_config "conf/systems/$system.yaml" --train_opts "$opts" \
      "$feats/${train_set}_tr" "$feats/${train_set}_cv" "$exp/$system"
  done
  for system in $adapt_systems; do
    from=$(adapt_source "$system")
    feats=$(feat_dir "$(feat_name "$system")")
    if [ ! -f "$exp/$from/final.pt" ]; then
      echo "run.sh: $system adapts $from, which is not trained ($exp/$from/final.pt is missing):" \
        "run with --systems \"$from $system\", or train $from first" >&2; exit 1
    fi
    opts=$(mini_opts "conf/systems/$system.yaml")
    opts="$opts${opts:+${adapt_opts:+ }}$adapt_opts"
    log "Stage 6: adversarial adaptation of $from to the devices of train_target -> $exp/$system ${opts:+(overrides: $opts)}"
    $adapt_nnet_script --cmd "$train_cmd" --num_threads "$num_threads" --gpu "$gpu" --force "$force" \
      --system_config "conf/systems/$system.yaml" --init "$exp/$from/final.pt" --adapt_opts "$opts" \
      "$feats/${train_set}_tr" "$feats/${train_set}_cv" "$feats/train_target_tr" "$feats/train_target_cv" "$exp/$system"
  done
fi

if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  for system in $nnet_systems; do
    feats=$(feat_dir "$(feat_name "$system")")
    if has_backend "$system"; then
      # embedding systems: embeddings of the training and test sets, a back end trained on the
      # former (LDA, cosine to class means), posteriors of the latter
      for set in ${train_set}_tr $eval_sets; do
        log "Stage 7: embeddings of $set from $system -> $exp/$system/$set"
        $infer_script --embeddings true --cmd "$train_cmd" --num_threads "$num_threads" --gpu "$gpu" \
          --force "$force" "$exp/$system" "$feats/$set" "$exp/$system/$set"
      done
      back_end 7 "$system" "$exp/$system/"
      continue
    fi
    for set in $eval_sets; do
      log "Stage 7: inference $system on $set -> $exp/$system/$set"
      $infer_script --cmd "$train_cmd" --num_threads "$num_threads" --gpu "$gpu" --force "$force" \
        "$exp/$system" "$feats/$set" "$exp/$system/$set"
    done
  done
fi

average=                  # scoring: the devices averaged (1B ranks on B and C)
[ "$subtask" = b ] && average=b,c
results_table() {
  local note="Class-averaged accuracy on the fold-1 test set."
  $mini && note="$note MINI CORPUS (synthetic, made by local/make_mini_corpus.py): these figures check the pipeline and are not comparable to the published ones."
  python -m dcase_tk.bin.make_results_table --exp exp --output RESULTS.md \
    --title "DCASE 2018 Task 1 results" --note "$note" --verbose 0
}

if [ "$stage" -le 8 ] && [ "$stop_stage" -ge 8 ]; then
  for system in $systems; do
    for set in $eval_sets; do
      log "Stage 8: scoring $system on $set"
      $score_script --force "$force" --device_average "$average" --submission_key "audio/{utt}.wav" \
        "$data/$set" "$exp/$system/$set"
    done
  done
  results_table
fi

if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ] && [ -n "$fusions" ]; then
  for fusion in $fusions; do
    conf=conf/fusion/$fusion.yaml
    members=$(config_value "$conf" members)
    # fitted methods fit on the members' posteriors of the validation split (or the config's
    # fit_on), which stage 7 does not decode
    fit_set=$(config_value --default "${train_set}_cv" "$conf" fit_on)
    for member in $members; do
      if [ -n "$(ivector_name "$member")" ] || has_backend "$member"; then
        echo "run.sh: $conf: member $member has a back end; stage 9 fuses network systems only" >&2; exit 1
      fi
      feats=$(feat_dir "$(feat_name "$member")")
      log "Stage 9: inference $member on $fit_set -> $exp/$member/$fit_set"
      $infer_script --cmd "$train_cmd" --num_threads "$num_threads" --gpu "$gpu" --force "$force" \
        "$exp/$member" "$feats/$fit_set" "$exp/$member/$fit_set"
    done
    log "Stage 9: fusion $fusion ($conf) of $members -> $exp/fusion_$fusion"
    $fuse_script --force "$force" --fusion_config "$conf" --fit_on "$fit_set" --apply_sets "$eval_sets" \
      "$exp" "$data/$fit_set" "$exp/fusion_$fusion"
    for set in $eval_sets; do
      $score_script --force "$force" --device_average "$average" --submission_key "audio/{utt}.wav" \
        "$data/$set" "$exp/fusion_$fusion/$set"
    done
  done
  results_table
fi
log "Done."
