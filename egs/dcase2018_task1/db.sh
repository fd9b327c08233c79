# Where the corpora live. Leave empty to build the synthetic mini corpus (stage 0), or run with
# --download true to fetch the real one from Zenodo into downloads/.
# The paths must not contain spaces or shell metacharacters (link the corpus elsewhere if they do).
TUT2018_DEV="${TUT2018_DEV:-}"                 # .../TUT-urban-acoustic-scenes-2018-development
TUT2018_MOBILE_DEV="${TUT2018_MOBILE_DEV:-}"   # .../TUT-urban-acoustic-scenes-2018-mobile-development
# Optional unlabelled sets: inference and a submission file for each (stages 7-8).
TUT2018_EVAL="${TUT2018_EVAL:-}"                               # 1A/1C evaluation set
TUT2018_LEADERBOARD="${TUT2018_LEADERBOARD:-}"                 # 1A/1C leaderboard set
TUT2018_MOBILE_EVAL="${TUT2018_MOBILE_EVAL:-}"                 # 1B evaluation set
TUT2018_MOBILE_LEADERBOARD="${TUT2018_MOBILE_LEADERBOARD:-}"   # 1B leaderboard set
