"""The explainer cuts records exactly as training does (same windows, priors, labels, quality flags)."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf import preprocess as pp
from ecgnet_tf.interpret.windows import load_record_windows
from ecgnet_tf.tasks import catalog, get_task, task_record_windows
from ecgnet_tf.tasks.windows import record_windows


@pytest.mark.parametrize("task_name", ["mitdb-aami", "ptbxl-mi", "cinc2017"])
def test_windows_match_training(fake_data, task_name):
    task = get_task(task_name)
    cat = catalog(task, fake_data)
    rid = cat.ids[0]
    cfg = pp.PreprocessConfig()
    ref = record_windows(task, fake_data, rid, cat.label_of[rid], cat.entry_of.get(rid), cfg)
    got = task_record_windows(task, fake_data, rid, cfg)
    assert len(got) == len(ref["x"]) > 0
    np.testing.assert_array_equal(got.x, ref["x"])
    np.testing.assert_array_equal(got.prior, ref["prior"].astype(np.float32))
    np.testing.assert_array_equal(got.y, ref["y"])
    np.testing.assert_array_equal(got.ok, ref["ok"])
    w = got.x.shape[1]
    for r in got.rpeaks:
        assert r.size and np.all((r >= 0) & (r < w))
    if task.database == "mitdb":
        assert got.rpeak_source == "reference" and np.all([w // 2 in r for r in got.rpeaks])
        assert set(got.beat_class.tolist()) <= set(task.classes)


def test_record_path_resolves_like_an_id(fake_data):
    task = get_task("mitdb-aami")
    cfg = pp.PreprocessConfig()
    by_id = load_record_windows(task, "100", fake_data, cfg)
    by_path = load_record_windows(task, str(fake_data / "mitdb" / "100"), None, cfg)
    np.testing.assert_array_equal(by_id.x, by_path.x)
    assert by_path.rpeak_source == "reference"
