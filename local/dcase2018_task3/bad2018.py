"""Facts about the DCASE 2018 Task 3 (Bird Audio Detection) releases shared by the corpus scripts.

Layout after /work/shared/DATA_FORMATS.md "Task 3": three labelled development datasets, each a
comma-separated list with the header ``itemid,datasetid,hasbird`` at the corpus root and one
audio folder of ``<itemid>.wav`` files (10 s, 44.1 kHz mono). The development protocol trains on
two datasets and tests on the third; ``DEV_DATASETS`` is also the fold order (fold k holds out
``DEV_DATASETS[k - 1]``).

``hasbird`` 0/1 becomes the class names of ``CLASSES`` (``nobird``, ``bird``) so that the
toolkit's generic single-label training and scoring apply; the score of ``bird`` (column 2) is the
detection score whose ROC AUC is the metric.
"""
import dataclasses

SAMPLE_RATE = 44100
CLIP_SECONDS = 10.0

# classes.txt order (fixed): hasbird 0 -> "nobird", 1 -> "bird".
CLASSES = ("nobird", "bird")
HASBIRD_CLASS = {"0": "nobird", "1": "bird"}

# The CSV columns, by name (extra columns are fine).
ITEMID, DATASETID, HASBIRD = "itemid", "datasetid", "hasbird"
DEV_COLUMNS = (ITEMID, DATASETID, HASBIRD)
EVAL_COLUMNS = (ITEMID, DATASETID)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One development dataset of the release (paths relative to the corpus root).

    ``audio``: the name of the release's zip of the clips (``<audio>.zip``) and of the folder it
    is extracted into; its ``wav/`` sub-folder holds the clips (``ff1010bird_wav/wav/``), or the
    folder itself does when it has no ``wav/``.
    ``datasetid``: the value the release's list has in its ``datasetid`` column.
    """
    datasetid: str
    csv: str
    audio: str
    clips: int                # in the real release

    @property
    def audio_candidates(self):
        """Where the clips may lie, tried in this order."""
        return (f"{self.audio}/wav", self.audio)


FF1010BIRD = Dataset("ff1010bird", "ff1010bird_metadata_2018.csv", "ff1010bird_wav", 7690)
WARBLRB10K = Dataset("warblrb10k", "warblrb10k_public_metadata_2018.csv", "warblrb10k_public_wav", 8000)
BIRDVOX = Dataset("BirdVox-DCASE-20k", "BirdVoxDCASE20k_csvpublic.csv", "BirdVox-DCASE-20k", 20000)

# Fold order: fold k tests on DEV_DATASETS[k - 1] and trains on the other two.
DEV_DATASETS = (FF1010BIRD, WARBLRB10K, BIRDVOX)

# Data dirs and files that prepare_data.py writes under <data_root>.
DEV_DIR = "dev"
EVAL_DIR = "eval"
FOLDS_FILE = "folds.txt"


def fold_dirs(k):
    """``(train, test)`` data-dir names of leave-one-dataset-out fold ``k`` (1-based)."""
    return f"fold{k}_train", f"fold{k}_test"


def utt_id(datasetid, itemid):
    """The utterance id of a clip: ``<datasetid>_<itemid>`` (utt2itemid maps it back)."""
    return f"{datasetid}_{itemid}"
