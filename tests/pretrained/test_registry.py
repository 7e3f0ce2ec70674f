"""Pretrained models: checksums verified at load, names resolved, the sample is what its script makes,
and no tracked file outside ecgnet_tf/pretrained/ is a model."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import wfdb

from ecgnet_tf.data.errors import DataError
from ecgnet_tf.pretrained import registry
from ecgnet_tf.samples import SAMPLE_PATH, write_sample
from repo_paths import REPO

MODEL_SUFFIXES = (".tflite", ".keras", ".h5", ".hdf5", ".pb", ".onnx", ".pkl", ".pt", ".pth", ".ckpt", ".weights")


def _fake_model(root, name="beats"):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "model_int8.tflite").write_bytes(b"TFL3" + bytes(100))
    (folder / f"{name}.json").write_text(json.dumps({"metrics": {"test": {"accuracy": 0.9}}, "int8": {
        "size_bytes": 104, "parity": {}}}))
    files = {p.name: registry.sha256(p) for p in folder.iterdir()}
    (folder / registry.MANIFEST).write_text(json.dumps({"name": name, "files": files}))
    return folder


def test_verify_accepts_intact_and_refuses_edited_files(tmp_path):
    folder = _fake_model(tmp_path)
    assert registry.verify("beats", tmp_path) == folder
    assert registry.resolve_model("beats", tmp_path) == folder
    assert registry.resolve_model("runs/x", tmp_path) == type(folder)("runs/x")
    assert [m.name for m in registry.available(tmp_path)] == ["beats"]
    (folder / "model_int8.tflite").write_bytes(b"TFL3" + bytes(99) + b"\x01")
    with pytest.raises(DataError, match="checksum"):
        registry.verify("beats", tmp_path)
    with pytest.raises(DataError, match="not shipped"):
        registry.verify("mi", tmp_path)
    with pytest.raises(DataError, match="unknown pretrained"):
        registry.verify("cats", tmp_path)


def test_files_outside_the_manifest_are_refused(tmp_path):
    folder = _fake_model(tmp_path)
    (folder / "extra.bin").write_bytes(b"x")
    with pytest.raises(DataError, match="not in its manifest"):
        registry.verify("beats", tmp_path)


def test_shipped_sample_is_what_its_script_writes(tmp_path):
    write_sample(tmp_path)
    for ext in (".hea", ".dat", ".atr"):
        assert (tmp_path / f"synthetic_af{ext}").read_bytes() == SAMPLE_PATH.with_suffix(ext).read_bytes(), ext
    rec = wfdb.rdrecord(str(SAMPLE_PATH))
    assert rec.fs == 250 and rec.sig_len == 75_000 and "SYNTHETIC" in " ".join(rec.comments)
    ann = wfdb.rdann(str(SAMPLE_PATH), "atr")
    notes = [a for a in ann.aux_note if a]
    assert notes == ["(N", "(AFIB", "(N", "(AFIB", "(N"] and {"N", "V", "A"} <= set(ann.symbol)
    assert np.isfinite(rec.p_signal).all()


def test_no_tracked_model_file_outside_pretrained():
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    bad = [f for f in out if f.lower().endswith(MODEL_SUFFIXES) and not f.startswith("ecgnet_tf/pretrained/")]
    assert not bad, f"model files outside ecgnet_tf/pretrained/: {bad}"


def test_shipped_smoothing_never_needs_the_unshipped_record_model():
    from ecgnet_tf.data.errors import DataError
    from ecgnet_tf.export.publish import shipped_smoothing
    from ecgnet_tf.monitor.smoothing import AFSmoothing

    net = {"smoothing": {"smooth_windows": 1, "af_threshold": 0.5}, "validation": {"episode_ppv": 0.6}}
    plain = {**net, "alternatives": {"network": net}}
    assert shipped_smoothing(plain) is plain
    ctx = {"smoothing": {"smooth_windows": 1, "af_threshold": 0.8, "context_s": 15.0}, "alternatives": {"network": net}}
    got = shipped_smoothing(ctx)
    assert got["smoothing"] == net["smoothing"] and "15 s" in got["note"]
    assert AFSmoothing.from_dict(got["smoothing"]).context_s is None
    with pytest.raises(DataError, match="network alternative"):
        shipped_smoothing({"smoothing": {"context_s": 30.0}})
