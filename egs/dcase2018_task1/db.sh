# Where the corpora live. Leave empty to build the synthetic mini corpus (stage 0), or run with
# --download true to fetch the real one from Zenodo into downloads/.
# The paths must not contain spaces or shell metacharacters (link the corpus elsewhere if they do).
TUT2018_DEV="${TUT2018_DEV:-}"                 # .../TUT-urban-acoustic-scenes-2018-development
TUT2018_MOBILE_DEV="${TUT2018_MOBILE_DEV:-}"   # .../TUT-urban-acoustic-scenes-2018-mobile-development
TUT2018_EVAL="${TUT2018_EVAL:-}"               # optional: evaluation set (unlabelled)
TUT2018_LEADERBOARD="${TUT2018_LEADERBOARD:-}" # optional: leaderboard set (unlabelled)
