"""Checks that a decode dir's ``score`` and a data dir's per-utterance file cover the same clips,
before anything is scored or submitted; errors name the file and line."""
from dcase_tk.cli import ToolError
from dcase_tk.io.table import read_lines, read_table


def check_coverage(table_file, score_utts, decode_dir, what, check_value=None):
    """Every utterance of ``table_file`` (utt2label, utt2itemid) has a score row and every
    scored one is in the file; ``check_value(number, utt, value)`` checks each line first.
    Returns the table. ``what`` names the file's utterances in the message."""
    table = read_table(table_file)
    scored = set(score_utts)
    for number, utt, value in read_lines(table_file):
        if check_value:
            check_value(number, utt, value)
        if utt not in scored:
            missing = [u for u in table if u not in scored]
            raise ToolError(f"{table_file}:{number}: '{utt}' has no row in {decode_dir}/score "
                            f"({len(missing)} {what} have none, e.g. {missing[:3]}); re-run inference "
                            "on this data dir")
    extra = [u for u in score_utts if u not in table]
    if extra:
        raise ToolError(f"{decode_dir}/score has {len(extra)} utterances that are not in "
                        f"{table_file} (e.g. {extra[:3]}); score the decode dir of this data dir")
    return table


def check_labels(label_file, classes, score_utts, decode_dir):
    """utt2label against the scores: every label a class of the model, every clip scored."""
    known = set(classes)

    def known_label(number, utt, label):
        if label not in known:
            raise ToolError(f"{label_file}:{number}: label '{label}' of '{utt}' is not in "
                            f"{decode_dir}/classes.txt; score with a model trained on these classes")
    return check_coverage(label_file, score_utts, decode_dir, "labelled utterances", known_label)
