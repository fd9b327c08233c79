#!/usr/bin/env python3
"""Kaldi's run.pl in Python; see dcase_tk/parallel/local.py and docs/launchers.md."""
from dcase_tk.parallel.local import main

main()
