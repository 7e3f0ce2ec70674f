"""The deployment spec (runs.ModelSpec) and the one record -> model-inputs function (tasks.inputs)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from ecgnet_tf import preprocess as pp
from ecgnet_tf.runs import Decision, ModelSpec
from ecgnet_tf.synthetic import synth_ecg
from ecgnet_tf.tasks import beat_inputs, get_task, record_inputs, round_prior, segment_inputs


def _spec(task: str = "cinc2017", leads: int = 1) -> ModelSpec:
    return ModelSpec.for_task(task, pp.PreprocessConfig(), pp.ZScore(np.full(leads, 0.2), np.full(leads, 0.5)))


def test_sidecar_round_trip_keeps_everything():
    spec = _spec("ptbxl-mi", 12)
    meta = json.loads(json.dumps(spec.to_sidecar()))  # through JSON, as written next to a .tflite
    back = ModelSpec.from_sidecar(meta)
    assert dataclasses.replace(back, zscore=spec.zscore) == spec
    np.testing.assert_array_equal(back.zscore.mean, spec.zscore.mean)
    np.testing.assert_array_equal(back.zscore.std, spec.zscore.std)
    assert meta["classes"] == ["NORM", "MI"]
    assert meta["decision"] == {"aggregation": "mean", "noise_class": None, "class_scale": None, "class_merge": None}
    old = {k: v for k, v in meta["decision"].items() if k != "class_merge"}  # sidecars written before class_merge
    assert ModelSpec.from_sidecar({**meta, "decision": old}).decision == spec.decision
    assert meta["preprocess_hash"] == pp.config_hash(spec.preprocess) and meta["inputs"] == ["ecg", "prior"]


def test_sidecar_without_decision_uses_the_tasks_rule_and_incomplete_metadata_is_refused():
    meta = _spec().to_sidecar()
    del meta["decision"]
    assert ModelSpec.from_sidecar(meta).decision == Decision("mean", "~")
    del meta["normalization"]
    with pytest.raises(ValueError, match=r"lacks \['normalization'\]"):
        ModelSpec.from_sidecar(meta)


@pytest.mark.slow
def test_from_run_matches_the_run_folder(trained_run):
    run = trained_run("mitdb-aami")
    spec = ModelSpec.from_run(run)
    cfg = json.loads((run / "run.json").read_text())
    stats = json.loads((run / "normalization.json").read_text())
    assert spec.task == "mitdb-aami" and spec.classes == get_task("mitdb-aami").classes
    assert json.loads(json.dumps(spec.preprocess.to_dict())) == cfg["preprocess"]
    np.testing.assert_allclose(spec.zscore.mean, stats["mean"])
    assert spec.decision == Decision("none", None) and spec.window_samples == 900


def test_prepare_zscores_ecg_and_shapes_prior():
    spec = _spec()
    x = np.full((3, 3600, 1), 0.7, np.float32)
    prior = np.linspace(0, 1, 3600, dtype=np.float32)[None].repeat(3, 0)
    feed = spec.prepare({"ecg": x, "prior": prior})
    np.testing.assert_allclose(feed["ecg"], 1.0, atol=1e-6)  # (0.7 - 0.2) / 0.5
    assert feed["ecg"].dtype == np.float32 and feed["prior"].shape == (3, 3600, 1)
    assert spec.prepare({"ecg": x, "prior": prior[..., None]})["prior"].shape == (3, 3600, 1)
    with pytest.raises(ValueError, match=r"need \['ecg', 'prior'\]; missing \['prior'\]"):
        spec.prepare({"ecg": x})
    rr_spec = dataclasses.replace(spec, inputs=("ecg", "prior", "rr"))
    rr = np.full((3, 8), 0.8)
    feed = rr_spec.prepare({"ecg": x, "prior": prior, "rr": rr})
    assert sorted(feed) == ["ecg", "prior", "rr"] and feed["rr"].dtype == np.float32
    assert sorted(spec.prepare({"ecg": x, "prior": prior, "rr": rr})) == ["ecg", "prior"]  # only the model's own
    with pytest.raises(ValueError, match=r"missing \['rr'\]"):
        rr_spec.prepare({"ecg": x, "prior": prior})


def test_decide_averages_good_windows_and_abstains_to_noise():
    spec = _spec()
    records = np.array(["a", "a", "b", "b", "c"])
    probs = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0.5, 0.5], [0.25] * 4], float)
    ok = np.array([True, False, True, True, False])
    ids, p = spec.decide(records, probs, ok)
    assert ids == ["a", "b", "c"]
    np.testing.assert_allclose(p, [[1, 0, 0, 0], [0, 0, 0.75, 0.25], [0, 0, 0, 1]])  # c: every window rejected
    beat = _spec("mitdb-aami")
    ids, p = beat.decide(records, probs[:, :4], ok)
    assert ids == records.tolist() and np.array_equal(p, probs)
    no_noise = dataclasses.replace(spec, decision=Decision("mean", None))
    np.testing.assert_allclose(no_noise.decide(records, probs, ok)[1][2], [0.25] * 4)


def test_beat_inputs_centre_on_beats_and_drop_edges():
    task = get_task("mitdb-aami")
    x = synth_ecg(20, 360, 70, seed=1).signal.astype(np.float32)
    beats = np.array([100, 1000, 2000, 3000, x.shape[0] - 50])
    m = beat_inputs(task, x, 360.0, beats)
    assert m.kept.tolist() == [1, 2, 3] and m.x.shape == (3, 900, 1)
    np.testing.assert_array_equal(m.starts, beats[1:4] - 450)
    assert all(450 in r for r in m.rpeaks) and m.ok.all() and m.quality is None
    ref = pp.prior_map(np.array([450]), 900, 360.0, "beat")
    np.testing.assert_array_equal(m.prior[0], round_prior(ref))
    assert np.abs(m.prior[0] - ref).max() > 0  # rounded to float16 precision: what the cache stores
    np.testing.assert_array_equal(np.asarray(m.prior, np.float16).astype(np.float32), m.prior)


def test_segment_inputs_priors_from_their_own_peaks_and_quality():
    task = get_task("cinc2017")
    s = synth_ecg(30, 360, 80, seed=2)
    x = s.signal.astype(np.float32)
    x[-3600:] = 0.0  # the last 10 s flat: its window must fail the gate
    peaks = pp.detect_rpeaks(x, 360.0)
    m = segment_inputs(task, x, 360.0, peaks)
    assert len(m) == 5 and m.x.shape == (5, 3600, 1) and m.kept is None
    np.testing.assert_array_equal(m.starts, [0, 1800, 3600, 5400, 7200])
    for k in range(len(m)):
        np.testing.assert_array_equal(m.prior[k], round_prior(pp.prior_map(m.rpeaks[k], 3600, 360.0, "af")))
    assert m.ok[:3].all() and not m.ok[-1]
    assert np.array_equal(record_inputs(task, x, 360.0, peaks).x, m.x)
    assert record_inputs(get_task("mitdb-aami"), x, 360.0, peaks).kept is not None
    assert len(m.take([0, 4])) == 2 and m.take([4]).ok.tolist() == [False]


def test_progress_logs_plain_lines_when_not_a_terminal():
    import io

    from ecgnet_tf.progress import progress

    out = io.StringIO()
    assert list(progress(range(20), "train windows", "records", stream=out, min_seconds=0.0)) == list(range(20))
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("train windows: 20/20 records (100%), ")
    quiet = io.StringIO()
    list(progress(range(20), "fast", stream=quiet))  # a loop shorter than min_seconds says nothing
    assert quiet.getvalue() == ""


def test_class_scale_changes_the_decision_and_travels_in_the_sidecar():
    spec = dataclasses.replace(_spec("mitdb-aami"), decision=Decision("none", None, (1.0, 4.0, 1.0, 1.0, 1.0)))
    probs = np.array([[0.6, 0.3, 0.1, 0.0, 0.0], [0.9, 0.05, 0.05, 0.0, 0.0]])
    _, decided = spec.decide(np.array(["100", "100"]), probs)
    np.testing.assert_allclose(decided.sum(axis=1), 1.0)
    assert decided.argmax(axis=1).tolist() == [1, 0]  # 0.3 * 4 > 0.6, but 0.05 * 4 < 0.9
    back = ModelSpec.from_sidecar(json.loads(json.dumps(spec.to_sidecar())))
    assert back.decision.class_scale == (1.0, 4.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        Decision("none", None, (1.0, 0.0))
    with pytest.raises(ValueError, match="2 values for 5 classes"):
        dataclasses.replace(spec, decision=Decision("none", None, (1.0, 2.0))).decide(np.array(["a"]), probs[:1])


def test_class_merge_reads_one_class_as_another_and_travels_in_the_sidecar():
    merge = Decision("none", None, (1.0, 1.0, 1.0, 1.0, 1.0), (0, 1, 2, 0, 4))  # F's probability counts as N
    spec = dataclasses.replace(_spec("mitdb-aami"), decision=merge)
    probs = np.array([[0.2, 0.05, 0.3, 0.45, 0.0], [0.1, 0.05, 0.6, 0.25, 0.0]])
    _, decided = spec.decide(np.array(["100", "100"]), probs)
    np.testing.assert_allclose(decided, [[0.65, 0.05, 0.3, 0.0, 0.0], [0.35, 0.05, 0.6, 0.0, 0.0]])
    plain = dataclasses.replace(spec, decision=Decision("none", None, (1.0, 1.0, 1.0, 1 / 32, 1.0)))
    assert plain.decide(np.array(["100"]), probs[:1])[1].argmax() == 2  # F scaled down: the decision falls to V
    back = ModelSpec.from_sidecar(json.loads(json.dumps(spec.to_sidecar())))
    assert back.decision == merge
    assert Decision("none", None, None, (0, 1, 2, 0, 4)).rescale(probs).argmax(axis=1).tolist() == [0, 2]
    with pytest.raises(ValueError, match="kept itself"):
        Decision("none", None, None, (0, 3, 2, 1, 4))  # S into F while F goes into S
    with pytest.raises(ValueError, match="kept itself"):
        Decision("none", None, None, (0, 1, 2, 7, 4))
    with pytest.raises(ValueError, match="5 entries but class_scale 2"):
        Decision("none", None, (1.0, 2.0), (0, 1, 2, 0, 4))
