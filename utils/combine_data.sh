#!/usr/bin/env bash
# Kaldi-named wrapper; options and examples: utils/combine_data.sh --help
exec python -m dcase_tk.bin.combine_data "$@"
