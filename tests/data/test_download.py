"""Tests for data.download against a fake PhysioNet served on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from ecgnet_tf.data.download import DATABASES, DownloadError, download_database
from ecgnet_tf.download import main

from repo_paths import REPO as REPO_ROOT


class FakePhysioNet:
    """Serves files under ``root`` with Range support and scripted faults; records requests."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.drop_once: dict[str, int] = {}  # URL path -> bytes sent before cutting the connection
        self.ignore_range = False
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                fake.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def requested(self, suffix: str) -> list[str | None]:
        """Range headers of the requests whose path ends with ``suffix``."""
        with self._lock:
            return [rng for path, rng in self.requests if path.endswith(suffix)]

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        rng = h.headers.get("Range")
        with self._lock:
            self.requests.append((h.path, rng))
            cut = self.drop_once.pop(h.path, None)
        file = self.root / h.path.lstrip("/")
        if not file.is_file():
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        data = file.read_bytes()
        start = 0
        if rng and not self.ignore_range:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(data)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            h.send_response(200)
        body = data[start:]
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if cut is not None:  # promise the whole body, send part of it, hang up
            h.wfile.write(body[:cut])
            h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
            return
        h.wfile.write(body)

    def __enter__(self) -> "FakePhysioNet":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _write_tree(base: Path, files: dict[str, bytes], unlisted: dict[str, bytes] | None = None) -> None:
    """Write ``files`` plus a SHA256SUMS.txt listing them (and ``unlisted`` extras)."""
    everything = {**files, **(unlisted or {})}
    for rel, data in everything.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_bytes(data)
    lines = [f"{hashlib.sha256(data).hexdigest()}  {rel}" for rel, data in sorted(everything.items())]
    (base / "SHA256SUMS.txt").write_text("\n".join(lines) + "\n")


MITDB_FILES = {
    "RECORDS": b"100\n101\n",
    "100.hea": b"100 2 360 650000\n",
    "100.dat": os.urandom(200_000),
    "100.atr": os.urandom(3_000),
    "101.hea": b"101 2 360 650000\n",
    "101.dat": os.urandom(150_000),
    "101.atr": os.urandom(2_000),
}


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakePhysioNet]:
    root = tmp_path / "server"
    _write_tree(root / "mitdb", MITDB_FILES, unlisted={"mitdbdir/intro.htm": b"<html></html>"})
    with FakePhysioNet(root) as server:
        yield server


def _mitdb(fake: FakePhysioNet, data_dir: Path, **kwargs: object) -> Path:
    return download_database("mitdb", data_dir, base_url=fake.url("mitdb"), progress=False, **kwargs)


def test_full_mitdb_download_lands_verified(fake: FakePhysioNet, tmp_path: Path) -> None:
    out = _mitdb(fake, tmp_path / "data")
    assert out == tmp_path / "data" / "mitdb"
    for rel, data in MITDB_FILES.items():
        assert (out / rel).read_bytes() == data, rel
    assert (out / "SHA256SUMS.txt").is_file()
    assert not list(out.rglob("*.part"))
    assert not (out / "mitdbdir").exists()  # only what RECORDS names is fetched
    assert len(fake.requests) == len(MITDB_FILES) + 1


def test_second_run_downloads_nothing_and_repairs_damage(fake: FakePhysioNet, tmp_path: Path) -> None:
    out = _mitdb(fake, tmp_path)
    fake.requests.clear()
    _mitdb(fake, tmp_path)
    assert fake.requests == []

    (out / "100.atr").unlink()
    (out / "101.dat").write_bytes(b"damaged")
    _mitdb(fake, tmp_path)
    assert sorted(path for path, _ in fake.requests) == ["/mitdb/100.atr", "/mitdb/101.dat"]
    assert (out / "101.dat").read_bytes() == MITDB_FILES["101.dat"]


def test_corrupted_server_file_raises_naming_it(fake: FakePhysioNet, tmp_path: Path) -> None:
    (fake.root / "mitdb" / "101.dat").write_bytes(b"not what SHA256SUMS.txt promises")
    with pytest.raises(DownloadError, match=r"checksum mismatch for mitdb/101\.dat") as info:
        _mitdb(fake, tmp_path)
    assert "\n" not in str(info.value)
    assert len(fake.requested("/101.dat")) == 2  # retried once
    assert not (tmp_path / "mitdb" / "101.dat").exists()
    assert not (tmp_path / "mitdb" / "101.dat.part").exists()


def test_no_verify_accepts_changed_file(fake: FakePhysioNet, tmp_path: Path) -> None:
    (fake.root / "mitdb" / "101.dat").write_bytes(b"changed")
    out = _mitdb(fake, tmp_path, verify=False)
    assert (out / "101.dat").read_bytes() == b"changed"


def test_dropped_connection_resumes_with_range(fake: FakePhysioNet, tmp_path: Path) -> None:
    fake.drop_once["/mitdb/100.dat"] = 70_000
    out = _mitdb(fake, tmp_path)
    assert fake.requested("/100.dat") == [None, "bytes=70000-"]
    assert (out / "100.dat").read_bytes() == MITDB_FILES["100.dat"]


def test_part_file_from_earlier_run_is_continued(fake: FakePhysioNet, tmp_path: Path) -> None:
    out = tmp_path / "mitdb"
    out.mkdir()
    (out / "100.dat.part").write_bytes(MITDB_FILES["100.dat"][:50_000])
    _mitdb(fake, tmp_path)
    assert fake.requested("/100.dat") == ["bytes=50000-"]
    assert (out / "100.dat").read_bytes() == MITDB_FILES["100.dat"]
    assert not (out / "100.dat.part").exists()


def test_server_ignoring_range_restarts_file(fake: FakePhysioNet, tmp_path: Path) -> None:
    fake.ignore_range = True
    out = tmp_path / "mitdb"
    out.mkdir()
    (out / "100.dat.part").write_bytes(b"x" * 50_000)  # a wrong prefix: appending would corrupt
    _mitdb(fake, tmp_path)
    assert fake.requested("/100.dat") == ["bytes=50000-"]  # one request, answered with 200
    assert (out / "100.dat").read_bytes() == MITDB_FILES["100.dat"]


def test_cinc2017_zip_unpacked_and_reference_v3_renamed(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("training2017/A00001.mat", b"mat-bytes")
        zf.writestr("training2017/A00001.hea", b"A00001 1 300 9000\n")
        zf.writestr("training2017/REFERENCE.csv", b"A00001,O\n")  # the older labels
    files = {"training2017.zip": archive.getvalue(), "REFERENCE-v3.csv": b"A00001,N\n"}
    _write_tree(tmp_path / "server" / "cinc", files)
    with FakePhysioNet(tmp_path / "server") as fake:
        out = download_database("cinc2017", tmp_path / "d", base_url=fake.url("cinc/"), progress=False)
        assert out == tmp_path / "d" / "cinc2017"
        assert (out / "training2017" / "A00001.mat").read_bytes() == b"mat-bytes"
        assert (out / "training2017" / "A00001.hea").is_file()
        assert (out / "REFERENCE.csv").read_bytes() == b"A00001,N\n"
        assert (out / "training2017" / "REFERENCE.csv").read_bytes() == b"A00001,O\n"
        assert not (out / "REFERENCE-v3.csv").exists()
        fake.requests.clear()
        download_database("cinc2017", tmp_path / "d", base_url=fake.url("cinc/"), progress=False)
        assert fake.requests == []


def test_ptbxl_list_comes_from_sums_and_only_100hz(tmp_path: Path) -> None:
    files = {
        "ptbxl_database.csv": b"ecg_id\n1\n",
        "scp_statements.csv": b"code\nNORM\n",
        "records100/00000/00001_lr.hea": b"hea100",
        "records100/00000/00001_lr.dat": b"dat100",
        "records500/00000/00001_hr.hea": b"hea500",
        "records500/00000/00001_hr.dat": b"dat500",
    }
    _write_tree(tmp_path / "server" / "ptb", files)
    with FakePhysioNet(tmp_path / "server") as fake:
        code = main(["ptbxl", "--data-dir", str(tmp_path / "d"), "--base-url", fake.url("ptb"),
                     "--only-100hz", "--jobs", "2"])
        assert code == 0
        out = tmp_path / "d" / "ptbxl"
        assert (out / "records100/00000/00001_lr.dat").read_bytes() == b"dat100"
        assert (out / "ptbxl_database.csv").is_file() and (out / "scp_statements.csv").is_file()
        assert not (out / "records500").exists()
        download_database("ptbxl", tmp_path / "d", base_url=fake.url("ptb"), progress=False)
        assert (out / "records500/00000/00001_hr.dat").read_bytes() == b"dat500"


def test_unreachable_server_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["mitdb", "--data-dir", str(tmp_path), "--base-url", "http://127.0.0.1:1/"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: cannot reach 127.0.0.1:1")
    assert "ECGNET_DATA" in err and "Traceback" not in err


def test_http_404_names_the_url(
    fake: FakePhysioNet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["mitdb", "--data-dir", str(tmp_path), "--base-url", fake.url("nowhere/1.0.0/")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"error: HTTP 404 Not Found for {fake.url('nowhere/1.0.0/SHA256SUMS.txt')}\n"


def test_missing_from_sums_is_refused_unless_no_verify(fake: FakePhysioNet, tmp_path: Path) -> None:
    sums = fake.root / "mitdb" / "SHA256SUMS.txt"
    sums.write_text("".join(l + "\n" for l in sums.read_text().splitlines() if "101.atr" not in l))
    with pytest.raises(DownloadError, match=r"101\.atr is not listed"):
        _mitdb(fake, tmp_path / "a")
    assert (_mitdb(fake, tmp_path / "b", verify=False) / "101.atr").is_file()


def test_module_cli_without_network_has_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "data.download", "cinc2017", "--base-url", "http://127.0.0.1:1/x/"],
        cwd=REPO_ROOT, env={**os.environ, "ECGNET_DATA": str(tmp_path)},
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("error: cannot reach") and str(tmp_path / "cinc2017") in proc.stderr


def test_spec_table_urls() -> None:
    assert set(DATABASES) == {"mitdb", "ptbxl", "cinc2017"}
    assert DATABASES["mitdb"].base_url == "https://physionet.org/files/mitdb/1.0.0/"
    assert DATABASES["ptbxl"].base_url == "https://physionet.org/files/ptb-xl/1.0.3/"
    assert DATABASES["cinc2017"].base_url == "https://physionet.org/files/challenge-2017/1.0.0/"


def test_oversized_part_file_is_restarted(fake: FakePhysioNet, tmp_path: Path) -> None:
    out = tmp_path / "mitdb"
    out.mkdir()
    (out / "100.atr.part").write_bytes(b"y" * 10_000)  # longer than the file: server answers 416
    _mitdb(fake, tmp_path)
    assert fake.requested("/100.atr") == ["bytes=10000-", None]
    assert (out / "100.atr").read_bytes() == MITDB_FILES["100.atr"]
