"""Golden vectors and the phone's pipeline description for the Android demo.

    python -m export.golden RUN_DIR --out DIR [--tflite M.tflite] [--seconds 20] [--fs 300] [--seed 0]

Generates a synthetic recording (never real data) at the task's typical input rate, runs the
Python inference pipeline stage by stage and writes

    DIR/pipeline_config.json   everything the phone needs to reproduce the pipeline: the numeric
                               filter coefficients computed here (Kalman smoother lfilter b/a/zi,
                               Butterworth SOS + sosfilt_zi at the input rate, resample_poly FIR taps,
                               Pan-Tompkins band-pass and constants in samples), z-score statistics,
                               classes, window length/hop, prior kind, zones and taper, routing thresholds,
                               for models with an RR-interval input the RR-feature constants ("rr"),
                               and for models with a beat-template input the template constants ("morph")
    DIR/golden.json            raw input -> after baseline -> (after notch) -> after band-pass ->
                               resampled (float32) -> R peaks -> windows -> z-scored first window ->
                               prior maps -> (RR feature rows of the windows, "rr" models) ->
                               (beat-template rows of the windows, "morph" models) -> Keras
                               probabilities (and TFLite probabilities) -> (the same after the run's
                               decision rule, models with a class merge or class factors)
    DIR/sample_recording.json  the synthetic input alone (the app's bundled sample)

Windows and prior maps come from :func:`ecgnet_tf.tasks.record_inputs`, the function training,
evaluation and the monitor use, so prior values are at float16 precision (what the training window
cache stores; ``PriorMap.java`` rounds the same way) and z-scoring is the run's
:meth:`~ecgnet_tf.runs.ModelSpec.prepare`. For a beat model with the "rr" input, the ``rr`` stage holds
the (n_windows, 8) float32 rows of :func:`ecgnet_tf.preprocess.rr_features` over all detected R peaks,
taken at the windows' centre beats (``RRFeatures.java`` computes them from the R peaks alone), and the
Keras and TFLite predictions are fed those rows; a model with a rhythm gate reads (n_windows, 10) rows,
the same followed by :func:`ecgnet_tf.preprocess.rr_context` of their pre-RR column (``RRContext.java``).
For a beat model with the "morph" input, the ``morph``
stage holds the (n_windows, 8) float32 rows of :func:`ecgnet_tf.preprocess.template_features` over the
kept beat windows in order (``TemplateFeatures.java`` computes them from the windows), also fed to the models.
For a single-label model whose decision rule changes probabilities (``Decision.class_merge`` /
``class_scale``, e.g. the shipped beat model's F -> N merge and V factor), the ``decision`` stage holds
:meth:`~ecgnet_tf.runs.spec.Decision.rescale` of the Keras probabilities (n_windows, K) and
``model.tflite_decided`` that of the TFLite ones (``Decision.java`` applies the rule on the phone).

The phone consumes coefficients instead of re-designing filters, so Python stays the single source
of truth; ``android_demo/core/run_tests.sh DIR`` checks the Java port against ``golden.json``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import signal as sps

from ecgnet_tf import preprocess as pp
from ecgnet_tf.preprocess import baseline as _baseline
from ecgnet_tf.preprocess import filters as _filters
from ecgnet_tf.preprocess.rpeaks import PanTompkinsConfig

FORMAT = "ecgnet-pipeline/1"
GOLDEN_FORMAT = "ecgnet-golden/1"
#: Typical input rate of each database (Hz): CinC 2017 AliveCor 300, MIT-BIH 360, PTB-XL 500 (or 100).
TYPICAL_FS = {"cinc2017": 300.0, "mitdb": 360.0, "ptbxl": 500.0}
#: Clinical routing of the top probability: >= auto_report -> auto report, >= review -> review,
#: otherwise extended monitoring.
ROUTING = {"auto_report": 0.95, "review": 0.85}
#: R-peak lead per database (PTB-XL uses lead II, index 1).
RPEAK_LEAD = {"cinc2017": 0, "mitdb": 0, "ptbxl": 1}


def _f(a) -> list:
    """Nested lists of Python floats (json writes repr: round-trips exactly)."""
    return np.asarray(a, dtype=np.float64).tolist()


# ----------------------------------------------------------------------------------------------
# pipeline_config.json
# ----------------------------------------------------------------------------------------------

def _sos_spec(fs: float, low_hz, high_hz, order: int) -> dict | None:
    """SOS, sosfilt_zi and requested pad length exactly as ``filters.bandpass`` uses them."""
    lo, hi = _filters.effective_band(fs, low_hz, high_hz)
    sos = _filters.band_sos(fs, low_hz, high_hz, order)
    if sos is None:
        return None
    pad = int(round(fs / lo)) if lo is not None else 3 * (2 * len(sos) + 1)
    return {"low_hz": lo, "high_hz": hi, "order": int(order), "sos": _f(sos), "zi": _f(sps.sosfilt_zi(sos)),
            "padlen": pad, "padtype": "odd"}


def _kalman_spec(fs: float, cutoff_hz: float, model: str = "irw") -> dict:
    fnums, fden, bnums, bden = _baseline._steady_state_smoother(_baseline.kalman_lambda(cutoff_hz, fs, model), model)

    def tf(b, a):
        return {"b": _f(b), "a": _f(a), "zi": _f(sps.lfilter_zi(b, a))}

    return {"method": "kalman", "cutoff_hz": float(cutoff_hz), "model": model,
            "lambda": _baseline.kalman_lambda(cutoff_hz, fs, model),
            "padlen": int(round(3 * fs / cutoff_hz)), "padtype": "odd",
            "forward": [tf(b, fden) for b in fnums], "backward": [tf(b, bden) for b in bnums],
            "note": "b = sum_j backward[j](reverse(forward[j](x_padded))) with steady-state zi*first sample; "
                    "output x - b"}


def _resample_spec(fs_in: float, fs_out: float) -> dict | None:
    up, down = pp.rational_ratio(fs_in, fs_out)
    if up == down:
        return None
    g = np.gcd(up, down)
    up, down = up // g, down // g
    max_rate = max(up, down)
    half_len = 10 * max_rate
    h = sps.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * up
    n_pre_pad = down - half_len % down
    n_pre_remove = (half_len + n_pre_pad) // down
    taps = np.concatenate([np.zeros(n_pre_pad), h])
    return {"up": int(up), "down": int(down), "taps": _f(taps), "n_pre_remove": int(n_pre_remove),
            "padtype": "line",
            "note": "y[m] = sum_k taps[k] * u[(m + n_pre_remove) * down - k], u = x upsampled by up (zeros "
                    "between samples), x extended beyond its ends by the line through x[0] and x[n-1]; "
                    "output length ceil(n * up / down)"}


def _rpeak_spec(fs: float, lead: int, cfg: PanTompkinsConfig = PanTompkinsConfig()) -> dict:
    band = _sos_spec(fs, cfg.band_hz[0], cfg.band_hz[1], cfg.filter_order)
    return {
        "fs": fs, "lead": int(lead), "band": band,
        "derivative": _f(np.array([2.0, 1.0, 0.0, -1.0, -2.0]) * (fs / 8.0)),
        "mwi_size": max(1, int(round(cfg.mwi_s * fs))),
        "half": max(1, int(round(cfg.mwi_s * fs / 2))),
        "distance": max(1, int(round(cfg.refractory_s * fs))),
        "min_samples": int(0.5 * fs),
        "refractory": cfg.refractory_s * fs, "t_wave": cfg.t_wave_s * fs, "p_wave": cfg.p_wave_s * fs,
        "relearn": cfg.relearn_s * fs, "learn": cfg.learn_s * fs, "block": int(2 * fs),
        "threshold_fraction": cfg.threshold_fraction, "searchback_fraction": cfg.searchback_fraction,
        "searchback_factor": cfg.searchback_factor, "t_slope_ratio": cfg.t_slope_ratio,
        "max_level_jump": cfg.max_level_jump, "p_energy_ratio": cfg.p_energy_ratio,
        "relearn_noise_ratio": cfg.relearn_noise_ratio,
        "refine_radius": max(1, int(round(cfg.refine_radius_s * fs))),
        "merge_gap": int(round(cfg.refractory_s * fs)),
    }


def _prior_spec(kind: str, fs: float, taper_s: float = 0.020) -> dict:
    zones = [[int(round(a * fs)), int(round(b * fs))] for a, b in pp.PRIOR_ZONES_S.get(kind, ())]
    k = int(round(taper_s * fs))
    taper = None
    if k >= 3:
        win = np.hanning(k + 2)[1:-1]
        taper = _f(win / win.sum())
    return {"kind": kind, "zones": zones, "taper": taper,
            "note": "mask = 1 on [r + a, r + b] (inclusive) for each R peak r and zone [a, b], then "
                    "np.convolve(mask, taper, 'same'), clipped to [0, 1]; kind 'beat' uses r = W // 2"}


def _rr_spec(fs: float, cfg: pp.RRConfig = pp.RRConfig(), context: bool = False) -> dict:
    """Every constant of :func:`~ecgnet_tf.preprocess.rr_features` for beat positions at ``fs`` Hz
    (times in s), as :func:`~ecgnet_tf.tasks.inputs.beat_inputs` calls it (the default ``RRConfig``);
    with ``context``, those of :func:`~ecgnet_tf.preprocess.rr_context` too (the default
    ``RRContextConfig``), for a model whose "rr" input has the two recent-rhythm columns."""
    extra = {}
    if context:
        ccfg = pp.RRContextConfig()
        extra = {"context": {
            "history": int(ccfg.history), "min_history": int(ccfg.min_history),
            "features": list(pp.RR_CONTEXT_NAMES), "dtype": "float32",
            "note": "beat i's row continues with the context of h = the float32 pre-RR values (column 0) of the "
                    "last `history` beats before it, in float64: std(h) / mean(h) and mean(|diff(h)|) / mean(h) "
                    "(numpy pairwise sums), 0 and 0 while fewer than `min_history` beats are known or when "
                    "mean(h) <= 0; then cast to float32"}}
    return {**extra, "fs": float(fs), "local_beats": int(cfg.local_beats), "min_rr_s": float(cfg.min_rr_s),
            "max_rr_s": float(cfg.max_rr_s), "default_rr_s": float(cfg.default_rr_s),
            "features": list(pp.RR_FEATURE_NAMES), "dtype": "float32",
            "note": "beats b[0..n-1] = all detected R peaks (samples at fs, sorted); r[k] = (b[k] - b[k-1]) / fs "
                    "(float64, k >= 1), plausible when min_rr_s <= r[k] <= max_rr_s. Beat i: pre = clip(r[i]), "
                    "post = clip(r[i+1]) into [min_rr_s, max_rr_s]; baseline = plausible r among r[1..i-1] "
                    "(c of them, summed sequentially); running = sum / c, local = mean of the last "
                    "min(c, local_beats); when c == 0 both = warm-up RR = r[f] if i >= f - 1, f = index of the "
                    "first plausible interval, else default_rr_s. Beat 0's pre and the last beat's post = its "
                    "local. Ratios pre/local, post/pre, pre/running, local/running in float64, then every "
                    "column cast to float32. A beat window's row is the row of its centre beat."}


def _morph_spec(fs: float, cfg: pp.TemplateConfig = pp.TemplateConfig()) -> dict:
    """Every constant of :func:`~ecgnet_tf.preprocess.template_features` for beat windows at ``fs`` Hz
    (times in s), as :func:`~ecgnet_tf.tasks.inputs.beat_morph` calls it (the default ``TemplateConfig``)."""
    return {"fs": float(fs), "history_beats": int(cfg.history_beats), "pre_s": float(cfg.pre_s),
            "post_s": float(cfg.post_s), "qrs_s": float(cfg.qrs_s), "baseline_s": float(cfg.baseline_s),
            "min_amplitude_mv": float(cfg.min_amplitude_mv), "clip": float(cfg.clip),
            "features": list(pp.TEMPLATE_FEATURE_NAMES), "dtype": "float32",
            "note": "samples: pre = round(pre_s * fs), post = round(post_s * fs), q = round(qrs_s * fs), "
                    "base = max(1, round(baseline_s * fs)) (round half to even). Beat segment = lead 0 of the beat "
                    "window (R peak at W // 2, not z-scored) from W // 2 - pre to W // 2 + post (float64), minus the "
                    "median of its first base samples. Template = sample-wise median (mean of the two middle "
                    "values for an even count) of the previous min(i, history_beats) kept windows' segments; "
                    "beat 0 is its own template. QRS zone = [pre - q, pre + q], ST-T = (pre + q, pre + post). "
                    "A = max(ptp(template QRS), min_amplitude_mv), d = (seg - template) / A. Features: Pearson "
                    "correlation (mean removed; 1 when sqrt(sum a^2 * sum b^2) <= 1e-12) over the QRS zone and the "
                    "segment; sqrt(mean d^2); ptp(seg QRS) / A; width(seg QRS) / max(width(template QRS), 1) with "
                    "width = count of |diff| > 0.3 * max |diff| (1 when that max is 0); max |d| over QRS; mean d "
                    "over QRS and over ST-T. NaN -> 0, clip into [-clip, clip] (float64), then float32."}


def pipeline_config(run_dir: Path, fs_in: float) -> dict:
    """The phone pipeline description of ``run_dir`` for input sampled at ``fs_in`` Hz."""
    from ecgnet_tf.runs import ModelSpec, RunConfig
    from ecgnet_tf.tasks import get_task
    from ecgnet_tf.tasks.inputs import is_beat_layout

    rc = RunConfig.load(run_dir)
    task = get_task(rc.task)
    spec = ModelSpec.from_run(run_dir)
    pcfg = spec.preprocess
    fs_out = float(pcfg.fs_out)
    if pcfg.baseline == "kalman":
        base = _kalman_spec(fs_in, pcfg.baseline_cutoff_hz)
    elif pcfg.baseline == "highpass":
        base = {"method": "highpass", **_sos_spec(fs_in, pcfg.baseline_cutoff_hz, None, 4)}
    elif pcfg.baseline == "none":
        base = {"method": "none"}
    else:
        raise ValueError(f"baseline {pcfg.baseline!r} has no phone port (use kalman, highpass or none)")
    notch = None
    if pcfg.notch_hz is not None and 0 < pcfg.notch_hz < fs_in / 2:
        b, a = sps.iirnotch(pcfg.notch_hz, pcfg.notch_quality, fs=fs_in)
        notch = {"freq_hz": pcfg.notch_hz, "b": _f(b), "a": _f(a), "zi": _f(sps.lfilter_zi(b, a)),
                 "padlen": int(round(fs_in / 2)), "padtype": "odd"}
    band = None
    if pcfg.band_hz is not None:
        band = _sos_spec(fs_in, pcfg.band_hz[0], pcfg.band_hz[1], pcfg.band_order)
    w = spec.window_samples
    beats = is_beat_layout(spec)  # beat-centred windows (MIT-BIH) vs fixed segments
    window = {"mode": "beats" if beats else "segments", "window_s": spec.window_s, "length": w,
              "hop": None if beats else spec.hop_samples, "overlap": None if beats else spec.segment_overlap}
    has_rr = "rr" in spec.inputs
    if has_rr and not beats:
        raise ValueError(f"{run_dir}: rhythm-feature models (an 'rr' input on segment task {task.name}, e.g. "
                         "--config edge-rhythm) have no phone port yet; golden vectors cover beat RR models only")
    with_context = has_rr and spec.rr_width > len(pp.RR_FEATURE_NAMES)
    if has_rr and spec.rr_width not in (len(pp.RR_FEATURE_NAMES), len(pp.RR_FEATURE_NAMES) + len(pp.RR_CONTEXT_NAMES)):
        raise ValueError(f"{run_dir}: its 'rr' input takes {spec.rr_width} columns; the phone core computes the "
                         f"{len(pp.RR_FEATURE_NAMES)} RR features, optionally followed by the "
                         f"{len(pp.RR_CONTEXT_NAMES)} recent-rhythm columns")
    has_morph = "morph" in spec.inputs
    if has_morph and not beats:
        raise ValueError(f"{run_dir}: a 'morph' input on segment task {task.name} has no phone port; golden vectors "
                         "cover beat-template features of beat windows only")
    inputs = {"ecg": [1, w, task.n_leads], "prior": [1, w, 1]}
    if has_rr:
        inputs["rr"] = [1, spec.rr_width]
    if has_morph:
        inputs["morph"] = [1, len(pp.TEMPLATE_FEATURE_NAMES)]
    conf = {
        "format": FORMAT, "run": str(run_dir), "task": task.name, "classes": list(task.classes),
        "multilabel": task.multilabel, "record_level": task.record_level, "n_leads": task.n_leads,
        "model_config": rc.config, "fs_in": float(fs_in), "fs_out": fs_out,
        "preprocess": dataclasses.asdict(pcfg), "preprocess_hash": rc.preprocess_hash,
        "baseline": base, "notch": notch, "bandpass": band, "resample": _resample_spec(fs_in, fs_out),
        "output_dtype": "float32", "rpeaks": _rpeak_spec(fs_out, RPEAK_LEAD[task.database]),
        "normalization": spec.zscore.to_dict(), "window": window,
        "prior": _prior_spec(spec.prior_kind, fs_out),
        "model": {"inputs": inputs, "output": "probs", "activation": "sigmoid" if task.multilabel else "softmax"},
        "routing": ROUTING,
        # how outputs become decisions (record averaging, noise class, per-class factors of the argmax)
        "decision": spec.decision.to_dict(),
    }
    if has_rr:
        conf["rr"] = _rr_spec(fs_out, context=with_context)
    if has_morph:
        conf["morph"] = _morph_spec(fs_out)
    return conf


# ----------------------------------------------------------------------------------------------
# golden.json
# ----------------------------------------------------------------------------------------------

def synthetic_input(task_database: str, n_leads: int, seconds: float, fs: float, seed: int) -> np.ndarray:
    """Synthetic ECG (n, C) float32 mV with a slow baseline drift, suited to the task."""
    from ecgnet_tf.synthetic import synth_ecg

    if task_database == "cinc2017":
        s = synth_ecg(seconds, fs, hr_bpm=85, rhythm="af", n_leads=n_leads, noise_mv=0.02, seed=seed)
    elif task_database == "mitdb":
        s = synth_ecg(seconds, fs, hr_bpm=72, beat_probs={"N": 0.8, "V": 0.12, "S": 0.08}, n_leads=n_leads,
                      noise_mv=0.02, seed=seed)
    else:
        s = synth_ecg(seconds, fs, hr_bpm=68, n_leads=n_leads, noise_mv=0.02, seed=seed)
    t = np.arange(s.signal.shape[0]) / fs
    drift = 0.25 * np.sin(2 * np.pi * 0.2 * t + 0.3) + 0.1 * np.sin(2 * np.pi * 0.05 * t)
    return (s.signal + drift[:, None]).astype(np.float32)


def _leads(x: np.ndarray) -> list:
    """(n, C) -> [C][n] lists (lead-major, what the Java side reads)."""
    return _f(np.asarray(x, dtype=np.float64).T)


def tflite_predict(model_bytes: bytes, ecg: np.ndarray, prior: np.ndarray, **extra) -> tuple[np.ndarray, dict]:
    """Probabilities (k, K) of z-scored windows ``ecg`` (k, W, C) / ``prior`` (k, W) or (k, W, 1) (further
    named model inputs as keywords, e.g. ``rr`` (k, F)), one at a
    time on :class:`~ecgnet_tf.export.tflite.TFLiteRunner` (int8 inputs quantised, outputs dequantised and
    the LSTM state reset per window, as the phone does: ``resetVariableTensors()``), and run facts."""
    from .tflite import TFLiteRunner

    runner = TFLiteRunner(model_bytes, num_threads=1)
    t0 = time.perf_counter()
    probs = runner.predict(ecg, prior, **extra)
    ms = 1000 * (time.perf_counter() - t0) / max(1, len(ecg))
    info = {"input_dtype": str(np.dtype(runner.inputs["ecg"]["dtype"])),
            "output_dtype": str(np.dtype(runner.outputs["probs"]["dtype"])), "ms_per_window_python_cpu1": round(ms, 2)}
    return probs, info


def route(p_max: float) -> str:
    if p_max >= ROUTING["auto_report"]:
        return "auto_report"
    if p_max >= ROUTING["review"]:
        return "review"
    return "extended_monitoring"


def make_golden(run_dir: Path, out: Path, tflite: Path | None = None, seconds: float = 20.0,
                fs: float | None = None, seed: int = 0, make_tflite: bool = True) -> dict:
    """Write pipeline_config.json, golden.json and sample_recording.json to ``out``; return a summary."""
    from ecgnet_tf.runs import ModelSpec, RunConfig, load_model
    from ecgnet_tf.tasks import get_task, record_inputs
    from ecgnet_tf.tasks.inputs import is_beat_layout

    from .convert import convert_model, rebuild_batch1

    run_dir, out = Path(run_dir), Path(out)
    rc = RunConfig.load(run_dir)
    task = get_task(rc.task)
    spec = ModelSpec.from_run(run_dir)
    fs = float(fs or TYPICAL_FS[task.database])
    pcfg = spec.preprocess
    conf = pipeline_config(run_dir, fs)
    fs_out = float(pcfg.fs_out)

    raw = synthetic_input(task.database, task.n_leads, seconds, fs, seed)
    x = raw.astype(np.float64)
    stages: dict[str, object] = {"input": _leads(x)}
    if pcfg.baseline == "kalman":
        x = pp.remove_baseline_kalman(x, fs, cutoff_hz=pcfg.baseline_cutoff_hz)
    elif pcfg.baseline == "highpass":
        x = pp.remove_baseline_highpass(x, fs, cutoff_hz=pcfg.baseline_cutoff_hz)
    elif pcfg.baseline != "none":
        raise ValueError(f"baseline {pcfg.baseline!r} has no phone port")
    stages["after_baseline"] = _leads(x)
    if pcfg.notch_hz is not None:
        x = pp.notch(x, fs, pcfg.notch_hz, pcfg.notch_quality)
        stages["after_notch"] = _leads(x)
    if pcfg.band_hz is not None:
        x = pp.bandpass(x, fs, pcfg.band_hz[0], pcfg.band_hz[1], order=pcfg.band_order)
    stages["after_bandpass"] = _leads(x)
    xr = pp.resample_signal(x, fs, fs_out).astype(np.float32)
    ref, _ = pp.preprocess_signal(raw, fs, pcfg)
    if not np.array_equal(ref, xr):  # the staged run must be the library pipeline itself
        raise AssertionError("staged pipeline differs from preprocess_signal")
    stages["resampled"] = _leads(xr)
    lead = conf["rpeaks"]["lead"]
    peaks = pp.detect_rpeaks(xr, fs_out, lead=lead)
    stages["rpeaks"] = peaks.tolist()

    # the model inputs exactly as training, evaluation and the monitor make them (priors at float16 precision)
    inputs = record_inputs(task, xr, fs_out, peaks, quality=False)
    if len(inputs) == 0:
        raise ValueError("the synthetic recording gave no model window; use more --seconds")
    w = spec.window_samples
    # beat windows: the R peak the window (and its prior) is centred on; segments: every R peak inside
    rel = [[w // 2] for _ in inputs.starts] if is_beat_layout(task) else [r.tolist() for r in inputs.rpeaks]
    feed = spec.prepare(inputs.named())
    stages["windows"] = {"starts": inputs.starts.tolist(), "rpeaks": rel, "padded": int(inputs.padded),
                         "count": int(len(inputs))}
    stages["zscored_first"] = _leads(feed["ecg"][0])
    stages["priors"] = _f(inputs.prior)
    if "rr" in spec.inputs:  # rr_features(all R peaks)[kept], float32: what prepare() feeds the model
        stages["rr"] = _f(feed["rr"])
    if "morph" in spec.inputs:  # template_features(kept beat windows), float32: what prepare() feeds the model
        stages["morph"] = _f(feed["morph"])

    model = load_model(run_dir / "model.keras")
    keras_probs = spec.predict(model, inputs.named(), batch_size=32)
    model_out: dict[str, object] = {"keras_probs": _f(keras_probs)}
    # the run's decision rule (merge, then factors, renormalised): what the app decides on; multilabel
    # outputs are never rescaled (ModelSpec.decide)
    decided = spec.decision.changes_probs and not spec.multilabel
    if decided:
        stages["decision"] = _f(spec.decision.rescale(keras_probs))
    mean_p = keras_probs.mean(axis=0)
    model_out["keras_record_probs"] = _f(mean_p)
    model_out["keras_top"] = task.classes[int(np.argmax(mean_p))]
    model_out["keras_routing"] = route(float(mean_p.max()))
    try:
        from ecgnet_tf.model import guided_mask

        mask = guided_mask(model, {k: v[:1] for k, v in feed.items()})
        model_out["attention_first"] = _f(np.asarray(mask)[0, :, 0])
    except ValueError:
        pass

    blob, source = None, None
    if tflite is not None:
        blob, source = Path(tflite).read_bytes(), str(tflite)
    elif make_tflite:
        blob = convert_model(rebuild_batch1(model, rc.model_config, spec.multilabel), "float32")
        source = "float32 conversion of model.keras (batch 1), made by export.golden"
    if blob is not None:
        tp, info = tflite_predict(blob, **feed)
        model_out["tflite_probs"] = _f(tp)
        model_out["tflite_source"] = source
        model_out["tflite_info"] = info
        model_out["tflite_vs_keras_max_abs"] = float(np.abs(tp - keras_probs).max())
        if decided:
            model_out["tflite_decided"] = _f(spec.decision.rescale(tp))
        if tflite is None:
            (out / "model_float32.tflite").parent.mkdir(parents=True, exist_ok=True)
            (out / "model_float32.tflite").write_bytes(blob)

    golden = {"format": GOLDEN_FORMAT, "task": task.name, "fs_in": fs, "fs_out": fs_out, "seconds": seconds,
              "seed": seed, "synthetic": True, "n_samples_in": int(raw.shape[0]),
              "n_samples_out": int(xr.shape[0]), "n_leads": int(raw.shape[1]), "stages": stages, "model": model_out}
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline_config.json").write_text(json.dumps(conf, indent=1))
    (out / "golden.json").write_text(json.dumps(golden))
    sample = {"format": "ecgnet-recording/1", "synthetic": True, "fs": fs, "units": "mV",
              "description": f"synthetic {task.name} demo recording (ecgnet_tf.synthetic, seed {seed}); not real data",
              "leads": _leads(raw.astype(np.float32))}
    (out / "sample_recording.json").write_text(json.dumps(sample))
    summary = {"out": str(out), "task": task.name, "fs_in": fs, "n_windows": int(len(inputs)),
               "n_rpeaks": int(len(peaks)), "keras_record_probs": [round(v, 4) for v in mean_p.tolist()],
               "routing": model_out["keras_routing"]}
    if "tflite_vs_keras_max_abs" in model_out:
        summary["tflite_vs_keras_max_abs"] = model_out["tflite_vs_keras_max_abs"]
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.golden", description=__doc__.splitlines()[0])
    p.add_argument("run_dir", help="run folder from python -m ecgnet_tf.train, or a pretrained model's name "
                                   "(beats, rhythm, mi)")
    p.add_argument("--out", type=Path, required=True, help="output folder for the JSON files")
    p.add_argument("--tflite", type=Path, default=None, help="TFLite model to record outputs of (e.g. the int8 edge "
                   "model from export.quantize); default: a float32 batch-1 conversion")
    p.add_argument("--no-tflite", action="store_true", help="skip the TFLite stage")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the synthetic recording (s)")
    p.add_argument("--fs", type=float, default=None, help="input rate in Hz (default: the task's typical rate: "
                   "300 cinc2017, 360 mitdb, 500 ptbxl)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from ..data.errors import DataError
    from ..pretrained.registry import resolve_model

    try:
        args.run_dir = resolve_model(args.run_dir)
        if args.tflite is not None and not args.tflite.is_file():
            raise FileNotFoundError(f"{args.tflite}: no such TFLite file")
        s = make_golden(args.run_dir, args.out, args.tflite, args.seconds, args.fs, args.seed,
                        make_tflite=not args.no_tflite)
    except (FileNotFoundError, ValueError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(s, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
