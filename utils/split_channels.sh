#!/usr/bin/env bash
# Kaldi-named wrapper; options and examples: utils/split_channels.sh --help
exec python -m dcase_tk.bin.split_channels "$@"
