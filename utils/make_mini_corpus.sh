#!/usr/bin/env bash
# Stage 0 of a recipe run without a real corpus: says loudly that the figures will come from a
# synthetic mini corpus, then runs the recipe's generator unless <corpus-dir> was already made
# by the same generator with the same options.
#
#   utils/make_mini_corpus.sh --hint "Set FSDKAGGLE2018 in db.sh" corpus/mini/FSDKaggle2018 \
#     local/make_mini_corpus.py --snr-db 0 10 corpus/mini/FSDKaggle2018
set -euo pipefail
force=false
hint="Set the corpus variable in db.sh."
help_message="Usage: $0 [--force false] [--hint TEXT] <corpus-dir> <generator> [generator options and args]"
. parse_options.sh
if [ $# -lt 2 ]; then echo "$help_message" >&2; exit 1; fi
dir=$1 generator=$2
shift 2

log() { echo "$(date '+%F %T') (run.sh) $*"; }
log "=================================================================================="
log " No corpus configured in db.sh: using the SYNTHETIC MINI CORPUS in $dir."
log " Its figures say the pipeline works; they are not comparable to published results."
log " $hint"
log "=================================================================================="
if python -m dcase_tk.bin.stamp check "$dir" --force "$force" --extra "$*" "$generator"; then
  exit 0
fi
"$generator" "$@"
python -m dcase_tk.bin.stamp done "$dir" --extra "$*" "$generator"
