"""``--strategy multiworker`` really trains on several machines: two worker processes on 127.0.0.1.

Each worker is a separate process with its own ``TF_CONFIG``, working folder, temporary folder, window
cache and ``--out`` path (as on two machines without a shared file system). The checks: both exit 0
and end with bit-equal weights, which are the weights in the chief's run folder; the chief (worker 0)
alone writes a run folder and the other worker leaves nothing behind; ``--resume`` on both workers
(the chief's run folder copied to the other "machine") ends bit-identical to an uninterrupted run; each
worker gets its own half of every global batch; workers given different settings both stop and say why.

If these fail with gRPC or "unhealthy task" errors in the workers' output, MultiWorkerMirroredStrategy
cannot run on this machine (the workers talk over gRPC on free 127.0.0.1 ports).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ecgnet_tf.runs import load_model
from ecgnet_tf.training.checkpoint import FAULT_ENV
from ecgnet_tf.training.distribute import weights_digest
from ecgnet_tf.training.pipeline import epoch_order, steps_per_epoch

pytestmark = pytest.mark.slow

from repo_paths import REPO
TIMEOUT_S = 300  # per worker; a worker whose partner failed gets GRACE_S to fail too, then is killed
GRACE_S = 30


@dataclass
class Worker:
    index: int
    home: Path  # the worker's "machine": cwd/, tmp/, out/, cache/
    proc: subprocess.Popen
    rc: int | None = None

    @property
    def out(self) -> Path:
        return self.home / "out"

    def stdout(self) -> str:
        return (self.home / "stdout.txt").read_text(errors="replace")

    def stderr(self) -> str:
        return (self.home / "stderr.txt").read_text(errors="replace")

    def explain(self) -> str:
        return (f"worker {self.index} exit code {self.rc}\n--- stdout (end)\n{self.stdout()[-1500:]}"
                f"\n--- stderr (end)\n{self.stderr()[-3000:]}")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:  # all bound at once: n distinct ports
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _run_workers(root: Path, args_of, n: int = 2) -> list[Worker]:
    """Start ``n`` workers (``args_of(i, home)``: the command after ``python``), wait for all of them.

    Never hangs: each worker has TIMEOUT_S; once one has failed, the others get GRACE_S, then all
    still running are killed (exit code None).
    """
    ports = _free_ports(n)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    workers = []
    try:
        for i in range(n):
            home = root / f"machine{i}"
            for sub in ("cwd", "tmp"):
                (home / sub).mkdir(parents=True)
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": "-1", "TMPDIR": str(home / "tmp"),
                   "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
                   "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})}
            env.pop(FAULT_ENV, None)
            with open(home / "stdout.txt", "w") as out, open(home / "stderr.txt", "w") as err:
                proc = subprocess.Popen([sys.executable, *args_of(i, home)], cwd=home / "cwd", env=env,
                                        stdout=out, stderr=err)
            workers.append(Worker(i, home, proc))
        deadline = time.monotonic() + TIMEOUT_S
        while any(w.rc is None for w in workers) and time.monotonic() < deadline:
            time.sleep(0.5)
            for w in workers:
                if w.rc is None:
                    w.rc = w.proc.poll()
                    if w.rc not in (None, 0):
                        deadline = min(deadline, time.monotonic() + GRACE_S)
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()
    return workers


def _train_args(fake_data: Path, epochs: int = 1, extra=lambda i: [], out=lambda i, home: home / "out"):
    def args(i: int, home: Path) -> list[str]:
        return ["-m", "ecgnet_tf.train", "--task", "cinc2017", "--config", "baseline", "--quick",
                "--epochs", str(epochs), "--batch-size", "8", "--strategy", "multiworker",
                "--data-dir", str(fake_data), "--out", str(out(i, home)), "--cache-dir", str(home / "cache"),
                *extra(i)]
    return args


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def _final_digest(workers: list[Worker]) -> str:
    """The weights digest both workers printed (they must exit 0 and print the same one)."""
    digests = {}
    for w in workers:
        assert w.rc == 0, "multi-worker training failed (MultiWorkerMirroredStrategy over gRPC on 127.0.0.1)\n" \
                          + w.explain()
        found = re.findall(rf"worker {w.index} of 2: final weights ([0-9a-f]{{16}})", w.stdout())
        assert len(found) == 1, w.explain()
        digests[w.index] = found[0]
    assert digests[0] == digests[1], f"the workers ended with different weights: {digests}"
    return digests[0]


@pytest.fixture(scope="module")
def reference(fake_data, tmp_path_factory) -> list[Worker]:
    """Two workers, 2 epochs, uninterrupted."""
    return _run_workers(tmp_path_factory.mktemp("multiworker"), _train_args(fake_data, epochs=2))


def test_two_workers_train_one_model_and_only_the_chief_writes(reference):
    chief, other = reference
    digest = _final_digest(reference)  # the same weights on both workers, and they are the chief's saved model
    assert weights_digest(load_model(chief.out / "checkpoints/epoch-0002.keras").get_weights()) == digest
    for w in (chief, other):
        assert "strategy multiworker: replicas: 2, global batch 16" in w.stdout(), w.explain()

    # the chief wrote the whole run folder
    files = _files(chief.out)
    for name in ("run.json", "model.keras", "metrics.json", "report.md", "history.csv", "split.json",
                 "normalization.json", "checkpoints/state.json", "checkpoints/epoch-0002.keras"):
        assert name in files, f"the chief's run folder lacks {name}: {files}"
    assert json.loads((chief.out / "run.json").read_text())["strategy"] == "multiworker"
    assert json.loads((chief.out / "checkpoints/state.json").read_text())["epoch"] == 2
    assert json.loads((chief.out / "metrics.json").read_text())["n"] > 0
    assert len((chief.out / "history.csv").read_text().splitlines()) == 3

    # the other worker wrote nothing: no run folder, its temporary checkpoints removed, nothing in its cwd
    assert not other.out.exists(), f"the non-chief worker wrote {other.out}: {_files(other.out)}"
    assert "not the chief, saves to " + str(other.home / "tmp") in other.stdout(), other.explain()
    assert _files(other.home / "tmp") == [], "the non-chief worker left its temporary folder behind"
    assert _files(other.home / "cwd") == []
    assert "test (" not in other.stdout(), "the non-chief worker evaluated the model"


def test_resume_on_all_workers_is_exact(reference, fake_data, tmp_path):
    """1 epoch, the chief's run folder copied to the other machine, --resume to 2 epochs on both workers:
    the same weights, history and metrics as the uninterrupted run; the copy is only read."""
    first = _run_workers(tmp_path / "first", _train_args(fake_data, epochs=1))
    _final_digest(first)
    copy = tmp_path / "copy-on-machine1"
    shutil.copytree(first[0].out, copy)
    before = {f: (copy / f).read_bytes() for f in _files(copy) if (copy / f).is_file()}
    outs = [first[0].out, copy]
    resumed = _run_workers(tmp_path / "resume", _train_args(fake_data, epochs=2, extra=lambda i: ["--resume"],
                                                            out=lambda i, home: outs[i]))
    assert _final_digest(resumed) == _final_digest(reference)
    for w in resumed:
        assert "resumed from epoch-0001.keras (epoch 1 of 2)" in w.stdout(), w.explain()
    for name in ("history.csv", "metrics.json"):
        assert (outs[0] / name).read_text() == (reference[0].out / name).read_text(), name
    assert {f: (copy / f).read_bytes() for f in _files(copy) if (copy / f).is_file()} == before, \
        "the non-chief worker wrote into its --out"


SHARD_PROBE = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    from ecgnet_tf.training.distribute import shard_batches
    from ecgnet_tf.training.pipeline import make_dataset

    n, batch, epochs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    x = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None], (n, 4, 1)).copy()  # window i is all i
    ds = make_dataset(x, np.zeros((n, 4), np.float32), np.zeros(n, int), 2, batch, shuffle=True, seed=3,
                      epochs=epochs)
    seen = []
    for inputs, _ in strategy.experimental_distribute_dataset(shard_batches(ds)):
        local = strategy.experimental_local_results(inputs["ecg"])
        seen.append(sorted(int(v) for part in local for v in part.numpy()[:, 0, 0]))
    print("SEEN " + json.dumps(seen))
""")


def test_each_worker_gets_its_own_share_of_every_global_batch(tmp_path):
    """37 windows, global batch 16 (2 replicas of 8), 2 epochs: every global batch of the pipeline (the
    last one short) is split into two disjoint halves, one per worker, and nothing else is seen."""
    n, batch, epochs = 37, 16, 2
    probe = tmp_path / "probe.py"
    probe.write_text(SHARD_PROBE)
    workers = _run_workers(tmp_path, lambda i, home: [str(probe), str(n), str(batch), str(epochs)])
    seen = []
    for w in workers:
        assert w.rc == 0, w.explain()
        seen.append(json.loads(re.search(r"^SEEN (.*)$", w.stdout(), re.M).group(1)))
    steps = steps_per_epoch(n, batch)
    assert steps == 3 and len(seen[0]) == len(seen[1]) == steps * epochs
    for e in range(epochs):
        order = epoch_order(n, 3, e)
        for s in range(steps):
            a, b = seen[0][e * steps + s], seen[1][e * steps + s]
            assert a and b and not set(a) & set(b), (e, s, a, b)
            assert sorted(a + b) == sorted(order[s * batch:(s + 1) * batch].tolist()), (e, s)


def test_workers_with_different_settings_stop_and_say_why(fake_data, tmp_path):
    workers = _run_workers(tmp_path, _train_args(fake_data, extra=lambda i: ["--seed", str(i)]))
    for w in workers:
        assert w.rc not in (0, None), w.explain()
        assert "the workers of the cluster disagree on settings" in w.stderr(), w.explain()
        assert not (w.home / "out" / "model.keras").exists()
    assert not workers[1].out.exists()
