"""Quantisation of a small trained run (quick run on fake MIT-BIH data, trained once per module)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ecgnet_tf.export import convert as cv
from ecgnet_tf.export import quantize as q
from ecgnet_tf.export.tflite import TFLiteRunner, io_details, op_histogram
from ecgnet_tf.runs import ModelSpec, RunConfig, load_model, load_split
from ecgnet_tf.training.evaluation import predict_windows

pytestmark = pytest.mark.slow

LSTM_OPS = {"UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM"}


@pytest.fixture(scope="module")
def run(trained_run, fake_data, window_cache):
    return {"dir": trained_run("mitdb-aami"), "cache": window_cache, "data": fake_data}


@pytest.fixture(scope="module")
def ctx(run):
    """What the tests read about the run: config, spec, split and task records."""
    class Ctx:
        cfg = RunConfig.load(run["dir"])
        spec = ModelSpec.from_run(run["dir"])
        split = load_split(run["dir"])
        records = q.run_records(run["dir"], run["data"])

        @staticmethod
        def eval_windows(n, seed=0):
            return q.eval_windows(Ctx.spec, Ctx.records, run["data"], n, seed, run["cache"])

        @staticmethod
        def training_windows(n, seed=0):
            return cv.training_windows(Ctx.spec, Ctx.records, run["data"], n, seed, run["cache"])

        @staticmethod
        def feed(w):
            return Ctx.spec.prepare({"ecg": w.x, "prior": w.prior})

    return Ctx


@pytest.fixture(scope="module")
def float_model(run):
    return load_model(run["dir"] / "model.keras")


@pytest.fixture(scope="module")
def int8(run, float_model):
    out = run["dir"] / "export" / "m_int8.tflite"
    report = q.quantize_run(run["dir"], "int8", out, data_dir=run["data"], calibration=16, max_eval=40,
                            cache_dir=run["cache"], model=float_model)
    return out, report


def test_int8_report_and_model(int8, ctx):
    out, report = int8
    on_disk = json.loads(out.with_suffix(".json").read_text())
    assert on_disk == report
    for key in ("size_bytes", "ops", "flex_ops", "parity", "io", "preprocess_hash", "mode", "task_metrics",
                "float_task_metrics"):
        assert key in report, key
    assert report["size_bytes"] == out.stat().st_size > 0
    assert report["mode"] == "int8" and report["flex_ops"] == 0
    assert report["preprocess_hash"] == ctx.cfg.preprocess_hash
    assert report["ops"] == op_histogram(out.read_bytes())
    assert LSTM_OPS & set(report["ops"]), report["ops"]
    assert not any(name.startswith("Flex") for name in report["ops"])
    assert report["ops"].get("QUANTIZE", 0) >= 1  # float I/O is quantised on entry
    par = report["parity"]
    assert par["n"] == 40 and par["partition"] == "test"
    assert 0.0 <= par["top1_agreement"] <= 1.0
    assert 0.0 <= par["mean_abs_prob_diff"] <= par["max_abs_prob_diff"] <= 1.0
    assert report["task_metrics"]["n"] == report["float_task_metrics"]["n"] == 40
    ins = {d["name"].split("_")[-1].split(":")[0]: d for d in report["io"]["inputs"]}
    assert set(ins) == {"ecg", "prior"}
    assert ins["ecg"]["shape"] == [1, 900, 1] and ins["ecg"]["dtype"] == "float32"
    assert report["io"]["outputs"][0]["shape"] == [1, 5]
    # the sidecar metadata is the run's ModelSpec (what the monitor and the phone read)
    meta = report["metadata"]
    assert meta["run_dir"] == report["run_dir"]
    want = json.loads(json.dumps(ctx.spec.to_sidecar()))
    assert {k: v for k, v in meta.items() if k != "run_dir"} == want
    assert json.loads(json.dumps(ModelSpec.from_sidecar_file(out).to_sidecar())) == want


def test_calibration_uses_training_records_only(int8, ctx):
    _, report = int8
    used = set(report["calibration"]["records"])
    assert report["calibration"]["partition"] == "train" and report["calibration"]["n"] == 16
    assert used and used <= set(ctx.split.train)
    assert not used & (set(ctx.split.test) | set(ctx.split.val))
    calib = ctx.training_windows(10, seed=3)
    assert set(calib.records.tolist()) <= set(ctx.split.train)
    assert calib.ecg.shape == (10, 900, 1) and calib.prior.shape == (10, 900, 1)
    assert calib.ecg.dtype == calib.prior.dtype == np.float32
    # z-scored with the run's statistics
    z = calib.ecg
    assert abs(float(z.mean())) < 1.0 and 0.2 < float(z.std()) < 5.0


def test_parity_drops_when_the_reference_is_perturbed(int8, ctx, float_model):
    out, report = int8
    w = ctx.eval_windows(40, seed=0)
    feed = ctx.feed(w)
    p_tfl = TFLiteRunner(out).predict(feed["ecg"], feed["prior"])
    same = q.parity(p_tfl, predict_windows(ctx.spec, float_model, w))
    assert same == {k: report["parity"][k] for k in same}  # the report's parity is reproducible

    layer = float_model.get_layer("probs")
    kernel, bias = layer.get_weights()
    rng = np.random.default_rng(0)
    try:
        layer.set_weights([-3.0 * kernel + rng.normal(0, 3 * (np.abs(kernel).mean() + 1e-3), kernel.shape),
                           bias[::-1].copy()])
        changed = q.parity(p_tfl, predict_windows(ctx.spec, float_model, w))
    finally:
        layer.set_weights([kernel, bias])
    assert changed["top1_agreement"] < same["top1_agreement"]
    assert changed["max_abs_prob_diff"] > same["max_abs_prob_diff"]


@pytest.fixture(scope="module")
def saved_b1(ctx, float_model, tmp_path_factory):
    b1 = cv.rebuild_batch1(float_model, ctx.cfg.model_config, ctx.spec.multilabel)
    assert b1.inputs[0].shape[0] == 1
    return b1, cv.save_for_conversion(b1, tmp_path_factory.mktemp("saved") / "sm")


@pytest.fixture(scope="module")
def float32_tflite(saved_b1, ctx):
    b1, saved = saved_b1
    blob = cv.convert(saved, "float32")
    w = ctx.eval_windows(8, seed=1)
    x = ctx.feed(w)["ecg"]
    return blob, x, w.prior, TFLiteRunner(blob).predict(x, w.prior)


def test_float32_tflite_matches_keras(saved_b1, float32_tflite):
    b1, _ = saved_b1
    _, x, prior, p_tfl = float32_tflite
    ref = b1.predict({"ecg": x, "prior": prior[..., None]}, batch_size=1, verbose=0)
    assert q.parity(p_tfl, ref)["max_abs_prob_diff"] < 1e-4


@pytest.mark.parametrize("mode", ["float32", "float16", "dynamic"])
def test_float_modes_convert_builtin_only(mode, saved_b1, float32_tflite, int8):
    _, saved = saved_b1
    f32_blob, x, prior, p_f32 = float32_tflite
    blob = f32_blob if mode == "float32" else cv.convert(saved, mode)
    ops = op_histogram(blob)
    assert q.assert_builtin_only(blob) == ops
    assert LSTM_OPS & set(ops), ops
    clf = TFLiteRunner(blob)
    assert all(d["dtype"] == np.float32 for d in clf.interp.get_input_details())
    par = q.parity(clf.predict(x, prior), p_f32)  # the quantisation step alone, vs the float32 TFLite
    int8_size = int8[1]["size_bytes"]
    if mode == "float32":
        assert "QUANTIZE" not in ops and "DEQUANTIZE" not in ops
        assert len(blob) > 2 * int8_size
    elif mode == "float16":
        assert ops.get("DEQUANTIZE", 0) >= 1  # float16 weights de-quantised to float32 at load
        assert par["max_abs_prob_diff"] < 1e-2
    else:
        assert par["max_abs_prob_diff"] < 0.2
    TestSizes.sizes[mode] = len(blob)


class TestSizes:
    sizes: dict[str, int] = {}

    def test_size_ordering(self, int8):
        s = self.sizes
        if set(s) != {"float32", "float16", "dynamic"}:
            pytest.skip("float conversions did not all run")
        assert s["float32"] > s["float16"] > s["dynamic"]
        assert s["float16"] == pytest.approx(s["float32"] / 2, rel=0.15)
        assert int8[1]["size_bytes"] < s["float16"]


def test_int8_io_has_quantised_inputs(ctx, float_model, tmp_path):
    b1 = cv.rebuild_batch1(float_model, ctx.cfg.model_config)  # multilabel read from the model
    calib = ctx.training_windows(8)
    blob = cv.convert_model(b1, "int8", cv.representative_dataset(calib), io="int8")
    clf = TFLiteRunner(blob)
    io = io_details(clf.interp)
    assert all(d["dtype"] == "int8" and d["scale"] > 0 for d in io["inputs"] + io["outputs"])
    probs = clf.predict(calib.ecg[:3], calib.prior[:3])
    assert probs.shape == (3, 5) and np.allclose(probs.sum(1), 1.0, atol=0.05)


def test_qat_covers_the_convolutions_and_converts_like_int8(run, float_model):
    out = run["dir"] / "export" / "m_qat.tflite"
    report = q.quantize_run(run["dir"], "qat", out, data_dir=run["data"], calibration=8, max_eval=16,
                            cache_dir=run["cache"], qat_windows=8, qat_epochs=1, model=float_model,
                            qat_float=("dense0",))
    info = report["qat"]
    assert info["partition"] == "train" and info["epochs"] == 1 and np.isfinite(info["loss"][0])
    assert info["method"].startswith("distillation") and info["windows"] == 8
    assert set(info["records"]) <= set(load_split(run["dir"]).train)  # training windows only
    assert "probs" in info["annotated_layers"] and "stem_conv" in info["kernel_layers"]
    assert "resu_enc0_k3_conv" in info["kernel_layers"]  # a separable branch
    float_names = {d["name"] for d in info["float_layers"]}
    assert {"bilstm0", "mhsa", "guided_attention", "dense0"} <= float_names  # dense0: asked to stay float
    assert "dense0" not in info["annotated_layers"]
    assert report["flex_ops"] == 0 and LSTM_OPS & set(report["ops"])
    assert report["parity"]["n"] == 16 and 0 <= report["parity"]["top1_agreement"] <= 1
    assert json.loads(out.with_suffix(".json").read_text())["mode"] == "qat"


def test_cli_missing_run_is_exit_2(tmp_path, capsys):
    rc = q.main([str(tmp_path / "nope"), "--mode", "float32"])
    err = capsys.readouterr().err
    assert rc == 2 and "run.json" in err and err.count("\n") == 1


def test_reproduce_exports_the_table1_model_once(run, tmp_path):
    from ecgnet_tf import reproduce

    out = tmp_path / "export-int8"
    r = reproduce.export_int8(run["dir"], out, reproduce.PROFILES["quick"], run["data"], run["cache"])
    assert r["mode"] == "int8" and r["calibration"]["n"] <= 100 and r["calibration"]["partition"] == "train"
    assert r["parity"]["partition"] == "test" and 0 < r["parity"]["n"] <= 300
    assert 0.0 <= r["task_metrics"]["accuracy"] <= 1.0
    mtime = (out / "model_int8.tflite").stat().st_mtime
    assert reproduce.export_int8(run["dir"], out, reproduce.PROFILES["quick"], run["data"], run["cache"]) == r
    assert (out / "model_int8.tflite").stat().st_mtime == mtime


def test_beat_model_with_rr_input_exports_int8_with_parity(trained_run, fake_data, window_cache, tmp_path):
    """The two-input (waveform + RR features) beat model converts to int8 and passes parity on held-out windows."""
    run = trained_run("mitdb-aami", "edge-rr")
    out = tmp_path / "rr_int8.tflite"
    report = q.quantize_run(run, "int8", out, data_dir=fake_data, calibration=32, max_eval=60,
                            cache_dir=window_cache)
    assert report["calibration"]["inputs"] == ["ecg", "prior", "rr"]
    assert report["metadata"]["inputs"] == ["ecg", "prior", "rr"] and report["flex_ops"] == 0
    assert report["parity"]["n"] == 60 and report["parity"]["partition"] == "test"
    # a one-epoch model's outputs are near ties, so top-1 flips easily; the probabilities must still agree
    assert report["parity"]["top1_agreement"] >= 0.8 and report["parity"]["mean_abs_prob_diff"] <= 0.05
    assert json.loads(out.with_suffix(".json").read_text())["parity"] == report["parity"]


def test_beat_model_with_template_input_exports_int8_with_parity(trained_run, fake_data, window_cache, tmp_path):
    """The three-input (waveform + RR + beat-template features) beat model converts to int8 with parity."""
    run = trained_run("mitdb-aami", "edge-rrt")
    out = tmp_path / "rrt_int8.tflite"
    report = q.quantize_run(run, "int8", out, data_dir=fake_data, calibration=32, max_eval=60,
                            cache_dir=window_cache)
    assert report["calibration"]["inputs"] == ["ecg", "prior", "rr", "morph"]
    assert report["metadata"]["inputs"] == ["ecg", "prior", "rr", "morph"] and report["flex_ops"] == 0
    assert report["parity"]["n"] == 60 and report["parity"]["top1_agreement"] >= 0.9


def test_beat_model_with_a_feature_head_exports_int8_with_parity(trained_run, fake_data, window_cache, tmp_path):
    """The beat study's feature head lives inside model.keras: it converts with builtin ops and keeps parity."""
    import shutil

    from ecgnet_tf.training.feature_head import FeatureHeadConfig, apply_feature_head

    run = tmp_path / "run"
    shutil.copytree(trained_run("mitdb-aami", "edge-rrt"), run)
    assert apply_feature_head(run, {"weight": 0.3, "config": FeatureHeadConfig().to_dict()}, fake_data, window_cache)
    out = tmp_path / "head_int8.tflite"
    report = q.quantize_run(run, "int8", out, data_dir=fake_data, calibration=32, max_eval=60,
                            cache_dir=window_cache)
    assert report["metadata"]["inputs"] == ["ecg", "prior", "rr", "morph"] and report["flex_ops"] == 0
    assert report["parity"]["top1_agreement"] >= 0.9 and report["parity"]["mean_abs_prob_diff"] <= 0.05
    # the exported graph is the fused model, not the network alone: the batch-1 rebuild every TFLite
    # export converts carries the head, and its float TFLite file gives the fused model's outputs
    from ecgnet_tf.export.convert import convert_model, rebuild_batch1
    from ecgnet_tf.model.fusion import has_feature_head

    fused, net = load_model(run / "model.keras"), load_model(run / "network.keras")
    b1 = rebuild_batch1(fused, RunConfig.load(run).model_config)
    assert has_feature_head(b1) and not has_feature_head(rebuild_batch1(net, RunConfig.load(run).model_config))
    rng = np.random.default_rng(0)
    feed = {t.name.split(":")[0]: rng.normal(size=(1, *t.shape[1:])).astype(np.float32) for t in fused.inputs}
    want, alone = fused.predict(feed, verbose=0), net.predict(feed, verbose=0)
    assert np.abs(want - alone).max() > 1e-3  # the head changes this window's probabilities
    np.testing.assert_allclose(b1.predict(feed, verbose=0), want, atol=1e-5)
    np.testing.assert_allclose(TFLiteRunner(convert_model(b1, "float32")).predict_feed(feed), want, atol=1e-4)


def test_beat_model_with_a_rhythm_gate_exports_int8_and_gates_in_tflite(trained_run, fake_data, window_cache,
                                                                        tmp_path):
    """A model with the feature head and the rhythm gate converts with builtin ops, takes the 10-column rr
    input, keeps parity, and its int8 file gates S exactly where the recent rhythm is irregular."""
    import shutil

    from ecgnet_tf.training.feature_head import FeatureHeadConfig, apply_feature_head
    from ecgnet_tf.training.rhythm_gate import GateConfig

    run = tmp_path / "run"
    shutil.copytree(trained_run("mitdb-aami", "edge-rrt"), run)
    gate = GateConfig().setting(0.1, ("N", "S", "V", "F", "Q"))
    assert apply_feature_head(run, {"weight": 0.3, "config": FeatureHeadConfig().to_dict(), "gate": gate},
                              fake_data, window_cache)
    out = tmp_path / "gated_int8.tflite"
    report = q.quantize_run(run, "int8", out, data_dir=fake_data, calibration=32, max_eval=60,
                            cache_dir=window_cache)
    assert report["flex_ops"] == 0 and report["parity"]["top1_agreement"] >= 0.9
    runner = TFLiteRunner(out.read_bytes())
    rng = np.random.default_rng(0)
    fused = load_model(run / "model.keras")
    feed = {t.name.split(":")[0]: rng.normal(size=(1, *t.shape[1:])).astype(np.float32) for t in fused.inputs}
    assert feed["rr"].shape == (1, 10)
    feed["rr"] = np.abs(feed["rr"]) + 0.5
    feed["rr"][0, 9] = 0.05  # steady: S keeps its probability
    steady = runner.predict_feed(feed)
    feed["rr"][0, 9] = 0.5  # irregular: no S
    irregular = runner.predict_feed(feed)
    assert steady[0, 1] > 0 and irregular[0, 1] == 0 and abs(irregular.sum() - 1) < 0.02


def test_c_array_holds_the_model_bytes_ops_and_an_arena_estimate(int8, tmp_path):
    from ecgnet_tf.export.c_array import arena_estimate, resolver_method, write_c_array

    model = int8[0].read_bytes()
    c = write_c_array(model, tmp_path / "beat-int8.tflite")
    header = (tmp_path / "beat-int8.h").read_text()
    source = (tmp_path / "beat-int8.cc").read_text()
    body = source[source.index("{") + 1:source.index("};")]
    values = bytes(int(v, 16) for v in body.replace("\n", " ").split(",") if v.strip())
    assert values == model and f"g_beat_int8_model_len = {len(model)};" in source
    assert "alignas(16)" in source and '#include "beat-int8.h"' in source
    for op in op_histogram(model):
        assert f"resolver.{resolver_method(op)}();" in header
    est = arena_estimate(model)
    assert c["arena_estimate"] == est and 0 < est["largest_op_bytes"] <= est["upper_bytes"]
    assert f"TENSOR_ARENA_ESTIMATE_BYTES {est['upper_bytes']}" in header and "ESTIMATE" in header
    assert resolver_method("CONV_2D") == "AddConv2D" and resolver_method("FULLY_CONNECTED") == "AddFullyConnected"


def test_short_names_keep_results_bit_identical_and_the_file_smaller(int8, float32_tflite, ctx):
    from ecgnet_tf.export.slim import shorten_tensor_names

    out, report = int8
    assert report["size_bytes"] == len(out.read_bytes()) < report["size_bytes_with_names"]  # shortened by default
    long_names = float32_tflite[0]
    short = shorten_tensor_names(long_names)
    assert len(short) < len(long_names)
    feed = ctx.feed(ctx.eval_windows(6, seed=2))
    runner = TFLiteRunner(short)
    assert runner.input_names == TFLiteRunner(long_names).input_names
    assert np.array_equal(runner.predict_feed(feed), TFLiteRunner(long_names).predict_feed(feed))
    names = [d["name"] for d in runner.interp.get_tensor_details()]
    assert sum(n.startswith("t") and n[1:].isdigit() for n in names) > len(names) // 2


def test_inspect_explains_size_ops_and_layer_errors(int8, float32_tflite, run, tmp_path):
    from ecgnet_tf.export import inspect as ins

    out, report = int8
    f32 = tmp_path / "f32.tflite"
    f32.write_bytes(float32_tflite[0])
    rep = ins.inspect_model(out, f32, run["dir"], windows=4, data_dir=run["data"], cache_dir=run["cache"])
    size = rep["size"]
    assert size["file_bytes"] == report["size_bytes"]
    assert size["constant_bytes"]["int8"] > 0 and size["other_bytes"] > 0
    assert sum(size["constant_bytes"].values()) + size["other_bytes"] == size["file_bytes"]
    assert rep["operators"]["ops"] == report["ops"] and rep["operators"]["n_float_input_ops"] >= 1  # QUANTIZE
    le = rep["layer_error"]
    assert le["n_windows"] == 4 and le["n_compared"] > 0
    f32_self = ins.layer_errors(float32_tflite[0], float32_tflite[0], ins.calibration_feeds(
        run["dir"], 2, data_dir=run["data"], cache_dir=run["cache"]))
    assert f32_self["worst"][0]["relative_rms_error"] == 0.0  # a model against itself: no error anywhere
    assert "relative RMS error" in ins.markdown(rep)
    assert ins.main([str(tmp_path / "missing.tflite")]) == 2


def test_parity_uses_the_whole_test_partition_by_default(run, ctx, float_model):
    from ecgnet_tf.export.fallback import FallbackConfig

    out = run["dir"] / "export" / "m_int8_all.tflite"
    report = q.quantize_run(run["dir"], "int8", out, data_dir=run["data"], calibration=16, cache_dir=run["cache"],
                            model=float_model, fallback=FallbackConfig(mode="layers", layers=("probs",),
                                                                       selection_windows=16))
    n_test = len(ctx.eval_windows(None))
    par = report["parity"]
    assert par["n"] == n_test == report["task_metrics"]["n"] and par["subset"] == "all windows"
    assert par["decision"]["level"] == "beat" and par["decision"]["n"] == n_test
    assert par["decision"]["agreement"] == pytest.approx(par["top1_agreement"])  # beat task: one decision per window
    d = report["metric_deltas"]
    assert d["macro_f1"]["delta"] == pytest.approx(report["task_metrics"]["macro"]["f1"]
                                                   - report["float_task_metrics"]["macro"]["f1"], nan_ok=True)
    assert set(d["per_class_f1"]) == set(ctx.spec.classes)
    fb = report["float_fallback"]
    assert fb["float_layers"] == ["probs"] and fb["selection"]["n"] <= 16
    assert fb["chosen"]["size_bytes"] == report["size_bytes"]
    assert "scale_repairs" in report


def test_a_published_run_without_a_data_folder_reads_ecgnet_data(run, tmp_path, monkeypatch):
    """Published models' run.json names no data folder: the data come from $ECGNET_DATA, as for every command."""
    import shutil

    pub = tmp_path / "published"
    shutil.copytree(run["dir"], pub, ignore=shutil.ignore_patterns("export", "evaluations"))
    cfg = json.loads((pub / "run.json").read_text())
    (pub / "run.json").write_text(json.dumps({**cfg, "data_dir": None}))
    monkeypatch.setenv("ECGNET_DATA", str(run["data"]))
    records = q.run_records(pub)
    assert sorted(records.split.test) == sorted(load_split(run["dir"]).test)
    report = q.quantize_run(pub, "float32", tmp_path / "m.tflite", max_eval=8, cache_dir=run["cache"])
    assert report["parity"]["n"] == 8 and report["parity"]["top1_agreement"] > 0.9
    monkeypatch.setenv("ECGNET_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(Exception, match="nowhere"):
        q.run_records(pub)


def test_auc_deltas_compare_the_two_models_at_the_decision_level(int8, ctx, float_model):
    from ecgnet_tf.training.metrics import auroc

    _, report = int8
    auc = report["metric_deltas"]["auc"]
    assert auc["level"] == "beat" and auc["n"] == 40 and set(auc["per_class"]) == set(ctx.spec.classes)
    w = ctx.eval_windows(40, seed=0)
    p_float = predict_windows(ctx.spec, float_model, w)
    same = q.auc_deltas(ctx.spec, w, p_float, p_float)
    for name, row in same["per_class"].items():
        k = list(ctx.spec.classes).index(name)
        truth = w.y == k
        assert row["n_positive"] == int(truth.sum())
        if 0 < truth.sum() < len(truth):
            assert row["float"] == pytest.approx(auroc(truth, p_float[:, k])) and row["delta"] == 0.0
        else:
            assert np.isnan(row["float"])
    # scores that rank every window backwards lose AUC: the delta is negative where a class has an AUC
    flipped = q.auc_deltas(ctx.spec, w, 1.0 - p_float, p_float)
    rows = [r for r in flipped["per_class"].values() if np.isfinite(r["float"]) and r["float"] > 0.5]
    assert rows and all(r["delta"] < 0 for r in rows)
    assert flipped["max_abs_delta"] > 0 == same["max_abs_delta"]
    dec = q.decision_agreement(ctx.spec, w, 1.0 - p_float, p_float)
    assert dec["max_abs_prob_diff"] > 0 and q.decision_agreement(ctx.spec, w, p_float, p_float)["max_abs_prob_diff"] == 0
