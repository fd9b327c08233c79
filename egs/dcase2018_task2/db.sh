# Where the corpus lives: the folder holding the extracted FSDKaggle2018 release, in either
# naming (DATA_FORMATS.md "Task 2": FSDKaggle2018.audio_train/ + FSDKaggle2018.meta/, or the
# Kaggle audio_train/ + train.csv + sample_submission.csv). Leave empty to build the synthetic
# mini corpus (stage 0). The path must not contain spaces or shell metacharacters.
FSDKAGGLE2018="${FSDKAGGLE2018:-}"
