"""Facts about the DCASE 2018 Task 5 (SINS domestic activities) releases shared by the Task 5
corpus scripts: /work/shared/DATA_FORMATS.md "Task 5" and the release's own readme.

Development release (``DCASE2018-task5-dev``)::

    audio/DevNode<node>_ex<session number>_<segment>.wav    10 s, 4 channels, 16 kHz, 16 bit
    meta.txt                                   <file><TAB><activity><TAB><session>, no header
    evaluation_setup/fold<k>_train.txt         <file><TAB><activity><TAB><session>
    evaluation_setup/fold<k>_test.txt          <file>  (the readme prints "[filename][tab]")
    evaluation_setup/fold<k>_evaluate.txt      <file><TAB><activity>: "same as fold<k>_test.txt
                                               but with additional reference information"

The same moment is recorded by several nodes (DevNode1_ex1_1 and DevNode2_ex1_1); the session of
meta.txt keeps a whole activity session, every node included, on one side of each fold.

Evaluation release (``DCASE2018-task5-eval``): ``audio/<segment id>.wav`` and
``evaluation_setup/test.txt`` (``<file>`` per line), the same audio format.
"""
import re

# classes.txt order (fixed, alphabetical as the release's labels): the column order of every
# Task 5 score file.
CLASSES = ("absence", "cooking", "dishwashing", "eating", "other", "social_activity", "vacuum_cleaner",
           "watching_tv", "working")

DEV_RELEASE = "DCASE2018-task5-dev"
EVAL_RELEASE = "DCASE2018-task5-eval"
AUDIO_DIR = "audio"
META = "meta.txt"
SETUP_DIR = "evaluation_setup"
EVAL_TEST_LIST = SETUP_DIR + "/test.txt"

FOLDS = (1, 2, 3, 4)
# Parts of a fold, in the order their data dirs are written (the test sides before train, whose
# validation checks it against them).
PARTS = ("test", "evaluate", "train")

SAMPLE_RATE = 16000
CHANNELS = 4
CLIP_SECONDS = 10.0
NUM_NODES = 4                 # DevNode1..4 in the development release
MIC_SPACING_M = 0.05          # linear array of 4 MEMS microphones, 5 cm apart

# The node is the part of a development file name before the first "_".
NODE_NAME = re.compile(r"^(DevNode[0-9]+)_")


def setup_list(fold, part):
    """Path of a fold list relative to the release root, e.g. ``evaluation_setup/fold1_train.txt``."""
    return f"{SETUP_DIR}/fold{fold}_{part}.txt"


def node_name(number):
    return f"DevNode{number}"


def clip_file(node, session_number, segment):
    """``audio/DevNode<node>_ex<session number>_<segment>.wav`` as listed in meta.txt."""
    return f"{AUDIO_DIR}/{node_name(node)}_ex{session_number}_{segment}.wav"
