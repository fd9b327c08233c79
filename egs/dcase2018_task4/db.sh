# Where the corpus lives: the folder holding the release's dataset/ (metadata/ and audio/, as
# the baseline's download script leaves it; DATA_FORMATS.md "Task 4"). Leave empty to build the
# synthetic mini corpus (stage 0). DCASE2018_TASK4_EVAL: the evaluation release's folder (its
# dataset/metadata/eval/eval.csv and dataset/audio/eval/), optional. The paths must not contain
# spaces or shell metacharacters.
DCASE2018_TASK4="${DCASE2018_TASK4:-}"
DCASE2018_TASK4_EVAL="${DCASE2018_TASK4_EVAL:-}"
