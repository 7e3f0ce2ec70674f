"""Load a saved Keras model of the project safely: a model is data, never code.

Only ``.keras`` zip archives are accepted (tf_keras's legacy HDF5 loader ignores ``safe_mode``, so an
HDF5 file could run a Lambda layer's code on load); they are loaded with ``safe_mode=True``. A file
that is missing, not a zip, or truncated gives a :class:`ModelFileError` naming it.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

from ..data.errors import DataError


class ModelFileError(DataError):
    """A model file is missing, unsafe or unreadable (the message names it)."""


def check_model_file(path: Path) -> Path:
    """Refuse anything but a complete ``.keras`` zip archive; return the path."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a .keras zip archive (HDF5 and other formats are refused: loading "
                             "them can run code)")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelFileError(f"{path}: damaged .keras archive ({exc})") from exc
    if bad is not None:
        raise ModelFileError(f"{path}: damaged .keras archive (member {bad} fails its CRC check)")
    if "config.json" not in names:
        raise ModelFileError(f"{path}: not a Keras model archive (no config.json)")
    return path


def load_model(path: Path, custom_objects: dict | None = None, compile: bool = False):
    """Load a ``.keras`` model with the project's custom layers (uncompiled unless ``compile``).

    ``custom_objects`` adds to the project's layers (e.g. the training losses, to resume a compiled
    model). Raises :class:`ModelFileError` for missing, non-zip or damaged files.
    """
    import tf_keras as keras

    from ..model import custom_objects as model_objects

    path = check_model_file(path)
    objects = {**model_objects(), **(custom_objects or {})}
    try:
        return keras.models.load_model(path, custom_objects=objects, compile=compile, safe_mode=True)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise ModelFileError(f"{path}: cannot load the model ({str(exc).splitlines()[0] if str(exc) else exc!r})") \
            from exc


def load_run_model(run_dir: Path):
    """A run folder's ``model.keras``, predicting the way the run trained: eagerly for a run whose
    ``run.json`` says ``"execution": "eager"`` (quick smoke runs, where tracing a predict graph costs
    more than the few batches it serves), through a traced graph otherwise."""
    from .folder import RunConfig

    model = load_model(Path(run_dir) / "model.keras")
    model.run_eagerly = RunConfig.load(run_dir).execution == "eager"
    return model
