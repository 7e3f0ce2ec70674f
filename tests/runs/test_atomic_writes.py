"""Crash-safe writes (ecgnet_tf.atomic): readers see the old or the new file, never a mix; concurrent
writers of one file (two runs sharing a window cache) never trip over each other's temporary files."""
from __future__ import annotations

import json
import threading

import numpy as np

from ecgnet_tf import atomic


def test_write_replaces_whole_files_and_leaves_no_temporaries(tmp_path):
    f = tmp_path / "state.json"
    atomic.write_json(f, {"epoch": 1})
    atomic.write_json(f, {"epoch": 2})
    assert json.loads(f.read_text()) == {"epoch": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    f = tmp_path / "metrics.json"
    atomic.write_json(f, {"ok": True})
    try:
        with atomic.atomic_path(f) as tmp:
            tmp.write_text('{"half": ')
            raise RuntimeError("killed mid-write")
    except RuntimeError:
        pass
    assert json.loads(f.read_text()) == {"ok": True}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_concurrent_writers_of_one_file_do_not_collide(tmp_path):
    """The window cache used a fixed temporary name: two runs writing one record raced (FileNotFoundError)."""
    f = tmp_path / "100-abc.npz"
    errors = []

    def writer(k: int) -> None:
        try:
            for i in range(30):
                with atomic.atomic_path(f) as tmp:
                    np.savez(tmp, x=np.full(1000, k * 100 + i))
        except Exception as exc:  # pragma: no cover - the failure this test guards against
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with np.load(f) as z:
        assert len(set(z["x"].tolist())) == 1  # one writer's complete file
    assert [p.name for p in tmp_path.iterdir()] == [f.name]
