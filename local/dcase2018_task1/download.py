#!/usr/bin/env python3
"""Download and extract the TUT Urban Acoustic Scenes 2018 development set from Zenodo.

    download.py --subtask a|b [--base-url URL] [--file-list TSV] <download_dir> <extract_dir>

Subtask a (and c): Zenodo record 1228142; subtask b: the Mobile release, record 1228235. The
archives, their MD5s and sizes are listed in ``zenodo_files.tsv`` next to this script (from
the releases as catalogued by dcase_util). Re-running skips verified archives and archives
already extracted. ``--base-url`` replaces the ``https://zenodo.org/record/<id>/files`` prefix,
e.g. for a local mirror. The development root to give prepare_data.py is
``<extract_dir>/<release name>``.
"""
import argparse
import logging
import os
import sys

from dcase_tk.io.download import DownloadError, RemoteFile, fetch_all
from tut2018 import RELEASE_NAMES

LOG = logging.getLogger("download")
FILE_LIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zenodo_files.tsv")
COLUMNS = ["subtask", "url", "md5", "bytes"]


def read_file_list(path, subtask):
    """The RemoteFiles of ``subtask`` in a tab-separated ``subtask url md5 bytes`` list with header."""
    remotes = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header != COLUMNS:
            raise ValueError(f"{path}:1: header {header!r}, expected {'<TAB>'.join(COLUMNS)}")
        for number, line in enumerate(f, start=2):
            fields = line.rstrip("\n").split("\t")
            if fields == [""]:
                continue
            if len(fields) != len(COLUMNS) or not fields[3].isdigit() or len(fields[2]) != 32:
                raise ValueError(f"{path}:{number}: expected subtask<TAB>url<TAB>md5 (32 hex digits)<TAB>bytes, "
                                 f"got {fields!r}")
            if fields[0] == subtask:
                remotes.append(RemoteFile(url=fields[1], md5=fields[2].lower(), size=int(fields[3])))
    if not remotes:
        raise ValueError(f"{path}: no files listed for subtask {subtask}")
    return remotes


def download(subtask, download_dir, extract_dir, base_url=None, file_list=FILE_LIST):
    """Fetch and extract ``subtask``'s development set; return the release root in ``extract_dir``."""
    fetch_all(read_file_list(file_list, subtask), download_dir, extract_dir, base_url)
    return os.path.join(os.path.abspath(extract_dir), RELEASE_NAMES[subtask])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subtask", choices=sorted(RELEASE_NAMES), required=True)
    parser.add_argument("--base-url", help="serve the archives from here instead of Zenodo")
    parser.add_argument("--file-list", default=FILE_LIST, help="tab-separated subtask, url, md5, bytes")
    parser.add_argument("download_dir")
    parser.add_argument("extract_dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        root = download(args.subtask, args.download_dir, args.extract_dir, args.base_url, args.file_list)
    except (DownloadError, ValueError) as error:
        LOG.error("%s", error)
        return 1
    if not os.path.isfile(os.path.join(root, "meta.csv")):
        LOG.error("extracted, but %s has no meta.csv; look in %s for the release folder", root, args.extract_dir)
        return 1
    LOG.info("development set ready: %s", root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
