"""Pure-numpy parts of the explainer: resampling, zones, shares, overlap metric, figures."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf.interpret.overlap import chance_hit, region_hits, top_region
from ecgnet_tf.interpret.resample import feature_centres, normalize01, resample_to_length
from ecgnet_tf.interpret.zones import ZONES, ZoneConfig, zone_labels, zone_mask, zone_shares


def test_resample_has_input_length_and_keeps_peak_position():
    cam = np.zeros((2, 90))
    cam[0, 45] = 1.0  # feature step 45 of 90 covers input samples 450..459 of 900
    cam[1, 10] = 3.0
    up = resample_to_length(cam, 900)
    assert up.shape == (2, 900)
    assert 450 <= int(np.argmax(up[0])) <= 459
    assert 100 <= int(np.argmax(up[1])) <= 109
    assert np.allclose(feature_centres(90, 900)[[0, -1]], [4.5, 894.5])
    n = normalize01(up)
    assert n.min() == 0.0 and n.max() == 1.0 and n.shape == up.shape
    assert np.all(normalize01(np.ones((1, 5))) == 0.0)


def test_zone_labels_are_exclusive_with_precedence():
    fs = 360.0
    r = np.array([300, 420])  # 333 ms apart: the PR zone of beat 2 overlaps the ST-T zone of beat 1
    lab = zone_labels(r, 900, fs, ZoneConfig())
    assert lab.shape == (900,) and set(np.unique(lab)) <= set(range(len(ZONES)))
    qrs = zone_mask(r, 900, fs, (-0.05, 0.05))
    st = zone_mask(r, 900, fs, (0.10, 0.16))
    pr = zone_mask(r, 900, fs, (-0.20, -0.05))
    assert np.all(lab[qrs] == ZONES.index("qrs"))
    assert np.all(lab[st & ~qrs] == ZONES.index("st_t"))
    assert np.all(lab[pr & ~qrs & ~st] == ZONES.index("pr"))
    assert np.all(lab[~(qrs | st | pr)] == ZONES.index("baseline"))
    assert (st & pr).any()  # the overlap exists and went to st_t by precedence
    # R +/- 50 ms at 360 Hz is 18 samples each side, inclusive: 37 samples per beat
    assert int((lab == 0).sum()) == 2 * 37


def test_zone_shares_sum_to_one_and_follow_the_weights():
    lab = zone_labels(np.array([450]), 900, 360.0)
    w = np.zeros(900)
    w[450] = 3.0  # QRS
    w[450 + 47] = 1.0  # R + 130 ms: ST-T
    s = zone_shares(w, lab)
    assert s.sum() == pytest.approx(1.0)
    assert s[ZONES.index("qrs")] == pytest.approx(0.75) and s[ZONES.index("st_t")] == pytest.approx(0.25)
    assert zone_shares(np.zeros(900), lab) is None
    rng = np.random.default_rng(0)
    assert zone_shares(rng.random(900), lab).sum() == pytest.approx(1.0)


def test_af_zone_replaces_st_t():
    cfg = ZoneConfig.for_prior_kind("af")
    lab = zone_labels(np.array([100]), 400, 100.0, cfg)
    assert lab[100 + 25] == ZONES.index("st_t") and lab[100 + 8] == ZONES.index("baseline")


def test_top_region_and_overlap():
    h = np.zeros(100)
    h[40:50] = np.linspace(0.5, 1.0, 10)
    h[80:90] = 0.9  # another top-decile run, not containing the argmax
    assert top_region(h, 0.2) == (40, 50)
    zone = np.zeros(100, bool)
    zone[48:55] = True
    assert region_hits((40, 50), zone)
    assert not region_hits((40, 48), zone)
    # span of 10 in 100 samples hitting 7 zone samples: starts 39..54 of 91 possible
    assert chance_hit(10, zone) == pytest.approx(16 / 91)
    assert chance_hit(10, np.zeros(100, bool)) == 0.0


def test_figure_written(tmp_path):
    from ecgnet_tf.interpret.figures import heat_cmap, plot_explanation

    fs, t = 100.0, 1000
    rng = np.random.default_rng(1)
    ecg = rng.standard_normal((t, 12)) * 0.1
    heat = normalize01(rng.random(t))
    lab = zone_labels(np.array([100, 400, 700]), t, fs)
    f = plot_explanation(tmp_path / "a.png", ecg, fs, heat, {"gradcam": heat}, np.array([100, 400, 700]),
                         tuple(f"L{i}" for i in range(12)), "title", zones=lab)
    assert f.is_file() and f.stat().st_size > 10_000
    f1 = plot_explanation(tmp_path / "b.png", ecg[:, 0], fs, heat, {}, np.array([100]), ("MLII",))
    assert f1.stat().st_size > 5_000
    cm = heat_cmap()
    assert cm(0.0)[2] > cm(0.0)[0] and cm(1.0)[0] > cm(1.0)[2]  # blue at 0, red at 1
    with pytest.raises(ValueError):
        plot_explanation(tmp_path / "c.png", ecg, fs, heat[:10], {}, np.array([]), ("x",))


def test_offset_profile_locates_mass_relative_to_r():
    from ecgnet_tf.interpret.report import PROFILE_EDGES_MS, offset_profile
    from ecgnet_tf.interpret.zones import offset_to_nearest_r

    fs = 1000.0
    off = offset_to_nearest_r(np.array([200, 700]), 1000, fs)
    assert off[200] == 0 and off[270] == pytest.approx(0.070) and off[650] == pytest.approx(-0.050)
    w = np.zeros(1000)
    w[275] = 1.0  # R + 75 ms
    w[765] = 1.0  # R + 65 ms (same 60..80 ms bin)
    prof = offset_profile(w, off)
    assert prof.sum() == pytest.approx(1.0)
    assert PROFILE_EDGES_MS[int(np.argmax(prof))] == 60.0 and prof.max() == pytest.approx(1.0)
    assert offset_profile(w, offset_to_nearest_r(np.array([]), 1000, fs)) is None
