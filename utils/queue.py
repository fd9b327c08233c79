#!/usr/bin/env python3
"""Kaldi's queue.pl in Python; see dcase_tk/parallel/sge.py and docs/launchers.md."""
from dcase_tk.parallel.sge import main

main()
