"""Task 1 download: archives served by a local HTTP server on 127.0.0.1, never the internet."""
import hashlib
import http.server
import os
import threading
import zipfile
from pathlib import Path

import pytest

from helpers import load_local
from dcase_tk.io.download import DownloadError

RELEASE = "TUT-urban-acoustic-scenes-2018-development"



download = load_local("dcase2018_task1", "download")


class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files; honours ``Range: bytes=N-`` only when the server's ``ranges`` is True."""

    def do_GET(self):
        self.server.requests.append((self.path, self.headers.get("Range")))
        range_header = self.headers.get("Range")
        path = self.translate_path(self.path)
        if not (self.server.ranges and range_header and os.path.isfile(path)):
            return super().do_GET()
        data = Path(path).read_bytes()
        start = int(range_header.split("=")[1].rstrip("-"))
        if start >= len(data):
            self.send_error(416)
            return
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A server on 127.0.0.1 serving tmp_path/served; yields (base_url, server)."""
    served = tmp_path / "served"
    served.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: Handler(*a, directory=str(served), **k))
    httpd.requests = []
    httpd.ranges = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/files", httpd
    httpd.shutdown()
    httpd.server_close()


def make_archives(tmp_path):
    """Two zips laid out like the release (meta + audio part) and a tsv listing them."""
    served = tmp_path / "served" / "files"
    served.mkdir(parents=True)
    contents = {
        f"{RELEASE}.meta.zip": {f"{RELEASE}/meta.csv": "filename\tscene_label\tidentifier\tsource_label\n"},
        f"{RELEASE}.audio.1.zip": {f"{RELEASE}/audio/airport-barcelona-0-0-a.wav": os.urandom(50_000).hex()},
    }
    rows = ["subtask\turl\tmd5\tbytes"]
    for name, members in contents.items():
        with zipfile.ZipFile(served / name, "w") as archive:
            for member, text in members.items():
                archive.writestr(member, text)
        data = (served / name).read_bytes()
        rows.append(f"a\thttps://zenodo.org/record/1228142/files/{name}\t{hashlib.md5(data).hexdigest()}\t{len(data)}")
    rows.append("b\thttps://zenodo.org/record/1228235/files/other.zip\t" + "0" * 32 + "\t10")
    file_list = tmp_path / "files.tsv"
    file_list.write_text("\n".join(rows) + "\n")
    return file_list, contents


def test_download_extract_and_rerun_skips(tmp_path, server):
    base_url, httpd = server
    file_list, contents = make_archives(tmp_path)
    dl, ex = tmp_path / "dl", tmp_path / "ex"
    root = download.download("a", str(dl), str(ex), base_url=base_url, file_list=str(file_list))
    assert root == str(ex / RELEASE)
    assert sorted(p for p, _ in httpd.requests) == sorted(f"/files/{name}" for name in contents)
    for name, members in contents.items():
        assert (dl / name).read_bytes() == (tmp_path / "served" / "files" / name).read_bytes()
        assert not (dl / f"{name}.part").exists()
        for member, text in members.items():
            assert (ex / member).read_text() == text
    # A re-run downloads nothing and does not extract again (an edited file stays edited).
    edited = ex / RELEASE / "meta.csv"
    edited.write_text("edited\n")
    download.download("a", str(dl), str(ex), base_url=base_url, file_list=str(file_list))
    assert len(httpd.requests) == 2
    assert edited.read_text() == "edited\n"


def test_wrong_md5_fails_clearly_and_leaves_no_final_file(tmp_path, server):
    base_url, _ = server
    file_list, _ = make_archives(tmp_path)
    good = file_list.read_text().splitlines()
    name = f"{RELEASE}.meta.zip"
    real_md5 = good[1].split("\t")[2]
    file_list.write_text("\n".join([good[0], good[1].replace(real_md5, "f" * 32)]) + "\n")
    with pytest.raises(DownloadError) as error:
        download.download("a", str(tmp_path / "dl"), str(tmp_path / "ex"), base_url=base_url,
                          file_list=str(file_list))
    message = str(error.value)
    part = tmp_path / "dl" / f"{name}.part"
    assert f"MD5 {real_md5}" in message and f"expected MD5 {'f' * 32}" in message
    assert f"delete {part} and re-run" in message
    assert not (tmp_path / "dl" / name).exists()
    assert not (tmp_path / "ex" / RELEASE).exists()


@pytest.mark.parametrize("ranges", [True, False])
def test_partial_download_is_resumed_or_restarted(tmp_path, server, ranges):
    base_url, httpd = server
    httpd.ranges = ranges
    file_list, _ = make_archives(tmp_path)
    name = f"{RELEASE}.audio.1.zip"
    data = (tmp_path / "served" / "files" / name).read_bytes()
    half = len(data) // 2
    (tmp_path / "dl").mkdir()
    # With ranges the part holds the true first half; without, garbage that must be thrown away.
    (tmp_path / "dl" / f"{name}.part").write_bytes(data[:half] if ranges else b"x" * half)
    download.download("a", str(tmp_path / "dl"), str(tmp_path / "ex"), base_url=base_url,
                      file_list=str(file_list))
    assert (tmp_path / "dl" / name).read_bytes() == data
    assert (f"/files/{name}", f"bytes={half}-") in httpd.requests


def test_http_error_names_the_url(tmp_path, server):
    base_url, _ = server
    file_list, _ = make_archives(tmp_path)
    (tmp_path / "served" / "files" / f"{RELEASE}.meta.zip").unlink()
    with pytest.raises(DownloadError, match=rf"{base_url}/{RELEASE}\.meta\.zip: HTTP error 404"):
        download.download("a", str(tmp_path / "dl"), str(tmp_path / "ex"), base_url=base_url,
                          file_list=str(file_list))
    assert not (tmp_path / "dl" / f"{RELEASE}.meta.zip").exists()


def test_cli_reports_the_release_root(tmp_path, server, caplog):
    base_url, _ = server
    file_list, _ = make_archives(tmp_path)
    args = ["--subtask", "a", "--base-url", base_url, "--file-list", str(file_list),
            str(tmp_path / "dl"), str(tmp_path / "ex")]
    assert download.main(args) == 0
    assert (tmp_path / "ex" / RELEASE / "meta.csv").is_file()
    assert download.main(args[:2] + ["--base-url", base_url + "/missing"] + args[4:]) == 0   # all verified


def test_shipped_file_list_has_the_zenodo_releases():
    a = download.read_file_list(download.FILE_LIST, "a")
    b = download.read_file_list(download.FILE_LIST, "b")
    assert len(a) == 15 and len(b) == 9          # doc, meta and 13 / 7 audio archives
    assert all(r.url.startswith("https://zenodo.org/record/1228142/files/TUT-urban-acoustic-scenes-2018-development.")
               for r in a)
    assert all(r.url.startswith("https://zenodo.org/record/1228235/files/"
                                "TUT-urban-acoustic-scenes-2018-mobile-development.") for r in b)
    assert {r.name for r in a} >= {f"TUT-urban-acoustic-scenes-2018-development.audio.{i}.zip" for i in range(1, 14)}
    assert sum(r.size for r in a if ".audio." in r.name) > 20e9
    assert len({r.md5 for r in a + b}) == 24
