"""Fetch corpus archives over HTTP(S) with resume and MD5 checks, and extract zip archives once.

A file is downloaded to ``<name>.part`` and renamed to ``<name>`` only when its size and MD5
match, so a file under its final name is always a verified one. An interrupted download is
resumed with an HTTP Range request when the server honours it, else restarted. A mismatch is
never silently deleted: the error names the file and says to delete it and re-run. Each
extracted archive leaves a marker in the extract dir so that a re-run does not extract again.
"""
import dataclasses
import hashlib
import logging
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from tqdm import tqdm

from dcase_tk.errors import UserError
from dcase_tk.io.atomic import write_text

LOG = logging.getLogger(__name__)
CHUNK = 1 << 20


class DownloadError(UserError, RuntimeError):
    """A download or its verification failed; the message names the file and what to do."""


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    url: str
    md5: str
    size: int

    @property
    def name(self):
        return urllib.parse.unquote(urllib.parse.urlsplit(self.url).path.rsplit("/", 1)[-1])

    def rebased(self, base_url):
        """The same file under another prefix: ``base_url`` replaces everything before the name."""
        return dataclasses.replace(self, url=f"{base_url.rstrip('/')}/{self.url.rsplit('/', 1)[-1]}")


def file_md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open(url, offset):
    """Open ``url`` from byte ``offset``; return the response, or None if nothing is left to fetch."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        return urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:      # range starts at or past the end: the part is whole
            return None
        raise DownloadError(f"{url}: HTTP error {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise DownloadError(f"{url}: cannot download ({error.reason})") from error


def _resumes_at(response, offset):
    """True if ``response`` is a partial response starting exactly at ``offset``."""
    content_range = response.headers.get("Content-Range", "")
    return response.status == 206 and re.match(rf"bytes {offset}-", content_range) is not None


def _download(remote, part):
    """Download ``remote`` into ``part``, continuing an existing partial file when possible."""
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    response = _open(remote.url, offset)
    if response is None:
        return
    with response:
        if offset and not _resumes_at(response, offset):
            LOG.info("%s: server does not resume; restarting from the beginning", remote.name)
            offset = 0
        with open(part, "ab" if offset else "wb") as f, \
                tqdm(total=remote.size, initial=offset, unit="B", unit_scale=True, desc=remote.name,
                     disable=not sys.stderr.isatty()) as bar:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                f.write(chunk)
                bar.update(len(chunk))


def _verify(path, remote):
    """Raise DownloadError unless ``path`` has the size and MD5 of ``remote``."""
    size = os.path.getsize(path)
    if size < remote.size:
        raise DownloadError(f"{path}: incomplete download ({size} of {remote.size} bytes); re-run to resume")
    got = file_md5(path) if size == remote.size else None
    if got != remote.md5:
        found = f"MD5 {got}" if got else f"{size} bytes"
        raise DownloadError(
            f"{path}: {found}, expected MD5 {remote.md5} ({remote.size} bytes) for {remote.name}; "
            f"the file is corrupt or not the released one: delete {path} and re-run")


def fetch(remote, download_dir):
    """Make ``<download_dir>/<name>`` a verified copy of ``remote``; return its path."""
    os.makedirs(download_dir, exist_ok=True)
    final = os.path.join(download_dir, remote.name)
    if os.path.exists(final):
        _verify(final, remote)
        LOG.info("%s: already downloaded and verified", remote.name)
        return final
    part = final + ".part"
    if not (os.path.exists(part) and os.path.getsize(part) >= remote.size):
        _download(remote, part)
    _verify(part, remote)
    os.replace(part, final)
    LOG.info("%s: downloaded and verified", remote.name)
    return final


def extract_zip(path, extract_dir, md5):
    """Extract a zip archive into ``extract_dir`` unless its marker says this copy already was.

    Returns True if it extracted. The marker holds the archive's MD5 and is written only after
    extraction succeeds, so an interrupted extraction is redone on the next run.
    """
    marker = os.path.join(extract_dir, f".{os.path.basename(path)}.extracted")
    if os.path.exists(marker) and open(marker, encoding="utf-8").read().strip() == md5:
        LOG.info("%s: already extracted", os.path.basename(path))
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            archive.extractall(extract_dir)     # zipfile drops absolute and '..' path parts
    except zipfile.BadZipFile as error:
        raise DownloadError(f"{path}: not a valid zip archive ({error}); delete it and re-run") from error
    write_text(marker, md5 + "\n")
    LOG.info("%s: extracted into %s", os.path.basename(path), extract_dir)
    return True


def fetch_all(remotes, download_dir, extract_dir=None, base_url=None):
    """Fetch every file of ``remotes`` (optionally from ``base_url``) and extract the zip archives."""
    paths = []
    for remote in remotes:
        if base_url:
            remote = remote.rebased(base_url)
        path = fetch(remote, download_dir)
        if extract_dir and path.endswith(".zip"):
            extract_zip(path, extract_dir, remote.md5)
        paths.append(path)
    return paths
