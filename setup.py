from setuptools import find_packages, setup

setup(
    name="dcase_tk",
    version="0.1.0",
    description="Kaldi-style recipe toolkit for the DCASE 2018 challenge systems",
    packages=find_packages(include=["dcase_tk", "dcase_tk.*"]),
    python_requires=">=3.10",
    install_requires=[
        "numpy",
        "scipy",
        "torch==2.13.0",
        "kaldiio",
        "librosa",
        "soundfile",
        "tqdm",
        "pyyaml",
        "scikit-learn",
        "lightgbm",           # the gbm fusion method (CPU wheel, a few MB; see docs/fusion.md)
        "matplotlib",
        "sed_eval",           # Task 4 event/segment-based metrics (brings dcase_util; ~12 MB, no GPU parts)
        "setuptools>=77.0.3,<82",
    ],
    # pytest < 9.2: pytest-xdist 3.8's --dist loadgroup (make test) renames items through
    # item._nodeid, which pytest 9.2 no longer reads, so groups would be ignored
    extras_require={"test": ["pytest<9.2", "pytest-timeout", "pytest-xdist"]},
)
