# Where the corpus lives: the folder holding the three extracted development datasets and their
# lists (DATA_FORMATS.md "Task 3": ff1010bird_metadata_2018.csv + ff1010bird_wav/wav/, ...).
# BAD2018_EVAL: optionally, the evaluation release (unlabelled; a submission file is written).
# Leave BAD2018_DEV empty to build the synthetic mini corpus (stage 0). No spaces in the paths.
BAD2018_DEV="${BAD2018_DEV:-}"
BAD2018_EVAL="${BAD2018_EVAL:-}"
