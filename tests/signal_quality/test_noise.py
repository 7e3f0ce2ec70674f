"""Synthetic noise for the robustness curves: the requested SNR, seeded, three kinds that differ."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf.signal_quality.noise import NOISE_KINDS, add_noise, noise_of, signal_power
from ecgnet_tf.synthetic import synth_ecg

FS = 360.0


@pytest.mark.parametrize("kind", NOISE_KINDS)
@pytest.mark.parametrize("snr", [0.0, 12.0, 24.0])
def test_snr_is_as_requested(kind, snr):
    x = synth_ecg(duration_s=60.0, fs=FS, seed=0).signal[:, 0].astype(np.float64)
    y = add_noise(x, FS, kind, snr, seed=5)
    measured = 10 * np.log10(signal_power(x, FS) / np.mean((y - x) ** 2))
    assert measured == pytest.approx(snr, abs=0.05)
    assert np.array_equal(y, add_noise(x, FS, kind, snr, seed=5))
    assert not np.array_equal(y, add_noise(x, FS, kind, snr, seed=6))


def test_kinds_have_their_spectra():
    rng = np.random.default_rng(0)
    n = int(120 * FS)
    f = np.fft.rfftfreq(n, 1 / FS)
    low = f < 0.6
    share = {k: (np.abs(np.fft.rfft(noise_of(k, n, FS, rng))) ** 2) for k in NOISE_KINDS}
    share = {k: v[low].sum() / v.sum() for k, v in share.items()}
    assert share["baseline"] > 0.9 and share["gaussian"] < 0.01
    motion = noise_of("motion", n, FS, rng)
    assert np.mean(motion == 0) > 0.2  # silent between bursts
    with pytest.raises(ValueError, match="unknown noise kind"):
        noise_of("pink", n, FS, rng)
