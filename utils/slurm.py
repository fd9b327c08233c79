#!/usr/bin/env python3
"""Kaldi's slurm.pl in Python; see dcase_tk/parallel/slurm.py and docs/launchers.md."""
from dcase_tk.parallel.slurm import main

main()
