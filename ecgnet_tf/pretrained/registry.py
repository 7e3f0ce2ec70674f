"""The pretrained models shipped in this package: names, folders, checksums.

Each model is a folder ``ecgnet_tf/pretrained/<name>/`` shaped like a small run folder, so every
command that takes a run folder takes it too: ``run.json`` (the training configuration, data paths
removed), ``normalization.json`` (the training z-score), ``model.keras`` (architecture and float
weights, no optimizer state: for fine-tuning with ``train --init-from``), ``model_int8.tflite`` (the
int8 export, with its sidecar metadata), ``af_smoothing.json`` (rhythm models), the model card
(``<name>.json`` and the generated ``MODEL_CARD.md``) and ``manifest.json`` (SHA-256 of every
file). The files are written only by ``python -m ecgnet_tf.reproduce --publish`` from a trained run
(:mod:`ecgnet_tf.export.publish`).

:func:`resolve_model` turns a name (``beats``, ``rhythm``, ``mi``) into that folder after checking
every checksum, so a damaged or hand-edited file is refused at load time.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..data.errors import DataError

PRETRAINED_DIR = Path(__file__).resolve().parent
#: name -> task of the models the project may ship (a name whose folder is absent is not available)
NAMES: dict[str, str] = {"beats": "mitdb-aami", "rhythm": "cinc2017", "mi": "ptbxl-mi"}
MANIFEST = "manifest.json"
#: the default pair of ``analyze``: the rhythm model for AF episodes, the beat model for the beat table
DEFAULT_ANALYZE = ("rhythm", "beats")


@dataclass(frozen=True)
class Pretrained:
    """A shipped model: its name, task, folder and card (the parsed ``<name>.json``)."""

    name: str
    task: str
    folder: Path
    card: dict

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def folder_of(name: str, root: Path = PRETRAINED_DIR) -> Path:
    return Path(root) / name


def is_available(name: str, root: Path = PRETRAINED_DIR) -> bool:
    return name in NAMES and (folder_of(name, root) / MANIFEST).is_file()


def verify(name: str, root: Path = PRETRAINED_DIR) -> Path:
    """Check every file of a shipped model against its manifest; return the folder."""
    if name not in NAMES:
        raise DataError(f"unknown pretrained model {name!r}; choose one of {', '.join(NAMES)}")
    folder = folder_of(name, root)
    man = folder / MANIFEST
    if not man.is_file():
        raise DataError(f"pretrained model {name!r} is not shipped in this version ({man} missing); "
                        "train one with python -m ecgnet_tf.train")
    try:
        files = json.loads(man.read_text())["files"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise DataError(f"{man}: damaged manifest ({exc})") from exc
    for fname, digest in files.items():
        p = folder / fname
        if not p.is_file():
            raise DataError(f"pretrained model {name!r}: {p} is missing")
        if sha256(p) != digest:
            raise DataError(f"pretrained model {name!r}: {p} does not match its checksum (damaged or edited)")
    extra = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST and p.name not in files)
    if extra:
        raise DataError(f"pretrained model {name!r}: files not in its manifest: {extra}")
    return folder


def load(name: str, root: Path = PRETRAINED_DIR) -> Pretrained:
    folder = verify(name, root)
    card = json.loads((folder / f"{name}.json").read_text())
    return Pretrained(name, NAMES[name], folder, card)


def available(root: Path = PRETRAINED_DIR) -> list[Pretrained]:
    """The shipped models (checksums verified), in :data:`NAMES` order."""
    return [load(n, root) for n in NAMES if is_available(n, root)]


def resolve_model(value: str | Path | None, root: Path = PRETRAINED_DIR) -> Path | None:
    """A command's model argument: a pretrained name becomes its verified folder; a path stays a path."""
    if value is None:
        return None
    s = str(value)
    if s in NAMES:
        return verify(s, root)
    return Path(value)


def is_pretrained_folder(path: Path | str, root: Path = PRETRAINED_DIR) -> bool:
    """True for a folder of the shipped models or the sample (commands must never write into it)."""
    try:
        return Path(path).resolve().parent == Path(root).resolve()
    except OSError:
        return False


def analysis_model(value: str | Path, root: Path = PRETRAINED_DIR) -> tuple[Path, Path | None]:
    """(model file or run folder, run folder for a .tflite) for the monitor: a pretrained name gives
    its verified int8 export (fast to load, no TensorFlow start-up) and its folder (smoothing, sidecar)."""
    s = str(value)
    if s in NAMES:
        folder = verify(s, root)
        return folder / "model_int8.tflite", folder
    return Path(value), None
