#!/usr/bin/env bash
# Kaldi-named wrapper; options and examples: utils/fix_data_dir.sh --help
exec python -m dcase_tk.bin.fix_data_dir "$@"
