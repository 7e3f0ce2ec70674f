"""CLI end to end on a quick-trained fake PTB-XL run: figures, attribution.json, attention TFLite."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ecgnet_tf import explain

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mi_run(trained_run):
    return trained_run("ptbxl-mi")


def _check_shares(d: dict, n: int | None = None):
    assert sum(d.values()) == pytest.approx(1.0, abs=1e-6)
    assert all(0.0 <= v <= 1.0 for v in d.values())
    if n is not None:
        assert len(d) == n


def test_record_cli_writes_figure_and_attribution(mi_run, fake_data, tmp_path):
    out = tmp_path / "rec"
    assert explain.main([str(mi_run), "--record", "00002_lr", "--data-dir", str(fake_data), "--out", str(out)]) == 0
    pngs = list(out.glob("*.png"))
    assert pngs and all(p.stat().st_size > 10_000 for p in pngs)
    a = json.loads((out / "attribution.json").read_text())
    assert set(a["regions"]) == {"qrs", "st_t", "pr", "baseline"}
    _check_shares(a["regions"])
    _check_shares(a["leads"], 12)
    assert a["n_windows"] >= 1 and a["method"] == "gradcam" and "definitions" in a
    assert 0.0 <= a["overlap"]["value"] <= 1.0 and a["overlap"]["reference_zone"] == "st_t"
    md = (out / "attribution.md").read_text()
    assert "(claim)" in md and "42.0%" in md


def test_partition_cli_per_class(mi_run, fake_data, tmp_path):
    out = tmp_path / "part"
    rc = explain.main([str(mi_run), "--partition", "test", "--max-windows", "3", "--class", "MI",
                       "--data-dir", str(fake_data), "--out", str(out)])
    assert rc == 0
    a = json.loads((out / "attribution.json").read_text())
    assert a["n_windows"] + a["n_empty_maps"] <= 3 and a["scope"] == "partition test"
    assert set(a["per_class"]) == {"MI"}  # --class fixes the explained class
    _check_shares(a["per_class"]["MI"]["regions"])
    assert "V4-V6" in a["lead_groups"]
    assert list(out.glob("*.png"))


def test_unknown_record_is_an_error(mi_run, fake_data, tmp_path):
    assert explain.main([str(mi_run), "--record", "nope", "--data-dir", str(fake_data), "--out", str(tmp_path)]) == 2


def test_attention_tflite_builtin_int8_and_cli(mi_run, fake_data, tmp_path):
    """A small edge-like model for the run's task converts to int8 TFLite with builtin ops only, its
    masks match the Keras ones, and the CLI renders attention figures from the .tflite."""
    import tf_keras as keras

    from ecgnet_tf.interpret.attention import TfliteAttention, attention_maps, convert_attention_tflite
    from ecgnet_tf.model import build_model, get_model_config

    keras.utils.set_random_seed(0)
    cfg = get_model_config("edge").replace(stem_filters=8, branch_filters=8, resu_depth=1, lstm_layers=0,
                                           dense_units=(8,), mhsa=False, positional="none")
    model = build_model(cfg, 3600, 12, 2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 3600, 12)).astype("float32")
    p = rng.random((3, 3600)).astype("float32")

    def rep():
        for i in range(3):
            yield [x[i:i + 1], p[i:i + 1, :, None]]

    blob = convert_attention_tflite(model, rep, int8=True)
    runner = TfliteAttention(blob)
    ops = runner.op_names()
    assert not any(o.startswith("Flex") or "CUSTOM" in o for o in ops), ops
    res = runner(x[0], p[0])
    ref = attention_maps(model, x[:1], p[:1])
    assert set(res) == {"probs", "guided_mask", "spatial_attention"}
    assert res["probs"].shape == (2,) and abs(res["probs"].sum() - 1) < 0.05
    for k in ("guided_mask", "spatial_attention"):
        assert res[k].shape == ref[k][0].shape == (360,)
        assert np.max(np.abs(res[k] - ref[k][0])) < 0.1, k

    m = tmp_path / "att.tflite"
    m.write_bytes(blob)
    out = tmp_path / "tfl"
    rc = explain.main([str(m), "--run", str(mi_run), "--record", "00002_lr", "--data-dir", str(fake_data),
                       "--out", str(out)])
    assert rc == 0
    assert list(out.glob("*.png"))
    a = json.loads((out / "attribution.json").read_text())
    assert "TFLite" in a["method"]
    _check_shares(a["regions"])
