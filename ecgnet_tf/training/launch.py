"""Run one training in its own process (a fresh TensorFlow per run), for studies made of many runs.

Used by ``python -m ecgnet_tf.reproduce`` and ``python -m ecgnet_tf.beat_study``: a run folder whose
``metrics.json`` exists is finished and reused, one with a checkpoint is resumed, anything else is
trained from the start. The training's output goes to a log file.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def train_in_subprocess(name: str, argv: list[str], out: Path, log: Path, tag: str = "run") -> Path:
    """``python -m ecgnet_tf.train *argv`` writing the run folder ``out`` (``argv`` must name it with
    ``--out``), unless ``out/metrics.json`` exists; ``--resume`` is added when ``out`` has a checkpoint.
    Output is appended to ``log``. Raises RuntimeError naming the log when the training fails."""
    out = Path(out)
    if (out / "metrics.json").is_file():
        return out
    cmd = [sys.executable, "-m", "ecgnet_tf.train", *argv]
    if (out / "checkpoints" / "state.json").is_file():
        cmd.append("--resume")
    print(f"[{tag}] {name}: {' '.join(cmd[1:])}", flush=True)
    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        res = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if res.returncode != 0:
        raise RuntimeError(f"{name} failed (exit {res.returncode}); see {log}")
    print(f"[{tag}] {name}: done in {time.time() - t0:.0f} s", flush=True)
    return out
