# Shell functions the recipes share; source it from run.sh after utils/parse_options.sh:
#
#   . utils/recipe_helpers.sh
#
# They read the recipe's variables where named: $dump, $mini (true on the mini corpus),
# $train_opts and $force.

log() { echo "$(date '+%F %T') (run.sh) $*"; }

config_value() { python -m dcase_tk.bin.config_value "$@"; }

# check_systems <name>...: every conf/systems/<name>.yaml exists
check_systems() {
  local system
  for system in "$@"; do
    [ -f "conf/systems/$system.yaml" ] || { echo "run.sh: no conf/systems/$system.yaml" >&2; exit 1; }
  done
}

# feat_dir <system>: $dump/<the system's features:>
feat_dir() { echo "$dump/$(config_value "conf/systems/$1.yaml" features)"; }

# system_opts <system>: its mini_corpus: overrides on the mini corpus, then --train_opts
system_opts() {
  local opts=
  if $mini; then opts=$(config_value --as_options "conf/systems/$1.yaml" mini_corpus); fi
  echo "$opts${opts:+${train_opts:+ }}$train_opts"
}

# subset_features <dump-dir> <data-dir> <out-dir>: the utterances of <data-dir> taken from the
# features of <dump-dir> (no second extraction), skipped while both are unchanged
subset_features() {
  if ! python -m dcase_tk.bin.stamp check "$3" --force "$force" "$1" "$2"; then
    utils/subset_data_dir.sh --utt-list "$2/wav.scp" "$1" "$3"
    python -m dcase_tk.bin.stamp done "$3" "$1" "$2"
  fi
}

# corpus_stage <hint> <generator arguments>: stage 0. Without a corpus in db.sh ($mini), make the
# mini corpus at $corpus with local/make_mini_corpus.py $mini_corpus_opts <arguments>
# (utils/make_mini_corpus.sh; <hint> says which db.sh variable to set); otherwise check $corpus.
corpus_stage() {
  local hint=$1
  shift
  log "Stage 0: corpus ($corpus)"
  if $mini; then
    # shellcheck disable=SC2086  # a list of options
    utils/make_mini_corpus.sh --force "$force" --hint "$hint" "$corpus" local/make_mini_corpus.py $mini_corpus_opts "$@"
  else
    [ -d "$corpus" ] || { echo "run.sh: db.sh points to $corpus, which is not a directory" >&2; exit 1; }
  fi
}

# train_folds <system> <train dir> <valid dir> [steps/train_fold.sh options]: stage 5, the
# $folds folds of <system> as one array of $train_cmd (JOB in the dirs is the fold number), into
# $exp/<system>/fold<k>; one failing fold fails the stage with its log, finished folds skip.
train_folds() {
  local system=$1 train=$2 valid=$3 opts
  shift 3
  opts=$(system_opts "$system")
  log "Stage 5: training $system, folds 1-$folds in parallel -> $exp/$system/fold* ${opts:+(overrides: $opts)}"
  $train_cmd --num-threads "$num_threads" --gpu "$gpu" JOB=1:"$folds" "$exp/$system/log/train_fold.JOB.log" \
    $train_fold_script --num_threads "$num_threads" --gpu "$gpu" --force "$force" \
      --system_config "conf/systems/$system.yaml" --train_opts "$opts" "$@" "$train" "$valid" "$exp/$system/foldJOB"
}

# results_stage <kind> <title> <note>: stage 8, RESULTS.md from every result.json under exp/
# (make_results_table --kind <kind>), flagged when the figures come from the mini corpus.
results_stage() {
  local note=$3
  if $mini; then
    note="$note MINI CORPUS (synthetic, made by local/make_mini_corpus.py): these figures check the pipeline and are not comparable to the published ones."
  fi
  python -m dcase_tk.bin.make_results_table --kind "$1" --exp exp --output RESULTS.md --title "$2" \
    --note "$note" --verbose 0
}

# fuse_folds <fusion> <set>...: stage 9 where every fold has validation clips of its own: fold
# k's fusion (conf/fusion/<fusion>.yaml) is fitted on the members' decode dirs fold<k>/cv (labels
# $data/fold<k>_cv) and applied to their fold<k>/<set> -> $exp/fusion_<fusion>/fold<k>/{model,<set>}
fuse_folds() {
  local fusion=$1 k set apply
  shift
  for k in $fold_ids; do
    apply=()
    for set in "$@"; do apply+=("fold$k/$set"); done
    log "Stage 9: fusion $fusion (conf/fusion/$fusion.yaml), fold $k -> $exp/fusion_$fusion/fold$k"
    $fuse_script --force "$force" --fusion_config "conf/fusion/$fusion.yaml" --fit_on "fold$k/cv" \
      --apply_sets "${apply[*]}" --model_dir "$exp/fusion_$fusion/fold$k/model" \
      "$exp" "$data/fold${k}_cv" "$exp/fusion_$fusion"
  done
}
