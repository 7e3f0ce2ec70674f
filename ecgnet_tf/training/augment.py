"""On-the-fly augmentation of training batches (TF ops, training partition only).

- Gaussian noise at a random SNR in [15, 25] dB per window (SNR against the window's own power).
- Baseline wander: a sinusoid of 0.15-0.3 Hz with amplitude up to 15% of the window's range.
- Random time shift of up to +/-50 ms, applied identically to the ECG and its prior map
  (shifted content is filled with edge values, not wrapped around).

Every draw is a stateless random op keyed by a per-batch seed (derived from the run seed, the epoch
and the batch index by the input pipeline), so the same seed gives the same augmented batches in any
process, with any number of parallel calls, and after a resume.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import tensorflow as tf


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation ranges; units in the names."""

    snr_db: tuple[float, float] = (15.0, 25.0)
    wander_hz: tuple[float, float] = (0.15, 0.3)
    wander_max_fraction: float = 0.15
    max_shift_s: float = 0.05
    p_noise: float = 0.5
    p_wander: float = 0.5
    p_shift: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


def add_noise(x: tf.Tensor, snr_db: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Add white Gaussian noise so that each window (batch, T, C) has SNR ``snr_db`` (batch,).

    ``seed``: int32/int64 tensor of shape (2,) for the stateless draw."""
    power = tf.reduce_mean(tf.square(x), axis=[1, 2], keepdims=True)
    noise_power = power / tf.pow(10.0, tf.reshape(snr_db, [-1, 1, 1]) / 10.0)
    return x + tf.random.stateless_normal(tf.shape(x), seed, dtype=x.dtype) * tf.sqrt(noise_power)


def add_wander(x: tf.Tensor, fs: float, freq_hz: tf.Tensor, fraction: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Add a sinusoidal baseline of ``freq_hz`` (batch,) and amplitude ``fraction`` x window range."""
    t = tf.cast(tf.range(tf.shape(x)[1]), x.dtype) / fs
    phase = tf.random.stateless_uniform(tf.shape(freq_hz), seed, 0, 6.283185307)
    wave = tf.sin(6.283185307 * freq_hz[:, None] * t[None, :] + phase[:, None])
    rng = tf.reduce_max(x, axis=[1, 2]) - tf.reduce_min(x, axis=[1, 2])
    return x + (fraction * rng)[:, None, None] * wave[:, :, None]


def shift(x: tf.Tensor, shift_samples: tf.Tensor) -> tf.Tensor:
    """Shift each window (batch, T, C) by ``shift_samples`` (batch,) int, edge-padded (no wrap)."""
    t = tf.shape(x)[1]
    idx = tf.range(t)[None, :] - shift_samples[:, None]
    idx = tf.clip_by_value(idx, 0, t - 1)
    return tf.gather(x, idx, batch_dims=1)


def augment_batch(ecg: tf.Tensor, prior: tf.Tensor, fs: float, cfg: AugmentConfig, seed: tf.Tensor
                  ) -> tuple[tf.Tensor, tf.Tensor]:
    """Apply the random augmentations to one batch; ``prior`` (batch, T, 1) follows the shifts.

    ``seed`` (2,) keys every draw (stateless): the same seed gives the same augmented batch."""
    b = tf.shape(ecg)[0]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=9)

    def coin(p: float, k: int) -> tf.Tensor:
        return tf.cast(tf.random.stateless_uniform([b], seeds[k]) < p, ecg.dtype)

    snr = tf.random.stateless_uniform([b], seeds[0], *cfg.snr_db)
    noisy = add_noise(ecg, snr, seeds[1])
    m = coin(cfg.p_noise, 2)[:, None, None]
    ecg = m * noisy + (1 - m) * ecg
    freq = tf.random.stateless_uniform([b], seeds[3], *cfg.wander_hz)
    frac = tf.random.stateless_uniform([b], seeds[4], 0.0, cfg.wander_max_fraction) * coin(cfg.p_wander, 5)
    ecg = add_wander(ecg, fs, freq, frac, seeds[6])
    max_shift = int(round(cfg.max_shift_s * fs))
    s = tf.random.stateless_uniform([b], seeds[7], -max_shift, max_shift + 1, dtype=tf.int32) * tf.cast(
        coin(cfg.p_shift, 8), tf.int32)
    return shift(ecg, s), shift(prior, s)
