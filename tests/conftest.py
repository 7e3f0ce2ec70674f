"""Shared fixtures: the real PhysioNet data when present, and tiny fake databases otherwise."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fake_databases, repo_paths: test helpers

from repo_paths import REPO, SHARED_DATA  # noqa: E402,F401


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (../shared/data); tests using it skip when it is absent."""
    if not (SHARED_DATA / "mitdb" / "100.hea").is_file():
        pytest.skip(f"real PhysioNet data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def fake_data(tmp_path_factory) -> Path:
    """A data folder with fake mitdb/, ptbxl/ and cinc2017/ written by the tests."""
    from fake_databases import write_all

    return write_all(tmp_path_factory.mktemp("fake_data"))


@pytest.fixture(scope="session")
def window_cache(tmp_path_factory) -> Path:
    """One window cache for the session's quick runs (windows are cut once per record)."""
    return tmp_path_factory.mktemp("window_cache")


@pytest.fixture(scope="session")
def trained_run(fake_data, window_cache, tmp_path_factory):
    """Factory: ``trained_run(task, config="edge", *extra)`` -> a quick run folder on the fake databases.

    Each (task, config, extra) combination is trained once per test session (1 epoch, batch 16) and
    shared; tests that change a run folder must copy it first (``shutil.copytree``).
    """
    from ecgnet_tf import train

    runs: dict[tuple, Path] = {}
    root = tmp_path_factory.mktemp("trained_runs")

    def make(task: str, config: str = "edge", *extra: str) -> Path:
        key = (task, config, *extra)
        if key not in runs:
            out = root / "-".join(k.strip("-") for k in key).replace("+", "p")
            rc = train.main(["--task", task, "--config", config, "--quick", "--data-dir", str(fake_data),
                             "--out", str(out), "--epochs", "1", "--batch-size", "16",
                             "--cache-dir", str(window_cache), *extra])
            assert rc == 0 and (out / "model.keras").is_file(), f"quick training of {key} failed"
            runs[key] = out
        return runs[key]

    return make
