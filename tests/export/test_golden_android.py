"""Golden vectors for the Android demo (ecgnet_tf.export.golden) and the Java core checked against them.

A quick-trained CinC 2017 run on the fake databases gives the golden vectors (module fixture), and a
quick MIT-BIH beat run with the RR-interval input (``edge-rr``) gives a second set with the ``rr``
stage; one with the beat-template input too (``edge-rrt``) gives a third with the ``morph`` stage, and
that run with a feature head and a rhythm gate gives one whose ``rr`` rows carry the recent-rhythm columns.
The shipped beat model (``ecgnet_tf/pretrained/beats`` with its int8 TFLite export) gives a fourth set
with every input it declares and the ``decision`` stage (its class merge and class factors).
The Python tests check that the JSON stages are consistent with the library and that the coefficients
in pipeline_config.json reproduce the stages on their own (what the phone relies on).
When javac and the JUnit 4 jar exist, ``android_demo/core/run_tests.sh`` compiles the Java core and
must pass on every set of golden vectors and fail on perturbed ones.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import signal as sps

from ecgnet_tf import preprocess as pp

pytestmark = pytest.mark.slow

from repo_paths import REPO
RUN_TESTS = REPO / "android_demo" / "core" / "run_tests.sh"
JUNIT_JAR = Path(os.environ.get("JUNIT_JAR", "/usr/share/java/junit4.jar"))
BEATS = REPO / "ecgnet_tf" / "pretrained" / "beats"


@pytest.fixture(scope="module")
def quick_run(trained_run) -> Path:
    return trained_run("cinc2017")


@pytest.fixture(scope="module")
def golden_dir(quick_run, tmp_path_factory) -> Path:
    from ecgnet_tf.export.golden import main

    out = tmp_path_factory.mktemp("golden")
    assert main([str(quick_run), "--out", str(out), "--seconds", "20", "--fs", "300"]) == 0
    return out


@pytest.fixture(scope="module")
def rr_run(trained_run) -> Path:
    return trained_run("mitdb-aami", "edge-rr")


@pytest.fixture(scope="module")
def rr_golden_dir(rr_run, tmp_path_factory) -> Path:
    from ecgnet_tf.export.golden import main

    out = tmp_path_factory.mktemp("golden_rr")
    assert main([str(rr_run), "--out", str(out), "--seconds", "20"]) == 0  # 360 Hz, MIT-BIH's rate
    return out


@pytest.fixture(scope="module")
def morph_run(trained_run) -> Path:
    return trained_run("mitdb-aami", "edge-rrt")


@pytest.fixture(scope="module")
def morph_golden_dir(morph_run, tmp_path_factory) -> Path:
    from ecgnet_tf.export.golden import main

    out = tmp_path_factory.mktemp("golden_morph")
    assert main([str(morph_run), "--out", str(out), "--seconds", "20"]) == 0  # 360 Hz, MIT-BIH's rate
    return out


@pytest.fixture(scope="module")
def gated_run(morph_run, fake_data, window_cache, tmp_path_factory) -> Path:
    """The edge-rrt run with a feature head and a rhythm gate (its "rr" input 10 columns wide)."""
    from ecgnet_tf.training.feature_head import FeatureHeadConfig, apply_feature_head
    from ecgnet_tf.training.rhythm_gate import GateConfig

    run = tmp_path_factory.mktemp("gated") / "run"
    shutil.copytree(morph_run, run)
    gate = GateConfig().setting(0.1, ("N", "S", "V", "F", "Q"))
    assert apply_feature_head(run, {"weight": 0.3, "config": FeatureHeadConfig().to_dict(), "gate": gate},
                              fake_data, window_cache)
    return run


@pytest.fixture(scope="module")
def gated_golden_dir(gated_run, tmp_path_factory) -> Path:
    from ecgnet_tf.export.golden import main

    out = tmp_path_factory.mktemp("golden_gated")
    assert main([str(gated_run), "--out", str(out), "--seconds", "20"]) == 0  # 360 Hz, MIT-BIH's rate
    return out


@pytest.fixture(scope="module")
def beats_golden_dir(tmp_path_factory) -> Path:
    """Golden vectors of the shipped beat model (no training): Keras and its int8 TFLite export."""
    from ecgnet_tf.export.golden import main

    out = tmp_path_factory.mktemp("golden_beats")
    assert main(["beats", "--out", str(out), "--seconds", "20", "--tflite", str(BEATS / "model_int8.tflite")]) == 0
    return out


def _load(d: Path):
    return json.loads((d / "pipeline_config.json").read_text()), json.loads((d / "golden.json").read_text())


def _lead0(stage) -> np.ndarray:
    return np.asarray(stage, dtype=np.float64)[0]


def test_golden_files(golden_dir):
    conf, gold = _load(golden_dir)
    assert conf["format"] == "ecgnet-pipeline/1" and gold["format"] == "ecgnet-golden/1"
    assert conf["task"] == "cinc2017" and conf["classes"] == ["N", "A", "O", "~"]
    assert conf["fs_in"] == 300.0 and conf["fs_out"] == 360.0
    assert conf["resample"]["up"] == 6 and conf["resample"]["down"] == 5
    assert conf["window"] == {"mode": "segments", "window_s": 10.0, "length": 3600, "hop": 1800, "overlap": 0.5}
    assert conf["prior"]["kind"] == "af" and conf["prior"]["zones"] == [[36, 108]]
    assert gold["synthetic"] is True and gold["n_samples_in"] == 6000 and gold["n_samples_out"] == 7200
    assert "rr" not in conf and "rr" not in gold["stages"] and set(conf["model"]["inputs"]) == {"ecg", "prior"}
    # no class merge or factors: no decision stage, and the rule in the config changes nothing
    assert "decision" not in gold["stages"] and "tflite_decided" not in gold["model"]
    assert conf["decision"]["class_scale"] is None and conf["decision"].get("class_merge") is None
    sample = json.loads((golden_dir / "sample_recording.json").read_text())
    assert sample["synthetic"] is True and sample["fs"] == 300.0 and len(sample["leads"][0]) == 6000


def test_golden_stages_consistent(quick_run, golden_dir):
    from ecgnet_tf.runs import load_zscore
    from ecgnet_tf.tasks import get_task, record_inputs, round_prior

    conf, gold = _load(golden_dir)
    st = gold["stages"]
    raw = np.asarray(st["input"], dtype=np.float64).T
    xr = np.asarray(st["resampled"], dtype=np.float32).T
    pcfg = pp.PreprocessConfig.from_dict(conf["preprocess"])
    ref, fs_out = pp.preprocess_signal(raw, gold["fs_in"], pcfg)
    np.testing.assert_array_equal(ref, xr)
    peaks = pp.detect_rpeaks(xr, fs_out, lead=conf["rpeaks"]["lead"])
    assert peaks.tolist() == st["rpeaks"] and len(peaks) >= 15  # ~28 beats in 20 s at 85 bpm
    w = conf["window"]["length"]
    z = load_zscore(quick_run).transform(xr[:w])
    np.testing.assert_allclose(np.asarray(st["zscored_first"]).T, z, rtol=0, atol=1e-6)
    seg = pp.fixed_segments(xr, peaks, fs_out, 10.0, 0.5)
    assert st["windows"]["starts"] == seg.starts.tolist() and st["windows"]["count"] == 3
    for r, prior in zip(seg.rpeaks, st["priors"]):
        # priors at float16 precision, the values training feeds the model (train/serve skew removed)
        np.testing.assert_array_equal(np.float32(prior), round_prior(pp.prior_map(r, w, fs_out, "af")))
        assert np.abs(np.asarray(prior) - pp.prior_map(r, w, fs_out, "af")).max() < 1e-3
    inputs = record_inputs(get_task("cinc2017"), xr, fs_out, peaks, quality=False)  # the one input function
    np.testing.assert_array_equal(np.float32(st["priors"]), inputs.prior)
    assert st["windows"]["rpeaks"] == [r.tolist() for r in inputs.rpeaks]
    probs = np.asarray(gold["model"]["keras_probs"])
    assert probs.shape == (3, 4) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_config_coefficients_reproduce_stages(golden_dir):
    """The numbers handed to the phone alone (no ecgnet_tf calls) give the golden stages."""
    conf, gold = _load(golden_dir)
    st = gold["stages"]
    x = _lead0(st["input"])
    # Kalman smoother: steady-state lfilter passes on the odd-extended signal
    kb = conf["baseline"]
    pad = min(len(x) - 1, kb["padlen"])
    xp = np.concatenate([2 * x[0] - x[pad:0:-1], x, 2 * x[-1] - x[-2:-pad - 2:-1]])
    base = np.zeros_like(xp)
    for f, b in zip(kb["forward"], kb["backward"]):
        s, _ = sps.lfilter(f["b"], f["a"], xp, zi=np.asarray(f["zi"]) * xp[0])
        r = s[::-1]
        c, _ = sps.lfilter(b["b"], b["a"], r, zi=np.asarray(b["zi"]) * r[0])
        base += c[::-1]
    after_base = x - base[pad:pad + len(x)]
    np.testing.assert_allclose(after_base, _lead0(st["after_baseline"]), rtol=0, atol=1e-9)
    # band-pass: sosfiltfilt with the stored SOS and pad length
    bp = conf["bandpass"]
    y = sps.sosfiltfilt(np.asarray(bp["sos"]), _lead0(st["after_baseline"]), padlen=min(bp["padlen"], len(x) - 1))
    np.testing.assert_allclose(y, _lead0(st["after_bandpass"]), rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.asarray(bp["zi"]), sps.sosfilt_zi(np.asarray(bp["sos"])), rtol=0, atol=1e-12)
    # resampling: the documented direct formula with the stored taps and line extension
    rs = conf["resample"]
    up, down, taps, pre = rs["up"], rs["down"], np.asarray(rs["taps"]), rs["n_pre_remove"]
    v = _lead0(st["after_bandpass"])
    n = len(v)
    n_out = -(-n * up // down)
    slope = (v[-1] - v[0]) / (n - 1)
    m = np.arange(n_out)[:, None]
    k = np.arange(len(taps))[None, :]
    t = (m + pre) * down - k
    j = np.floor_divide(t, up)
    ext = np.where(j < 0, v[0] + j * slope, np.where(j >= n, v[-1] + (j - n + 1) * slope, v[np.clip(j, 0, n - 1)]))
    yr = np.sum(np.where(t % up == 0, taps[None, :] * ext, 0.0), axis=1)
    np.testing.assert_allclose(yr.astype(np.float32), _lead0(st["resampled"]), rtol=0, atol=1e-5)


def test_tflite_agrees_with_keras(golden_dir):
    _, gold = _load(golden_dir)
    m = gold["model"]
    assert "tflite_probs" in m, "export.golden should record a float32 TFLite conversion by default"
    # float32 conversion; the LSTM state is reset per window (else windows 2.. drift by ~1e-2)
    assert m["tflite_vs_keras_max_abs"] < 1e-4, m["tflite_vs_keras_max_abs"]


def _rr_feed(run: Path, gold: dict) -> tuple[dict, np.ndarray]:
    """The prepared model inputs of the golden recording, rebuilt with the library, and the kept beats."""
    from ecgnet_tf.runs import ModelSpec
    from ecgnet_tf.tasks import get_task, record_inputs

    spec = ModelSpec.from_run(run)
    xr = np.asarray(gold["stages"]["resampled"], dtype=np.float32).T
    inputs = record_inputs(get_task(spec.task), xr, gold["fs_out"], np.asarray(gold["stages"]["rpeaks"]), quality=False)
    return spec.prepare(inputs.named()), inputs.kept


def test_golden_rr_config_and_stage(rr_run, rr_golden_dir):
    """An edge-rr run: the "rr" constants determine rr_features, and the rr stage is its rows at the kept beats."""
    conf, gold = _load(rr_golden_dir)
    st = gold["stages"]
    assert conf["task"] == "mitdb-aami" and conf["window"]["mode"] == "beats"
    assert conf["model"]["inputs"]["rr"] == [1, len(pp.RR_FEATURE_NAMES)]
    rr = conf["rr"]
    assert rr["fs"] == conf["fs_out"] == gold["fs_out"] == 360.0
    assert rr["features"] == list(pp.RR_FEATURE_NAMES) and rr["dtype"] == "float32"
    fields = pp.RRConfig().to_dict()
    assert set(fields) <= set(rr)  # every RRConfig constant is exported ...
    cfg = pp.RRConfig.from_dict({k: rr[k] for k in fields})
    assert cfg == pp.RRConfig()  # ... with the values beat_inputs uses
    peaks = np.asarray(st["rpeaks"], dtype=np.int64)
    w = conf["window"]["length"]
    kept = np.searchsorted(peaks, np.asarray(st["windows"]["starts"]) + w // 2)
    assert np.array_equal(peaks[kept] - w // 2, st["windows"]["starts"])
    want = pp.rr_features(peaks, rr["fs"], config=cfg)[kept]
    got = np.asarray(st["rr"], dtype=np.float64)
    assert got.shape == (st["windows"]["count"], 8) and len(kept) < len(peaks)  # edge beats have no window
    np.testing.assert_array_equal(got, want)  # exact: float32 values written as float64
    assert np.array_equal(np.float32(got), got)
    feed, kept_lib = _rr_feed(rr_run, gold)
    assert np.array_equal(kept_lib, kept) and np.array_equal(feed["rr"], np.float32(got))  # what the model was fed
    probs = np.asarray(gold["model"]["keras_probs"])
    assert probs.shape == (len(kept), len(conf["classes"])) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_rr_tflite_agrees_with_keras(rr_run, rr_golden_dir):
    """The rr input reaches the TFLite model: its probabilities match Keras and depend on the RR rows."""
    from ecgnet_tf.export.golden import tflite_predict
    from ecgnet_tf.export.tflite import TFLiteRunner

    _, gold = _load(rr_golden_dir)
    m = gold["model"]
    assert "tflite_probs" in m and m["tflite_vs_keras_max_abs"] < 1e-4, m.get("tflite_vs_keras_max_abs")
    blob = (rr_golden_dir / "model_float32.tflite").read_bytes()
    assert "rr" in TFLiteRunner(blob, num_threads=1).inputs
    feed, _ = _rr_feed(rr_run, gold)
    tp, _ = tflite_predict(blob, **feed)
    np.testing.assert_allclose(tp, np.asarray(m["tflite_probs"]), rtol=0, atol=1e-6)
    other = dict(feed, rr=np.ascontiguousarray(feed["rr"][::-1]))  # every window gets another beat's rhythm
    moved, _ = tflite_predict(blob, **other)
    assert np.abs(moved - tp).max() > 1e-6, "the TFLite probabilities ignore the rr input"


def test_cli_reports_missing_inputs(quick_run, tmp_path, capsys):
    from ecgnet_tf.export.golden import main

    assert main([str(quick_run), "--out", str(tmp_path / "g"), "--tflite", str(tmp_path / "none.tflite")]) == 2
    assert "no such TFLite file" in capsys.readouterr().err
    assert main([str(tmp_path), "--out", str(tmp_path / "g")]) == 2  # not a run folder


def test_run_tests_sh_needs_golden_files(tmp_path):
    res = subprocess.run(["bash", str(RUN_TESTS), str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 2 and "pipeline_config.json is missing" in res.stderr


def _java_or_skip() -> None:
    missing = [t for t in ("javac", "java") if shutil.which(t) is None]
    reason = None
    if missing:
        reason = f"{' and '.join(missing)} not found (install a JDK to run the Java core tests)"
    elif not JUNIT_JAR.is_file():
        reason = f"JUnit 4 jar not found at {JUNIT_JAR} (apt-get install -y junit4, or set JUNIT_JAR)"
    if reason is None:
        return
    if os.environ.get("ECGNET_JAVA_TESTS") == "1":
        pytest.fail(f"ECGNET_JAVA_TESTS=1 but {reason}")
    pytest.skip(reason)


def test_java_core_matches_golden(golden_dir):
    _java_or_skip()
    res = subprocess.run(["bash", str(RUN_TESTS), str(golden_dir)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "OK (" in res.stdout and "GOLDEN after_bandpass" in res.stdout
    print("\n".join(line for line in res.stdout.splitlines() if line.startswith("GOLDEN")))


def _run_on_perturbed(bad: Path, golden_dir: Path, edit) -> subprocess.CompletedProcess:
    """Copy ``golden_dir`` to ``bad``, let ``edit`` change its golden.json (a dict, in place), run the Java tests."""
    shutil.copytree(golden_dir, bad)
    gold = json.loads((bad / "golden.json").read_text())
    edit(gold)
    (bad / "golden.json").write_text(json.dumps(gold))
    return subprocess.run(["bash", str(RUN_TESTS), str(bad)], capture_output=True, text=True, timeout=600)


def _java_golden_lines(golden_dir: Path, tolerances: dict[str, float]) -> list[str]:
    """Run the Java core tests on ``golden_dir``; assert each named GOLDEN stage's max_abs_diff is within
    its tolerance; return the GOLDEN lines."""
    res = subprocess.run(["bash", str(RUN_TESTS), str(golden_dir)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    lines = [line for line in res.stdout.splitlines() if line.startswith("GOLDEN")]
    for stage, tol in tolerances.items():
        hit = [line for line in lines if line.split("max_abs_diff")[0].strip() == f"GOLDEN {stage}"]
        assert hit and float(hit[0].split()[-1]) <= tol, (stage, lines)
    return lines


@pytest.mark.parametrize("golden", ["rr_golden_dir", "gated_golden_dir"])
def test_java_core_matches_rr_golden(golden, request):
    """RRFeatures.java gives the golden rr rows (stage alone and through Pipeline.run), exactly at float32:
    8 columns, or 10 with RRContext.java for a model with a rhythm gate."""
    _java_or_skip()
    lines = _java_golden_lines(request.getfixturevalue(golden), {"rr": 0.0, "rr (windows)": 0.0, "e2e rr": 0.0})
    print("\n".join(lines))


def test_java_core_detects_perturbed_rr_golden(rr_golden_dir, tmp_path):
    _java_or_skip()
    def edit(gold: dict) -> None:
        row = gold["stages"]["rr"][len(gold["stages"]["rr"]) // 2]
        row[4] = float(np.nextafter(np.float32(row[4]), np.float32(np.inf)))  # one float32 step on pre/local

    res = _run_on_perturbed(tmp_path / "bad_rr", rr_golden_dir, edit)
    assert res.returncode == 1, res.stdout[-4000:]
    assert "rr: max |diff|" in res.stdout and "e2e rr: max |diff|" in res.stdout


def test_java_core_detects_perturbed_golden(golden_dir, tmp_path):
    _java_or_skip()
    def edit(gold: dict) -> None:
        gold["stages"]["after_bandpass"][0][1000] += 1e-3  # 10x the filter tolerance
        gold["stages"]["rpeaks"][3] += 1

    res = _run_on_perturbed(tmp_path / "bad", golden_dir, edit)
    assert res.returncode == 1, res.stdout[-4000:]
    assert "after_bandpass: max |diff|" in res.stdout and "R peak indices differ" in res.stdout


def test_golden_morph_config_and_stage(morph_run, morph_golden_dir):
    """An edge-rrt run: the "morph" constants determine template_features, and the morph stage is its rows
    over the golden windows (lead 0, not z-scored), which the model was fed."""
    conf, gold = _load(morph_golden_dir)
    st = gold["stages"]
    assert conf["task"] == "mitdb-aami" and conf["window"]["mode"] == "beats" and "rr" in conf
    assert conf["model"]["inputs"]["morph"] == [1, len(pp.TEMPLATE_FEATURE_NAMES)]
    morph = conf["morph"]
    assert morph["fs"] == conf["fs_out"] == gold["fs_out"] == 360.0
    assert morph["features"] == list(pp.TEMPLATE_FEATURE_NAMES) and morph["dtype"] == "float32"
    fields = pp.TemplateConfig().to_dict()
    assert set(fields) <= set(morph)  # every TemplateConfig constant is exported ...
    cfg = pp.TemplateConfig(**{k: morph[k] for k in fields})
    assert cfg == pp.TemplateConfig()  # ... with the values beat_morph uses
    xr = np.asarray(st["resampled"], dtype=np.float32).T
    w = conf["window"]["length"]
    starts = np.asarray(st["windows"]["starts"])
    windows = np.stack([xr[s:s + w, 0] for s in starts])  # the golden windows' lead 0
    want = pp.template_features(windows, morph["fs"], cfg)
    got = np.asarray(st["morph"], dtype=np.float64)
    assert got.shape == (st["windows"]["count"], 8) and len(got) >= 10
    np.testing.assert_array_equal(got, want)  # exact: float32 values written as float64
    assert np.all(np.abs(got) <= morph["clip"]) and np.all(got[0, :2] == 1.0)  # beat 0 is its own template
    feed, _ = _rr_feed(morph_run, gold)
    assert np.array_equal(feed["morph"], np.float32(got))  # what the model was fed
    m = gold["model"]
    assert "tflite_probs" in m and m["tflite_vs_keras_max_abs"] < 1e-4, m.get("tflite_vs_keras_max_abs")


def test_java_core_matches_morph_golden(morph_golden_dir):
    """TemplateFeatures.java gives the golden morph rows (stage alone and through Pipeline.run) within 1e-5."""
    _java_or_skip()
    lines = _java_golden_lines(morph_golden_dir, dict.fromkeys(("morph", "morph (windows)", "e2e morph", "rr",
                                                                 "e2e rr"), 1e-5))
    print("\n".join(lines))


def test_java_core_detects_perturbed_morph_golden(morph_golden_dir, tmp_path):
    _java_or_skip()
    def edit(gold: dict) -> None:
        gold["stages"]["morph"][len(gold["stages"]["morph"]) // 2][2] += 1e-4  # 10x the tolerance on rms_dev

    res = _run_on_perturbed(tmp_path / "bad_morph", morph_golden_dir, edit)
    assert res.returncode == 1, res.stdout[-4000:]
    assert "morph: max |diff|" in res.stdout and "e2e morph: max |diff|" in res.stdout


def test_golden_decision_stage_of_the_shipped_beat_model(beats_golden_dir):
    """The shipped beat model: the config the app reads declares every input of the TFLite model and
    carries the sidecar's decision rule; the decision stage is Decision.rescale of the model outputs."""
    from ecgnet_tf.export.tflite import TFLiteRunner
    from ecgnet_tf.runs.spec import Decision

    conf, gold = _load(beats_golden_dir)
    st, m = gold["stages"], gold["model"]
    meta = json.loads((BEATS / "model_int8.json").read_text())["metadata"]
    assert conf["decision"] == meta["decision"]  # pipeline_config.json's rule is the sidecar's
    assert conf["classes"] == meta["classes"] == ["N", "S", "V", "F", "Q"]
    # every input the int8 model declares has its section / stage for the phone to make it
    runner = TFLiteRunner((BEATS / "model_int8.tflite").read_bytes(), num_threads=1)
    assert set(runner.inputs) == set(meta["inputs"]) == set(conf["model"]["inputs"]) == {"ecg", "prior", "rr", "morph"}
    assert "rr" in conf and "morph" in conf and "rr" in st and "morph" in st
    rule = Decision(**{k: meta["decision"].get(k) for k in ("aggregation", "noise_class", "class_scale",
                                                                "class_merge")})
    assert rule.changes_probs and rule.class_merge == (0, 1, 2, 0, 4)
    keras, tfl = np.asarray(m["keras_probs"]), np.asarray(m["tflite_probs"])
    got, got_t = np.asarray(st["decision"]), np.asarray(m["tflite_decided"])
    np.testing.assert_array_equal(got, rule.rescale(keras))  # exact: float64 written as repr
    np.testing.assert_array_equal(got_t, rule.rescale(tfl))
    assert got.shape == (st["windows"]["count"], 5) and np.all(got[:, 3] == 0)  # F is never decided
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert np.abs(got - keras).max() > 1e-3  # the rule changes the probabilities the app decides on


def test_java_core_matches_beats_golden(beats_golden_dir):
    """The Java core on the shipped beat model: every input stage and Decision.java on its Keras and int8
    TFLite outputs, equal to Python bit for bit."""
    _java_or_skip()
    lines = _java_golden_lines(beats_golden_dir, {"decision": 0.0, "decision (tflite)": 0.0, "e2e rr": 0.0,
                                                  "e2e morph": 1e-5})
    print("\n".join(lines))


def test_java_core_detects_perturbed_decision_golden(beats_golden_dir, tmp_path):
    _java_or_skip()
    def edit(gold: dict) -> None:
        row = gold["stages"]["decision"][len(gold["stages"]["decision"]) // 2]
        row[2] = float(np.nextafter(row[2], np.inf))  # one float64 step on V
        gold["model"]["tflite_decided"][0][0] = float(np.nextafter(gold["model"]["tflite_decided"][0][0], -np.inf))

    res = _run_on_perturbed(tmp_path / "bad_decision", beats_golden_dir, edit)
    assert res.returncode == 1, res.stdout[-4000:]
    assert "decision: max |diff|" in res.stdout and "decision (tflite): max |diff|" in res.stdout


def test_golden_rr_context_of_a_gated_beat_model(gated_run, gated_golden_dir):
    """A model with a rhythm gate: pipeline_config's "rr" section has the context constants, the rr stage
    is the 10-column beat rows (RR features, then rr_context of their pre-RR column) the model was fed."""
    from ecgnet_tf.tasks.inputs import beat_rr_rows

    conf, gold = _load(gated_golden_dir)
    st = gold["stages"]
    assert conf["model"]["inputs"]["rr"] == [1, 10]
    ctx = conf["rr"]["context"]
    assert ctx["features"] == list(pp.RR_CONTEXT_NAMES)
    assert pp.RRContextConfig(history=ctx["history"], min_history=ctx["min_history"]) == pp.RRContextConfig()
    peaks = np.asarray(st["rpeaks"], dtype=np.int64)
    w = conf["window"]["length"]
    kept = np.searchsorted(peaks, np.asarray(st["windows"]["starts"]) + w // 2)
    got = np.asarray(st["rr"], dtype=np.float64)
    np.testing.assert_array_equal(got, beat_rr_rows(peaks, conf["rr"]["fs"])[kept])  # exact at float32
    assert got.shape[1] == 10 and np.any(got[:, 9] > 0)  # the context columns are there, and not all warm-up
    feed, _ = _rr_feed(gated_run, gold)
    assert np.array_equal(feed["rr"], np.float32(got))  # what the model was fed


def test_java_core_detects_perturbed_rr_context_golden(gated_golden_dir, tmp_path):
    _java_or_skip()
    def edit(gold: dict) -> None:
        row = gold["stages"]["rr"][-1]
        row[9] = float(np.nextafter(np.float32(row[9]), np.float32(np.inf)))  # one float32 step on recent_msd_ratio

    res = _run_on_perturbed(tmp_path / "bad_ctx", gated_golden_dir, edit)
    assert res.returncode == 1, res.stdout[-4000:]
    assert "rr: max |diff|" in res.stdout
