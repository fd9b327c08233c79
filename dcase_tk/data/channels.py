"""One utterance per channel of a multichannel data dir (DESIGN.md section 5: ``<utt>-chN``).

A per-channel system (the Task 5 baseline: "each microphone channel is a separate example")
trains and decodes on a data dir in which clip ``X`` of ``C`` channels is the utterances
``X-ch1`` .. ``X-chC``. Each has every per-utterance value of ``X`` (same wav.scp entry, same
label, same group in utt2spk, so that a clip's channels never fall on both sides of a split),
plus ``utt2channel`` (which channel, 1-based; feature extraction reads only that one) and
``utt2clip`` (``X``: ``fuse_channels`` averages the channel posteriors of a clip back into one
row of the clip's data dir).
"""
from dcase_tk.data.datadir import FEATURE_FILES, DataDir
from dcase_tk.data.safety import DataDirError

UTT2CHANNEL = "utt2channel"
UTT2CLIP = "utt2clip"


def channel_utt(utt, channel):
    return f"{utt}-ch{channel}"


def parse_channels(text):
    """``"1,2,3,4"`` -> ``[1, 2, 3, 4]`` (the ``--channels`` option of the channel tools)."""
    try:
        return [int(c) for c in text.split(",")]
    except ValueError:
        raise DataDirError(f"channels are comma-separated numbers from 1, got '{text}'") from None


def split_channels(data, channels, where="data dir"):
    """The :class:`DataDir` of ``channels`` (1-based channel numbers) of every clip of ``data``."""
    if not channels or any(c < 1 for c in channels) or len(set(channels)) < len(channels):
        raise DataDirError(f"channels must be distinct numbers from 1, got {list(channels)}")
    for name in (UTT2CHANNEL, UTT2CLIP) + FEATURE_FILES:
        if name in data.tables:
            raise DataDirError(f"{where} already has {name}: split the channels of a clip data dir "
                               "before feature extraction, once")
    tables = {name: {channel_utt(u, c): v for u, v in table.items() for c in channels}
              for name, table in data.tables.items()}
    utts = data.utts
    tables[UTT2CHANNEL] = {channel_utt(u, c): str(c) for u in utts for c in channels}
    tables[UTT2CLIP] = {channel_utt(u, c): u for u in utts for c in channels}
    events = {channel_utt(u, c): rows for u, rows in data.events.items() for c in channels}
    return DataDir(tables, events, data.classes, dict(data.extras))
