"""Nothing lost, nothing different: same seed -> same weights in another process; a kill at any point
loses at most the epoch in progress and ``--resume`` reaches bit-identical weights and metrics.

Each run is a separate process (a kill must really kill), on the fake CinC database with the small
``baseline`` config, 3 epochs of a few steps each. Quick runs execute eagerly (``--execution`` auto); one
test repeats a kill and resume with traced graphs, the way full runs train. The randomised kill soak is deselected by default
(``pytest -m soak`` runs it).
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ecgnet_tf.runs import load_model
from ecgnet_tf.training.checkpoint import FAULT_ENV

from repo_paths import REPO
EPOCHS = 3
pytestmark = pytest.mark.slow  # every test trains in subprocesses


def _train(fake_data: Path, cache: Path, out: Path, epochs: int = EPOCHS, resume: bool = False,
           fault: str | None = None, timeout: float = 300, execution: str | None = None
           ) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "ecgnet_tf.train", "--task", "cinc2017", "--config", "baseline", "--quick",
           "--epochs", str(epochs), "--batch-size", "16", "--data-dir", str(fake_data), "--out", str(out),
           "--cache-dir", str(cache)] + (["--resume"] if resume else []) + \
        (["--execution", execution] if execution else [])
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "-1"}
    env.pop(FAULT_ENV, None)
    if fault:
        env[FAULT_ENV] = fault
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _weights(path: Path) -> list[np.ndarray]:
    return load_model(path).get_weights()


def _same_run(a: Path, b: Path) -> None:
    """Bit-identical final checkpoint, best model and held-out metrics."""
    for name in (f"checkpoints/epoch-{EPOCHS:04d}.keras", "model.keras"):
        wa, wb = _weights(a / name), _weights(b / name)
        assert len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb)), name
    assert json.loads((a / "metrics.json").read_text()) == json.loads((b / "metrics.json").read_text())
    ha = (a / "history.csv").read_text().splitlines()
    hb = (b / "history.csv").read_text().splitlines()
    assert ha == hb and len(ha) == EPOCHS + 1


@pytest.fixture(scope="module")
def reference(fake_data, tmp_path_factory) -> tuple[Path, Path]:
    """One uninterrupted run, and the window cache every run of this module shares."""
    root = tmp_path_factory.mktemp("resume")
    cache = root / "cache"
    res = _train(fake_data, cache, root / "reference")
    assert res.returncode == 0, res.stderr[-2000:]
    return root / "reference", cache


def test_same_seed_gives_identical_runs_across_processes(reference, fake_data, tmp_path):
    ref, cache = reference
    res = _train(fake_data, cache, tmp_path / "again")
    assert res.returncode == 0, res.stderr[-2000:]
    _same_run(ref, tmp_path / "again")


def test_resume_after_a_finished_epoch_is_exact(reference, fake_data, tmp_path):
    ref, cache = reference
    out = tmp_path / "split"
    assert _train(fake_data, cache, out, epochs=1).returncode == 0
    res = _train(fake_data, cache, out, resume=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "resumed from epoch-0001.keras (epoch 1 of 3)" in res.stdout
    _same_run(ref, out)


@pytest.mark.parametrize("fault", ["checkpoint_save", "between_epochs", "mid_epoch"])
def test_kill_at_a_fault_point_then_resume_is_exact(reference, fake_data, tmp_path, fault):
    ref, cache = reference
    out = tmp_path / fault
    killed = _train(fake_data, cache, out, fault=fault)
    assert killed.returncode == 137, (killed.returncode, killed.stderr[-1500:])
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    # the kill came in the second epoch: at most that epoch is lost, and the state names a complete checkpoint
    assert state["epoch"] == {"checkpoint_save": 1, "between_epochs": 2, "mid_epoch": 1}[fault]
    assert (out / "checkpoints" / state["checkpoint"]).is_file()
    assert bool(list(out.glob("checkpoints/.*.tmp.keras"))) == (fault == "checkpoint_save")  # the half-saved file
    res = _train(fake_data, cache, out, resume=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"resumed from epoch-{state['epoch']:04d}.keras" in res.stdout
    _same_run(ref, out)


def test_graph_execution_kill_then_resume_is_exact(reference, fake_data, tmp_path):
    """Full runs trace graphs: the same guarantee holds there (and the run records how it ran)."""
    _, cache = reference
    ref, out = tmp_path / "graph-reference", tmp_path / "graph-killed"
    res = _train(fake_data, cache, ref, execution="graph")
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads((ref / "run.json").read_text())["execution"] == "graph"
    assert json.loads((reference[0] / "run.json").read_text())["execution"] == "eager"
    assert _train(fake_data, cache, out, fault="between_epochs", execution="graph").returncode == 137
    res = _train(fake_data, cache, out, resume=True, execution="graph")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "resumed from epoch-0002.keras" in res.stdout
    _same_run(ref, out)


def test_damaged_checkpoint_is_reported_not_a_traceback(reference, fake_data, tmp_path):
    ref, cache = reference
    out = tmp_path / "damaged"
    shutil.copytree(ref, out)
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    ckpt = out / "checkpoints" / state["checkpoint"]
    ckpt.write_bytes(ckpt.read_bytes()[:61883])  # the reproduction: a truncated checkpoint
    res = _train(fake_data, cache, out, epochs=EPOCHS + 1, resume=True)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith(f"error: {ckpt}: ")
    assert "Traceback" not in res.stderr


@pytest.mark.slow
@pytest.mark.soak
def test_random_kill_soak(reference, fake_data, tmp_path):
    """Kill the run at random moments (SIGKILL), resume until it finishes: the result never changes."""
    ref, cache = reference
    out = tmp_path / "soak"
    rng = random.Random(2026)
    cmd_env = {**os.environ, "CUDA_VISIBLE_DEVICES": "-1"}
    cmd_env.pop(FAULT_ENV, None)
    kills = 0
    for attempt in range(8):
        cmd = [sys.executable, "-m", "ecgnet_tf.train", "--task", "cinc2017", "--config", "baseline", "--quick",
               "--epochs", str(EPOCHS), "--batch-size", "16", "--data-dir", str(fake_data), "--out", str(out),
               "--cache-dir", str(cache), "--resume"]
        proc = subprocess.Popen(cmd, cwd=REPO, env=cmd_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if kills < 2:
            time.sleep(rng.uniform(6.0, 14.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        proc.wait(timeout=300)
        if proc.returncode == 0 and (out / "metrics.json").is_file():
            break
    assert proc.returncode == 0
    _same_run(ref, out)
