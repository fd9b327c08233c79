"""Feature extraction of one job's utterances into an ark/scp pair, written atomically."""
import functools
import io
import logging
import os
import subprocess

import soundfile as sf

from dcase_tk.io.ark import ark_scp_writer
from dcase_tk.io.table import write_table
from dcase_tk.io.audio import AudioError, read_audio, select_channels
from dcase_tk.features.spectral import FeatureExtractor
from dcase_tk.features.trim import trim_silence

log = logging.getLogger(__name__)


def load_wav_entry(entry, sample_rate):
    """Read a wav.scp value: a path, or a Kaldi-style ``command |`` whose stdout is a wav file."""
    if not entry.endswith("|"):
        return read_audio(entry, sample_rate)
    command = entry[:-1].strip()
    result = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], capture_output=True)
    if result.returncode != 0:
        raise AudioError(f"command '{command}' exited {result.returncode}: "
                         f"{result.stderr.decode(errors='replace').strip()[-300:]}")
    try:
        return read_audio(io.BytesIO(result.stdout), sample_rate)
    except AudioError as e:
        raise AudioError(f"output of '{command}': {e}") from None


def pick_channel(audio, channel, entry):
    """Channel ``channel`` (1-based) of ``(samples, channels)`` audio, as ``(samples, 1)``."""
    channel = int(channel)
    if not 1 <= channel <= audio.shape[1]:
        raise AudioError(f"{entry}: utt2channel asks for channel {channel}, the audio has "
                         f"{audio.shape[1]}")
    return audio[:, channel - 1:channel]


def extract(wav_scp, config, ark_path, progress=None, utt2channel=None):
    """Compute features for ``wav_scp`` (utt -> wav.scp entry) into ``<stem>.ark``.

    ``utt2channel`` (utt -> 1-based channel; dcase_tk/data/channels.py) restricts an utterance
    to one channel of its audio; the channel utterances of a clip, adjacent in sorted order,
    read the file once.

    Writes, each file appearing only when complete: ``<stem>.ark``, ``<stem>.scp`` (naming the
    final ark), ``<stem>.num_frames``, and ``<stem>.bad`` (utterances whose audio could not be
    used, with the reason). Returns ``(num_frames, bad)`` dicts.
    """
    stem = os.path.splitext(ark_path)[0]
    extractor = FeatureExtractor(config)
    load = functools.lru_cache(maxsize=1)(lambda entry: load_wav_entry(entry, config.sample_rate)[0])
    num_frames, bad = {}, {}
    with ark_scp_writer(ark_path) as writer:
        for utt, entry in (progress or (lambda x: x))(list(wav_scp.items())):
            try:
                audio = load(entry)
                if utt2channel is not None:
                    audio = pick_channel(audio, utt2channel[utt], entry)
                if config.trim_db:
                    audio = trim_silence(audio, config.trim_db, config.win_samples, config.hop_samples)
                feats = extractor(select_channels(audio, config.channels))
            except (AudioError, sf.LibsndfileError, ValueError) as e:
                bad[utt] = " ".join(str(e).split())
                log.warning("%s: %s", utt, bad[utt])
                continue
            writer(utt, feats)
            num_frames[utt] = feats.shape[0]
    write_table(stem + ".num_frames", num_frames)
    write_table(stem + ".bad", bad)
    return num_frames, bad

