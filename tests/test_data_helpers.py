"""Small data directories for the tests of dcase_tk.data (no tests here; imported by test_data_*)."""
from dcase_tk.data.datadir import DataDir

SCENES = ("airport", "bus", "park")


def scene_dir(path, cities=("barcelona", "lisbon"), locations=3, segments=2, devices=("a",)):
    """A Task-1-like data dir: every scene in every city at ``locations`` locations; the group
    (utt2spk) is ``<city>-<location>``, which belongs to one scene (as in the real corpus)."""
    tables = {name: {} for name in ("wav.scp", "utt2spk", "utt2label", "utt2city", "utt2device", "utt2dur")}
    for s, scene in enumerate(SCENES):
        for city in cities:
            for loc in range(locations):
                location = f"{city}-{s * 10 + loc}"
                for seg in range(segments):
                    for device in devices:
                        utt = f"{scene}-{location}-{seg}-{device}"
                        for name, value in (("wav.scp", f"/corpus/audio/{utt}.wav"), ("utt2spk", location),
                                            ("utt2label", scene), ("utt2city", city), ("utt2device", device),
                                            ("utt2dur", "10.000")):
                            tables[name][utt] = value
    DataDir(tables, classes=list(SCENES)).save(str(path))
    return path


def event_dir(path):
    """A Task-4-like data dir with strong labels; clip c3 has no event."""
    utts = ("c1", "c2", "c3")
    tables = {"wav.scp": {u: f"/corpus/{u}.wav" for u in utts}, "utt2dur": {u: "10.000" for u in utts}}
    events = {"c1": ["0.500 2.000 Dog", "1.000 9.000 Speech"], "c2": ["3.000 10.000 Cat"]}
    DataDir(tables, events=events, classes=["Speech", "Dog", "Cat"]).save(str(path))
    return path


def write_lines(path, name, lines):
    (path / name).write_text("".join(f"{line}\n" for line in lines))


def read_lines(path, name):
    return (path / name).read_text().splitlines()


def keys(path, name="wav.scp"):
    return [line.split()[0] for line in read_lines(path, name)]
