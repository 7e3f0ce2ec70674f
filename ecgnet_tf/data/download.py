"""Download the PhysioNet databases used by ecgnet, verified and resumable.

Usage::

    python -m data.download {mitdb,ptbxl,cinc2017} [--data-dir D] [--base-url URL]
                            [--no-verify] [--jobs N] [--only-100hz]

Every file is checked against the database's ``SHA256SUMS.txt``. Partial
downloads are kept as ``<file>.part`` and continued with an HTTP ``Range``
request, so rerunning the same command after an interruption picks up where it
stopped; files already present with the right hash are not fetched again.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import socket
import ssl
import threading
import time
import types
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Mapping

from tqdm import tqdm

__all__ = [
    "DATABASES",
    "DatabaseSpec",
    "DownloadError",
    "RemoteFile",
    "default_data_dir",
    "download_database",
    "one_line",
]

PHYSIONET_FILES_URL = "https://physionet.org/files/"
SUMS_FILE = "SHA256SUMS.txt"
from ecgnet_tf.settings import DATA_ENV as DATA_DIR_ENV  # noqa: E402
DEFAULT_JOBS = 4
_CHUNK_BYTES = 1 << 16
_TIMEOUT_S = 60.0
_TRANSFER_RETRIES = 3  # extra attempts after a broken transfer, each resuming the part file
_BACKOFF_S = 1.0  # the first retry is immediate, later ones wait 1 s, 2 s, ...
_USER_AGENT = "ecgnet-download/0.1 (Python urllib)"


class DownloadError(RuntimeError):
    """A download could not be completed; ``str(error)`` is a one-line explanation."""


class _TransientError(Exception):
    """A transfer broke off in a way worth retrying (resuming from the part file)."""


class _Cancelled(Exception):
    """Another file failed, so this transfer stopped early (its part file is kept)."""


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: ``remote`` is relative to the base URL, ``local`` to the database folder."""

    remote: str
    local: str = ""

    def __post_init__(self) -> None:
        if not self.local:
            object.__setattr__(self, "local", self.remote)


#: ``rule(sums, read)`` -> files to fetch. ``sums`` maps path -> sha256 from SHA256SUMS.txt;
#: ``read(path)`` downloads (and verifies) one small file first and returns its text.
FileRule = Callable[[Mapping[str, str], Callable[[str], str]], list[RemoteFile]]
#: Run on the database folder once every file is in place.
PostProcess = Callable[[Path], None]


@dataclass(frozen=True)
class DatabaseSpec:
    """How to fetch one PhysioNet database."""

    name: str  # command-line name and folder name under the data directory
    title: str
    project: str  # PhysioNet project slug
    version: str
    license: str
    files: FileRule
    postprocess: PostProcess | None = None
    high_rate_prefixes: tuple[str, ...] = ()  # remote paths skipped by --only-100hz

    @property
    def base_url(self) -> str:
        """Default download root, ``https://physionet.org/files/<project>/<version>/``."""
        return f"{PHYSIONET_FILES_URL}{self.project}/{self.version}/"


# --------------------------------------------------------------------------- file-list rules


def _mitdb_files(sums: Mapping[str, str], read: Callable[[str], str]) -> list[RemoteFile]:
    """RECORDS plus ``.hea``/``.dat``/``.atr`` of every record it names."""
    records = read("RECORDS").split()
    if not records:
        raise DownloadError("mitdb RECORDS file is empty; delete it and rerun")
    return [RemoteFile("RECORDS")] + [
        RemoteFile(f"{record}.{ext}") for record in records for ext in ("hea", "dat", "atr")
    ]


def _ptbxl_files(sums: Mapping[str, str], read: Callable[[str], str]) -> list[RemoteFile]:
    """Every path listed in SHA256SUMS.txt (the two CSV tables, records100/, records500/, ...)."""
    required = ("ptbxl_database.csv", "scp_statements.csv")
    return [RemoteFile(path) for path in dict.fromkeys([*required, *sorted(sums)])]


def _cinc2017_files(sums: Mapping[str, str], read: Callable[[str], str]) -> list[RemoteFile]:
    """The training archive and the v3 reference labels, saved as REFERENCE.csv."""
    return [RemoteFile("training2017.zip"), RemoteFile("REFERENCE-v3.csv", "REFERENCE.csv")]


def _unpack_training2017(db_dir: Path) -> None:
    """Unpack ``training2017.zip`` so ``db_dir/training2017/A00001.mat`` exists (skip if done)."""
    archive = db_dir / "training2017.zip"
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [
                m for m in zf.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")
            ]
            if any(PurePosixPath(m.filename).parts[0] == "training2017" for m in members):
                members = [m for m in members if m.filename.startswith("training2017/")]
                target = db_dir
            else:
                target = db_dir / "training2017"
            done = all(
                (target / m.filename).is_file()
                and (target / m.filename).stat().st_size == m.file_size
                for m in members
            )
            if not done:
                zf.extractall(target, members=members)  # extractall strips unsafe path parts
    except zipfile.BadZipFile as exc:
        archive.unlink(missing_ok=True)
        raise DownloadError(f"{archive} is not a valid zip ({exc}); it was deleted, rerun") from None


_DATABASES: dict[str, DatabaseSpec] = {
    spec.name: spec
    for spec in (
        DatabaseSpec(
            name="mitdb",
            title="MIT-BIH Arrhythmia Database",
            project="mitdb",
            version="1.0.0",
            license="ODC-By 1.0",
            files=_mitdb_files,
        ),
        DatabaseSpec(
            name="ptbxl",
            title="PTB-XL, a large publicly available electrocardiography dataset",
            project="ptb-xl",
            version="1.0.3",
            license="CC BY 4.0",
            files=_ptbxl_files,
            high_rate_prefixes=("records500/",),
        ),
        DatabaseSpec(
            name="cinc2017",
            title="AF Classification from a Short Single Lead ECG Recording (CinC 2017)",
            project="challenge-2017",
            version="1.0.0",
            license="ODC-By 1.0",
            files=_cinc2017_files,
            postprocess=_unpack_training2017,
        ),
    )
}
#: The supported databases by name (read-only).
DATABASES: Mapping[str, DatabaseSpec] = types.MappingProxyType(_DATABASES)


# --------------------------------------------------------------------------- helpers


def default_data_dir() -> Path:
    """``$ECGNET_DATA`` if set, else ``./data`` (the project's one data setting)."""
    from ecgnet_tf.settings import resolve_data_dir

    return resolve_data_dir(None)


def _sha256_file(path: Path, hasher: "hashlib._Hash | None" = None) -> "hashlib._Hash":
    """Feed ``path`` into ``hasher`` (a new sha256 by default) in chunks and return it."""
    hasher = hasher if hasher is not None else hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return hasher


def _parse_sums(text: str, source: str) -> dict[str, str]:
    """Parse ``<sha256> <path>`` lines (sha256sum format, optional ``*`` before the path)."""
    sums: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.strip().split(maxsplit=1)
        digest = fields[0].lower()
        if len(fields) != 2 or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise DownloadError(f"{source} is not a valid checksum list (line {number})")
        sums[fields[1].strip().lstrip("*")] = digest
    if not sums:
        raise DownloadError(f"{source} lists no files")
    return sums


def _range_start(content_range: str | None) -> int | None:
    """First byte of a ``Content-Range: bytes a-b/n`` header, or None."""
    if not content_range:
        return None
    unit, _, spec = content_range.strip().partition(" ")
    start = spec.partition("-")[0]
    return int(start) if unit.lower() == "bytes" and start.isdigit() else None


def one_line(text: str) -> str:
    return " ".join(str(text).split())


# --------------------------------------------------------------------------- transfer engine


class _Session:
    """State of one ``download_database`` call: target folder, URL root, progress, cancellation."""

    def __init__(
        self, spec: DatabaseSpec, db_dir: Path, base_url: str, verify: bool, progress: bool, jobs: int
    ) -> None:
        self.spec = spec
        self.db_dir = db_dir
        self.base_url = base_url
        self.verify = verify
        self.jobs = jobs
        self._stop = threading.Event()
        self._lock = threading.Lock()
        disable = None if progress else True  # None: tqdm hides itself when not a TTY
        self._files_bar = tqdm(total=None, unit="file", desc=f"{spec.name} files", disable=disable)
        self._bytes_bar = tqdm(
            total=None, unit="B", unit_scale=True, unit_divisor=1024,
            desc=f"{spec.name} data", disable=disable,
        )

    def close(self) -> None:
        self._bytes_bar.close()
        self._files_bar.close()

    # -- public steps

    def run(self, only_100hz: bool) -> None:
        """Fetch SHA256SUMS.txt, the file list, every file, then post-process."""
        self.fetch(RemoteFile(SUMS_FILE), None)
        sums_path = self._local_path(SUMS_FILE)
        try:
            sums = _parse_sums(sums_path.read_text(encoding="utf-8", errors="replace"), str(sums_path))
        except DownloadError as exc:
            sums_path.unlink(missing_ok=True)
            raise DownloadError(f"{exc}; it was deleted, rerun to fetch it again") from None

        def read(remote: str) -> str:
            item = RemoteFile(remote)
            self.fetch(item, self._expected(item, sums))
            return self._local_path(item.local).read_text(encoding="utf-8", errors="replace")

        items = self.spec.files(sums, read)
        if only_100hz:
            items = [i for i in items if not i.remote.startswith(self.spec.high_rate_prefixes)]
        planned = [(item, self._expected(item, sums)) for item in items]  # fails before any transfer
        self._files_bar.reset(total=len(planned))
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="ecgnet-dl") as pool:
            futures = [pool.submit(self._fetch_counted, item, digest) for item, digest in planned]
            try:
                for future in as_completed(futures):
                    future.result()
            except BaseException:
                self._stop.set()
                for future in futures:
                    future.cancel()
                raise
        if self.spec.postprocess is not None:
            self.spec.postprocess(self.db_dir)

    def fetch(self, item: RemoteFile, expected: str | None) -> bool:
        """Make ``item`` present (verified when ``expected`` is given); True if bytes moved."""
        dest = self._local_path(item.local)
        if dest.is_file():
            if expected is None or not self.verify or _sha256_file(dest).hexdigest() == expected:
                return False
            dest.unlink()
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        url = self.base_url + urllib.parse.quote(item.remote)
        failures = mismatches = 0
        while True:
            try:
                digest = self._stream(url, part)
            except _TransientError as exc:
                failures += 1
                if failures > _TRANSFER_RETRIES:
                    raise DownloadError(
                        f"download of {url} failed {failures} times ({exc}); "
                        "check the connection and rerun the same command to resume"
                    ) from None
                time.sleep(_BACKOFF_S * (failures - 1))
                continue
            if self.verify and expected is not None and digest != expected:
                part.unlink(missing_ok=True)
                mismatches += 1
                if mismatches > 1:
                    raise DownloadError(
                        f"checksum mismatch for {self.spec.name}/{item.local} from {url}: "
                        f"expected sha256 {expected[:16]}..., got {digest[:16]}... twice; "
                        "the server copy may be damaged, try again later or use --no-verify"
                    )
                continue
            os.replace(part, dest)
            return True

    # -- internals

    def _fetch_counted(self, item: RemoteFile, expected: str | None) -> None:
        if self._stop.is_set():
            raise _Cancelled
        self.fetch(item, expected)
        with self._lock:
            self._files_bar.update(1)

    def _expected(self, item: RemoteFile, sums: Mapping[str, str]) -> str | None:
        digest = sums.get(item.remote)
        if digest is None and self.verify:
            raise DownloadError(
                f"{item.remote} is not listed in {self.base_url}{SUMS_FILE}, so it cannot be "
                "verified; rerun with --no-verify to accept it unchecked"
            )
        return digest

    def _local_path(self, relative: str) -> Path:
        rel = PurePosixPath(relative)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise DownloadError(f"refusing unsafe file path {relative!r} from {self.base_url}")
        return self.db_dir.joinpath(*rel.parts)

    def _stream(self, url: str, part: Path) -> str:
        """Download ``url`` into ``part`` (resuming it when possible); return its sha256."""
        offset = part.stat().st_size if part.is_file() else 0
        headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            request = urllib.request.Request(url, headers=headers)
            response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 416 and offset:  # part file no longer matches the remote file
                part.unlink(missing_ok=True)
                raise _TransientError("server rejected the resume offset") from None
            if exc.code in (408, 429) or exc.code >= 500:
                raise _TransientError(f"HTTP {exc.code} {exc.reason}") from None
            raise DownloadError(f"HTTP {exc.code} {exc.reason} for {url}") from None
        except urllib.error.URLError as exc:
            raise self._connection_error(url, exc.reason) from None
        except (OSError, http.client.HTTPException) as exc:
            raise _TransientError(one_line(exc) or type(exc).__name__) from None

        with response:
            hasher = hashlib.sha256()
            if response.status == 206:
                if _range_start(response.headers.get("Content-Range")) != offset:
                    part.unlink(missing_ok=True)
                    raise _TransientError("server sent an unexpected byte range")
                mode = "ab"
                if offset:
                    _sha256_file(part, hasher)
            else:  # 200: no resume asked for, or the server ignored Range -> start over
                mode = "wb"
            length = response.headers.get("Content-Length")
            expected_bytes = int(length) if length and length.isdigit() else None
            received = 0
            with open(part, mode) as out:
                while True:
                    if self._stop.is_set():
                        raise _Cancelled
                    try:
                        chunk = response.read(_CHUNK_BYTES)
                    except (OSError, http.client.HTTPException) as exc:
                        raise _TransientError(f"connection lost: {one_line(exc)}") from None
                    if not chunk:
                        break
                    out.write(chunk)
                    hasher.update(chunk)
                    received += len(chunk)
                    with self._lock:
                        self._bytes_bar.update(len(chunk))
            if expected_bytes is not None and received < expected_bytes:
                raise _TransientError(f"connection closed after {received} of {expected_bytes} bytes")
        return hasher.hexdigest()

    def _connection_error(self, url: str, reason: object) -> Exception:
        """Classify a failure to connect: fatal (no route, refused, TLS) or worth a retry."""
        host = urllib.parse.urlsplit(url).netloc
        unreachable = (socket.gaierror, ConnectionRefusedError)
        if isinstance(reason, ssl.SSLCertVerificationError):
            return DownloadError(f"TLS certificate check failed for {host} ({one_line(reason)})")
        if isinstance(reason, unreachable) or (
            isinstance(reason, OSError)
            and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL)
        ):
            return DownloadError(
                f"cannot reach {host} ({one_line(reason)}): no network? Download on a connected "
                f"machine and copy the folder to {self.db_dir}, or set {DATA_DIR_ENV}"
            )
        return _TransientError(one_line(reason) or type(reason).__name__)


# --------------------------------------------------------------------------- public API


def download_database(
    name: str,
    data_dir: Path,
    base_url: str | None = None,
    verify: bool = True,
    progress: bool = True,
    *,
    jobs: int = DEFAULT_JOBS,
    only_100hz: bool = False,
) -> Path:
    """Download database ``name`` into ``data_dir/name`` and return that folder.

    ``base_url`` replaces the PhysioNet URL of this database (a mirror holding the
    same files as ``https://physionet.org/files/<project>/<version>/``). ``jobs`` files
    are fetched in parallel; ``only_100hz`` skips PTB-XL's ``records500/``.
    Raises DownloadError (one-line message) on any failure.
    """
    spec = DATABASES.get(name)
    if spec is None:
        raise DownloadError(f"unknown database {name!r}; choose one of {', '.join(DATABASES)}")
    if only_100hz and not spec.high_rate_prefixes:
        raise DownloadError(f"--only-100hz applies to ptbxl only, not {name}")
    if jobs < 1:
        raise DownloadError(f"jobs must be at least 1, got {jobs}")
    url = base_url or spec.base_url
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise DownloadError(f"base URL must start with http:// or https://, got {url!r}")
    url = url if url.endswith("/") else url + "/"
    db_dir = Path(data_dir).expanduser() / spec.name
    session = _Session(spec, db_dir, url, verify, progress, jobs)
    try:
        session.run(only_100hz)
    except OSError as exc:  # network errors are handled inside; this is the local disk
        raise DownloadError(f"cannot write under {db_dir}: {one_line(exc)}") from None
    finally:
        session.close()
    return db_dir
