#!/usr/bin/env bash
# Kaldi-named wrapper; options and examples: utils/validate_data_dir.sh --help
exec python -m dcase_tk.bin.validate_data_dir "$@"
