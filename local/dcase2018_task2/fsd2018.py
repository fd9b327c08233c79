"""Facts about the FSDKaggle2018 releases shared by the Task 2 corpus scripts.

The class list and the two namings of the release follow /work/shared/DATA_FORMATS.md "Task 2";
the 41 labels are the Kaggle label strings (underscores for spaces, "_or_" for commas, as in
``train.csv``), in the order of the official label list (alphabetical; the per-class tables of
the Task 2 papers list them in this order, e.g. proceedings p. 209 and published_systems part2).
"""
import dataclasses

# classes.txt order (fixed): the column order of every Task 2 score file.
CLASSES = (
    "Acoustic_guitar", "Applause", "Bark", "Bass_drum", "Burping_or_eructation", "Bus", "Cello",
    "Chime", "Clarinet", "Computer_keyboard", "Cough", "Cowbell", "Double_bass",
    "Drawer_open_or_close", "Electric_piano", "Fart", "Finger_snapping", "Fireworks", "Flute",
    "Glockenspiel", "Gong", "Gunshot_or_gunfire", "Harmonica", "Hi-hat", "Keys_jangling", "Knock",
    "Laughter", "Meow", "Microwave_oven", "Oboe", "Saxophone", "Scissors", "Shatter", "Snare_drum",
    "Squeak", "Tambourine", "Tearing", "Telephone", "Trumpet", "Violin_or_fiddle", "Writing",
)

SAMPLE_RATE = 44100
MIN_SECONDS = 0.3
MAX_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class Naming:
    """Where one naming of the release keeps its audio folders and lists (paths relative to the root).

    ``test_labelled``: whether the test list's ``label`` column holds the true labels (the
    post-competition scoring clips) or only Kaggle's example predictions (sample_submission.csv,
    the same three labels on every row).
    """
    name: str
    train_audio: str
    test_audio: str
    train_csv: str
    test_csv: str
    test_labelled: bool
    train_columns: tuple = ("fname", "label", "manually_verified")

    @property
    def test_columns(self):
        return ("fname", "label") if self.test_labelled else ("fname",)


POST_COMPETITION = Naming(
    name="post-competition",
    train_audio="FSDKaggle2018.audio_train",
    test_audio="FSDKaggle2018.audio_test",
    train_csv="FSDKaggle2018.meta/train_post_competition.csv",
    test_csv="FSDKaggle2018.meta/test_post_competition_scoring_clips.csv",
    test_labelled=True,
)

KAGGLE = Naming(
    name="kaggle",
    train_audio="audio_train",
    test_audio="audio_test",
    train_csv="train.csv",
    test_csv="sample_submission.csv",
    test_labelled=False,
)

# Tried in this order when a corpus root is given: the labelled release first.
NAMINGS = (POST_COMPETITION, KAGGLE)
