"""Repair a data directory the way Kaldi's fix_data_dir.sh does, but refuse to hide big losses.

Keeps the utterances present in wav.scp and every per-utterance file, drops the events of the
others, re-sorts every table and rewrites spk2utt. The files are copied to ``<dir>/.backup/``
first. If that would drop more than ``max_drop_fraction`` of wav.scp's utterances it changes
nothing and says which files lack them: losing that much is a bug upstream, not untidiness.
Duplicate keys are not repaired (which line is right is not knowable): load reports them.
"""
import logging
import os
import shutil

from dcase_tk.data.datadir import data_files, load, written_by
from dcase_tk.data.safety import DataDirError

BACKUP = ".backup"

log = logging.getLogger(__name__)


def fix(path, max_drop_fraction=0.1):
    """Fix ``path`` in place; return the sorted list of dropped wav.scp utterances."""
    data = load(path)
    utts = data.utts
    keep = set(utts).intersection(*data.tables.values())
    dropped = [utt for utt in utts if utt not in keep]
    if len(dropped) > max_drop_fraction * len(utts):
        lacking = {name: len(set(utts) - table.keys()) for name, table in sorted(data.tables.items())}
        causes = "; ".join(f"{name} lacks {n} [written by {written_by(name)}]"
                           for name, n in lacking.items() if n)
        raise DataDirError(
            f"{path}: fixing would drop {len(dropped)} of {len(utts)} utterances of wav.scp "
            f"({len(dropped) / len(utts):.0%}), more than the allowed {max_drop_fraction:.0%}: {causes}. "
            "Nothing was changed; re-run the stage that writes those files, or allow it with "
            "--max-drop-fraction")
    backup = os.path.join(path, BACKUP)
    os.makedirs(backup, exist_ok=True)
    for name in data_files(path):
        shutil.copy2(os.path.join(path, name), os.path.join(backup, name))
    data.subset(keep).save(path)
    if dropped:
        log.warning("%s: dropped %d of %d utterances (e.g. %s); the old files are in %s",
                    path, len(dropped), len(utts), ", ".join(dropped[:3]), backup)
    return dropped
