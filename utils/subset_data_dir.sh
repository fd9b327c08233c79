#!/usr/bin/env bash
# Kaldi-named wrapper; options and examples: utils/subset_data_dir.sh --help
exec python -m dcase_tk.bin.subset_data_dir "$@"
