# Where the corpus lives: the extracted DCASE2018-task5-dev folder (audio/, meta.txt,
# evaluation_setup/; DATA_FORMATS.md "Task 5"). Leave empty to build the synthetic mini corpus
# (stage 0). The path must not contain spaces or shell metacharacters.
SINS2018_DEV="${SINS2018_DEV:-}"
