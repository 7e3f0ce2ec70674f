"""The rhythm gate: no S beat while the recent rhythm is irregular, the same in numpy and in the model."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf.training.rhythm_gate import GateConfig, gate_probs

CLASSES = ("N", "S", "V", "F", "Q")


def _probs(n: int, seed: int = 0) -> np.ndarray:
    p = np.random.default_rng(seed).random((n, 5)) + 1e-3
    return p / p.sum(1, keepdims=True)


def test_gate_takes_the_s_probability_only_where_the_rhythm_is_irregular():
    p = _probs(4)
    values = np.array([0.05, 0.2, 0.15, 0.9])
    got = gate_probs(p, values, 0.15, 1)
    np.testing.assert_array_equal(got[[0, 2]], p[[0, 2]])  # at or below the threshold: unchanged
    assert np.all(got[[1, 3], 1] == 0)
    np.testing.assert_allclose(got.sum(1), 1.0)
    # the other classes keep their ratios
    keep = [0, 2, 3, 4]
    np.testing.assert_allclose(got[1, keep] / got[1, 0], p[1, keep] / p[1, 0])
    with pytest.raises(ValueError, match="one value per row"):
        gate_probs(p, values[:3], 0.15, 1)
    with pytest.raises(ValueError, match="not one of the 5 classes"):
        gate_probs(p, values, 0.15, 5)


def test_gate_config_names_a_column_of_the_beat_rr_row():
    from ecgnet_tf.tasks.inputs import BEAT_RR_NAMES

    cfg = GateConfig()
    assert BEAT_RR_NAMES[cfg.column_index] == "recent_msd_ratio" and cfg.column_index >= 8
    assert cfg.setting(0.2, CLASSES) == {"threshold": 0.2, "gated_class": 1, "column": cfg.column_index}
    with pytest.raises(ValueError, match="unknown rr column"):
        GateConfig(column="nope")
    with pytest.raises(ValueError, match="positive"):
        GateConfig(thresholds=(0.1, -1.0))
    with pytest.raises(ValueError, match="not in"):
        cfg.setting(0.2, ("N", "V"))


def _beat_model():
    """A small edge-rrt beat network (8 RR columns and 8 template columns) with a fused feature head."""
    import tf_keras as keras

    from ecgnet_tf.model import build_model, get_model_config
    from ecgnet_tf.model.fusion import fuse_feature_head

    keras.utils.set_random_seed(0)
    mcfg = get_model_config("edge-rrt").replace(stem_filters=8, conv_filters=(8, 8, 8), branch_filters=4,
                                                lstm_units=4, dense_units=(8,), rr_units=(4,), mhsa_heads=1)
    net = build_model(mcfg, 180, 1, 5)
    rng = np.random.default_rng(1)
    return mcfg, fuse_feature_head(net, rng.normal(size=(16, 5)), rng.normal(size=5), 0.3)


def _feed(n: int, width: int, seed: int = 2) -> dict:
    rng = np.random.default_rng(seed)
    return {"ecg": rng.normal(size=(n, 180, 1)).astype(np.float32),
            "prior": rng.random((n, 180, 1)).astype(np.float32),
            "rr": (0.5 + rng.random((n, width))).astype(np.float32),
            "morph": rng.normal(size=(n, 8)).astype(np.float32)}


def test_the_gated_model_is_the_fused_model_then_the_gate(tmp_path):
    """``model.fusion.rebuild`` with a gate: a wider rr input whose first 8 columns the network and its
    head read as before; the output is the numpy gate of the ungated output; saving, loading and the
    batch-1 rebuild of the export keep it."""
    from ecgnet_tf.export.convert import rebuild_batch1
    from ecgnet_tf.model.fusion import GATE_LAYER, gate_settings, has_feature_head, has_rhythm_gate, rebuild
    from ecgnet_tf.runs import load_model

    mcfg, fused = _beat_model()
    setting = GateConfig().setting(0.2, CLASSES)
    gated = rebuild(fused, mcfg, gate=setting)
    assert has_rhythm_gate(gated) and has_feature_head(gated) and not has_rhythm_gate(fused)
    assert int(gated.inputs[2].shape[-1]) == 10 and gated.inputs[2].name.startswith("rr")
    feed = _feed(12, 10)
    feed["rr"][:, 9] = np.linspace(0.0, 0.5, 12)  # half the beats in an irregular rhythm
    plain = fused.predict({**feed, "rr": feed["rr"][:, :8]}, verbose=0)
    want = gate_probs(plain, feed["rr"][:, 9], 0.2, 1)
    got = gated.predict(feed, verbose=0)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.all(got[feed["rr"][:, 9] > 0.2, 1] == 0) and np.all(got[feed["rr"][:, 9] <= 0.2, 1] > 0)
    gated.save(tmp_path / "model.keras")
    back = load_model(tmp_path / "model.keras")
    assert gate_settings(back) == setting and back.get_layer(GATE_LAYER).column == 9
    np.testing.assert_allclose(back.predict(feed, verbose=0), want, atol=1e-6)
    b1 = rebuild_batch1(back, mcfg.to_dict())
    assert has_rhythm_gate(b1) and int(b1.inputs[2].shape[0]) == 1
    one = np.concatenate([b1.predict({k: v[i:i + 1] for k, v in feed.items()}, verbose=0) for i in range(12)])
    np.testing.assert_allclose(one, want, atol=1e-6)
    # the network's columns cannot be the gate's
    with pytest.raises(ValueError, match="column"):
        rebuild(fused, mcfg, gate={"threshold": 0.2, "gated_class": 1, "column": 3})


def _oof(irregular_s: bool, n: int = 3000, seed: int = 0):
    """Out-of-fold-like predictions: S beats detected well, and N beats in an irregular rhythm (a third of
    the beats) called S half of the time; with ``irregular_s`` the true S beats sit in the irregular
    rhythm too (frequent ectopy), else in the steady one."""
    rng = np.random.default_rng(seed)
    y = rng.choice(5, n, p=[0.8, 0.1, 0.08, 0.01, 0.01])
    irregular = rng.random(n) < 1 / 3
    if irregular_s:
        irregular[y == 1] = True
    else:
        irregular[y == 1] = False
    logits = rng.normal(0, 1, (n, 5))
    logits[np.arange(n), y] += 3.0
    fp = irregular & (y == 0) & (rng.random(n) < 0.5)
    logits[fp, 1] += 5.0
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, p, np.where(irregular, 0.4, 0.02)


@pytest.mark.parametrize("irregular_s", [False, True])
def test_the_selection_takes_the_gate_only_when_it_scores_better(irregular_s):
    """beat_report chooses the gate's threshold with the head's weight on out-of-fold predictions: taken
    when the S false positives sit in irregular rhythms and the S beats do not, left out when the S
    beats sit there too."""
    from ecgnet_tf.bench.beat_report import _with_feature_head
    from ecgnet_tf.training.feature_head import FeatureHeadConfig

    y, p, values = _oof(irregular_s)
    seed = np.zeros(len(y), int)
    cand = {"score": 0.0, "score_std": 0.0, "score_seeds": {}, "class_scale": [1] * 5, "class_merge": None,
            "rule_options": {}, "tuned": {}}
    head_lp = np.log(np.full((len(y), 5), 0.2))  # an uninformative head
    out = _with_feature_head(cand, y, p, head_lp, seed, [0], CLASSES, FeatureHeadConfig(weights=(0.0, 0.3)),
                             GateConfig(thresholds=(0.1, 0.3)), values)
    assert set(out["gate_scores"]) == {"0.0", "0.3"} and set(out["gate_scores"]["0.0"]) == {"none", "0.1", "0.3"}
    if irregular_s:
        assert out["gate_threshold"] is None and (out["feature_head_setting"] or {}).get("gate") is None
        assert all(row["none"] >= max(row.values()) for row in out["gate_scores"].values())
    else:
        assert out["gate_threshold"] in (0.1, 0.3)
        assert out["feature_head_setting"]["gate"] == GateConfig().setting(out["gate_threshold"], CLASSES)
        assert out["score"] > out["gate_scores"]["0.0"]["none"] + 0.05
