"""Beat-template features: an ectopic-shaped beat stands out against the patient's own recent beats,
a normal one does not; causality (beat i never reads beats after it); the streaming tracker equals
the whole-record function; warm-up and input checks; real V beats on MIT-BIH (skipped without
../shared/data)."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf.preprocess import (TEMPLATE_FEATURE_NAMES, TemplateConfig, TemplateTracker, centre_segments,
                                  template_features)

FS = 360.0
T = 900  # 2.5-s beat window, R peak at T // 2
COL = {name: j for j, name in enumerate(TEMPLATE_FEATURE_NAMES)}


def gauss(t: np.ndarray, centre_s: float, width_s: float, amp: float) -> np.ndarray:
    return amp * np.exp(-0.5 * ((t - centre_s) / width_s) ** 2)


def beat_window(kind: str, rng: np.random.Generator, noise: float = 0.01) -> np.ndarray:
    """(T,) window in mV: "normal" (narrow QRS, upright T) or "wide" (broad, inverted, no P)."""
    t = (np.arange(T) - T // 2) / FS
    if kind == "normal":
        x = gauss(t, -0.18, 0.02, 0.15) + gauss(t, 0.0, 0.010, 1.0) + gauss(t, 0.25, 0.04, 0.3)
    else:
        x = gauss(t, 0.0, 0.035, -1.4) + gauss(t, 0.30, 0.06, 0.5)
    return x + noise * rng.standard_normal(T)


def record(kinds: list[str], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([beat_window(k, rng) for k in kinds])[:, :, None]  # (n, T, 1)


def test_names_shape_dtype_and_first_beat():
    w = record(["normal"] * 5)
    f = template_features(w, FS)
    assert f.shape == (5, len(TEMPLATE_FEATURE_NAMES)) and f.dtype == np.float32
    assert np.all(np.isfinite(f))
    # the first beat has no history: compared with itself
    assert f[0, COL["corr_qrs"]] == pytest.approx(1.0) and f[0, COL["corr_wide"]] == pytest.approx(1.0)
    assert f[0, COL["rms_dev"]] == 0.0 and f[0, COL["amp_ratio"]] == pytest.approx(1.0)
    assert template_features(np.zeros((0, T, 1), np.float32), FS).shape == (0, len(TEMPLATE_FEATURE_NAMES))


def test_wide_beat_stands_out_and_does_not_move_the_template():
    kinds = ["normal"] * 40 + ["wide"] + ["normal"] * 10 + ["wide"] + ["normal"] * 5
    f = template_features(record(kinds, seed=1), FS)
    normal = f[[i for i, k in enumerate(kinds) if k == "normal" and i > 0]]
    wide = f[[i for i, k in enumerate(kinds) if k == "wide"]]
    assert normal[:, COL["corr_qrs"]].min() > 0.98 and wide[:, COL["corr_qrs"]].max() < 0.5
    assert normal[:, COL["rms_dev"]].max() < 0.05 and wide[:, COL["rms_dev"]].min() > 0.3
    assert wide[:, COL["width_ratio"]].min() > 1.5
    assert wide[:, COL["max_dev_qrs"]].min() > 1.0
    # the median template ignores the isolated ectopic beat: the beats right after it still match
    after = [i + 1 for i, k in enumerate(kinds) if k == "wide"]
    assert f[after, COL["corr_qrs"]].min() > 0.98


def test_amplitude_ratio_is_relative_to_the_patient():
    """A patient whose every beat is 3x larger looks the same: the features are relative."""
    w = record(["normal"] * 20, seed=2)
    a = template_features(w, FS)
    b = template_features(3.0 * w, FS)
    np.testing.assert_allclose(a[1:, COL["amp_ratio"]], b[1:, COL["amp_ratio"]], rtol=1e-5)
    np.testing.assert_allclose(a[1:, COL["corr_qrs"]], b[1:, COL["corr_qrs"]], atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_causal_beat_i_never_reads_later_beats(seed):
    rng = np.random.default_rng(seed)
    kinds = list(rng.choice(["normal", "wide"], size=60, p=[0.8, 0.2]))
    w = record(kinds, seed=seed)
    f = template_features(w, FS)
    cut = 35
    w2 = w.copy()
    w2[cut + 1:] = rng.standard_normal(w2[cut + 1:].shape)  # everything after beat `cut` replaced
    f2 = template_features(w2, FS)
    np.testing.assert_array_equal(f[:cut + 1], f2[:cut + 1])
    assert not np.array_equal(f[cut + 1:], f2[cut + 1:])


def test_tracker_is_bit_identical_and_memory_is_bounded():
    cfg = TemplateConfig(history_beats=8)
    w = record(["normal", "wide", "normal", "normal"] * 10, seed=3)
    whole = template_features(w, FS, cfg)
    tr = TemplateTracker(FS, cfg)
    rows = np.stack([tr.push(s) for s in centre_segments(w, FS, cfg)])
    np.testing.assert_array_equal(rows, whole)
    assert len(tr._history) == 8 and tr.n_pushed == len(w)
    tr.reset()
    assert tr.n_pushed == 0
    halves = np.concatenate([tr.push_windows(w[:13]), tr.push_windows(w[13:])])  # two blocks of a stream
    np.testing.assert_array_equal(halves, whole)


def test_clipping_flat_input_and_input_checks():
    flat = np.zeros((4, T, 1), np.float32)
    f = template_features(flat, FS)
    assert np.all(np.isfinite(f)) and np.all(np.abs(f) <= TemplateConfig().clip)
    huge = record(["normal"] * 3)
    huge[2] *= 1e6
    assert np.abs(template_features(huge, FS)).max() <= TemplateConfig().clip
    with pytest.raises(ValueError, match="too short"):
        template_features(np.zeros((2, 100, 1)), FS)
    with pytest.raises(ValueError, match="windows must be"):
        centre_segments(np.zeros((2, 3, 4, 5)), FS)
    with pytest.raises(ValueError, match="history_beats"):
        TemplateConfig(history_beats=0)
    with pytest.raises(ValueError, match="qrs_s"):
        TemplateConfig(qrs_s=0.5)
    with pytest.raises(ValueError, match="fs must be positive"):
        TemplateTracker(0.0)


def test_ventricular_beats_differ_from_the_template_on_mitbih(shared_data):
    """Record 119 (ventricular bigeminy/trigeminy): its V beats correlate far less with the template."""
    from ecgnet_tf.data import mitdb
    from ecgnet_tf import preprocess as pp
    from ecgnet_tf.tasks import get_task
    from ecgnet_tf.tasks.inputs import beat_inputs

    rec = mitdb.load_record(shared_data, "119")
    x, fs = pp.preprocess_signal(rec.signal[:, :1], rec.fs, pp.PreprocessConfig())
    beats = pp.resample_indices(np.asarray(rec.beat_samples, np.int64), rec.fs, fs)
    m = beat_inputs(get_task("mitdb-aami"), x, fs, beats)
    cls = np.asarray(rec.beat_classes)[m.kept]
    corr = m.morph[:, COL["corr_qrs"]]
    assert (cls == "V").sum() > 100 and (cls == "N").sum() > 100
    assert np.median(corr[cls == "N"]) > 0.9 and np.median(corr[cls == "V"]) < 0.8
    dev = m.morph[:, COL["rms_dev"]]
    assert np.median(dev[cls == "V"]) > 3 * np.median(dev[cls == "N"])


def test_window_loading_skips_the_template_rows_only_when_asked(fake_data, window_cache):
    """Models without the "morph" input load windows without computing those rows; the rest is unchanged."""
    from ecgnet_tf.preprocess import PreprocessConfig
    from ecgnet_tf.tasks import get_task, load_windows, task_records

    recs = task_records(get_task("mitdb-aami"), fake_data)
    ids = list(recs.split.test)[:2]
    full = load_windows(recs, fake_data, ids, PreprocessConfig(), window_cache)
    bare = load_windows(recs, fake_data, ids, PreprocessConfig(), window_cache, morph=False)
    assert full.morph.shape == (len(full), len(TEMPLATE_FEATURE_NAMES)) and bare.morph.shape == (len(full), 0)
    np.testing.assert_array_equal(full.x, bare.x)
    np.testing.assert_array_equal(full.rr, bare.rr)
