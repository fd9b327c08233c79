#!/usr/bin/env bash
# Train a system on one cross-validation fold: the system's training, then, when its config has
# a refine: section, label-refinement rounds (Task 2 self-verification and pseudo-label
# promotion; dcase_tk/train/refine.py). <exp-dir> ends up usable by steps/infer.sh either way.
#
#   <exp-dir>/system.yaml      the system config with --train_opts applied
#   without refine:            the training itself, in <exp-dir>
#   with refine.rounds = R:    <exp-dir>/round0 (the system's training), then for r = 1..R:
#     round<r>/candidates/     the --heldout clips still unverified (a dump-dir subset)
#     round<r>/scores/         their posteriors from round r-1's model (decoded as refine.decode)
#     round<r>/data/           the --heldout clips with revised utt2label/utt2verified/utt2promoted
#     round<r>/data_train/     what round r trains on: the training clips and round<r>/data, or,
#                              with refine.train_on verified, only the verified ones of each
#     round<r>/final.pt ...    round r's model: refine.overrides applied to the system config,
#                              fine-tuned from round r-1's model when refine.init is previous
#   and <exp-dir>/final.pt, config.yaml, cmvn.ark link to the round of best validation
#   refine.select_metric (rounds.txt lists them).
# --heldout: the fold's own unverified clips, left out of <train-dir>, so that the model judging
# their labels has not learnt them (Dorfer & Widmer self-verify held-out clips).
# Every part skips when done; a finished fold returns at once. Inner steps run through --cmd
# (default run.py: this script is itself one job of a fold array, see egs/dcase2018_task2/run.sh).
set -euo pipefail
cmd=run.py
num_threads=1
gpu=0
system_config=
heldout=         # dump dir of the clips the refine rounds judge (needed with a refine: section)
train_opts=      # --key value overrides of the system config, e.g. "--training.epochs 30"
force=false
help_message="Usage: $0 [options] --system_config <system.yaml> <train-dir> <valid-dir> <exp-dir>
  e.g. $0 --system_config conf/systems/self_verification.yaml dump/2/logmel64_32k/fold1_tr dump/2/logmel64_32k/fold1_cv exp/2/self_verification/fold1"
. parse_options.sh
if [ $# -ne 3 ] || [ -z "$system_config" ]; then echo "$help_message" >&2; exit 1; fi
train=$1
valid=$2
dir=$3
cmvn=$train/cmvn.ark

inputs=("$train" "$valid" "$cmvn" "$system_config" ${heldout:+"$heldout"})
if python -m dcase_tk.bin.stamp check "$dir" --name .done.fold --force "$force" --extra "$train_opts" "${inputs[@]}"; then
  echo "$0: $dir is trained"
  exit 0
fi
mkdir -p "$dir"
# shellcheck disable=SC2086  # train_opts is a list of options
python -m dcase_tk.bin.resolve_config "$system_config" "$dir/system.yaml" $train_opts
config_value() { python -m dcase_tk.bin.config_value "$@"; }
common=(--cmd "$cmd" --num_threads "$num_threads" --gpu "$gpu" --force "$force")
rounds=$(config_value --default 0 "$dir/system.yaml" refine.rounds)

if [ "$rounds" -eq 0 ]; then
  train_nnet.sh "${common[@]}" --cmvn "$cmvn" --system_config "$dir/system.yaml" "$train" "$valid" "$dir"
else
  [ -n "$heldout" ] || { echo "$0: $system_config has refine rounds: give --heldout <dump dir of the clips to judge>" >&2; exit 1; }
  train_nnet.sh "${common[@]}" --cmvn "$cmvn" --system_config "$dir/system.yaml" "$train" "$valid" "$dir/round0"
  # shellcheck disable=SC2046  # the overrides are a list of options
  python -m dcase_tk.bin.resolve_config "$dir/system.yaml" "$dir/round.yaml" \
    $(config_value --as_options "$dir/system.yaml" refine.overrides)
  decode_opts=$(config_value --as_options --prefix decode "$dir/system.yaml" refine.decode)
  train_on=$(config_value --default verified "$dir/system.yaml" refine.train_on)
  init=$(config_value --default previous "$dir/system.yaml" refine.init)
  if [ "$train_on" = verified ]; then
    subset_data_dir.sh --filter utt2verified 1 "$train" "$dir/train_verified"
  fi
  state=$heldout
  kept=("$dir/round0")
  for r in $(seq 1 "$rounds"); do
    prev=$dir/round$((r - 1))
    cur=$dir/round$r
    if ! grep -qw 0 <(cut -d' ' -f2 "$state/utt2verified"); then
      echo "$0: every held-out clip is verified before round $r; stopping the rounds"
      break
    fi
    mkdir -p "$cur"
    subset_data_dir.sh --filter utt2verified 0 "$state" "$cur/candidates"
    infer.sh "${common[@]}" --decode_opts "$decode_opts" "$prev" "$cur/candidates" "$cur/scores"
    python -m dcase_tk.bin.refine_labels --config "$dir/system.yaml" --round "$r" \
      --report "$cur/refine.json" "$state" "$cur/scores" "$cur/data"
    parts=("$train" "$cur/data")
    if [ "$train_on" = verified ]; then
      parts=("$dir/train_verified")
      if grep -qw 1 <(cut -d' ' -f2 "$cur/data/utt2verified"); then
        subset_data_dir.sh --filter utt2verified 1 "$cur/data" "$cur/promoted"
        parts+=("$cur/promoted")
      fi
    fi
    combine_data.sh "$cur/data_train" "${parts[@]}"
    init_opts=()
    [ "$init" = previous ] && init_opts=(--init "$prev/final.pt")
    train_nnet.sh "${common[@]}" "${init_opts[@]}" --cmvn "$cmvn" --system_config "$dir/round.yaml" \
      "$cur/data_train" "$valid" "$cur"
    state=$cur/data
    kept+=("$cur")
  done
  python -m dcase_tk.bin.select_round \
    --metric "$(config_value --default loss "$dir/system.yaml" refine.select_metric)" "$dir" "${kept[@]}"
fi
python -m dcase_tk.bin.stamp done "$dir" --name .done.fold --extra "$train_opts" "${inputs[@]}"
