"""dcase-tk: a Kaldi-style recipe toolkit for the DCASE 2018 challenge systems."""

__version__ = "0.1.0"
