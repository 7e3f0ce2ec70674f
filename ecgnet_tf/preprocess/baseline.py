"""Baseline-wander removal: Kalman/RTS smoother (default), two-stage median, zero-phase high-pass.

Kalman model. The observed sample is ``y[t] = b[t] + e[t]``: a slowly varying baseline ``b`` plus
the ECG itself, treated as white "measurement noise" of variance ``r``. The baseline is either

* a random walk (``model="rw"``): ``b[t+1] = b[t] + w[t]``, or
* an integrated random walk (``model="irw"``, default): state ``(b, slope)``,
  ``b[t+1] = b[t] + slope[t]``, ``slope[t+1] = slope[t] + w[t]``,

with process noise variance ``q``. A Rauch-Tung-Striebel smoother (forward Kalman filter, then a
backward pass) gives the zero-phase baseline estimate. With constant ``q``/``r`` the filter reaches
steady state after a few time constants, and the steady-state smoother is a linear time-invariant
forward IIR filter followed by a backward IIR filter. We therefore solve the discrete algebraic
Riccati equation once (``scipy.linalg.solve_discrete_are``), build the two constant-gain recursions
as transfer functions and run them with ``scipy.signal.lfilter`` (vectorised over leads, C speed).
Edges are handled by odd reflection padding and steady-state initial conditions.

Tuning. In steady state the RTS smoother equals the non-causal Wiener smoother, whose gain for the
baseline is ``1 / (1 + (r/q) * (2 sin(w/2))**(2m))`` with ``m = 1`` (rw) or ``2`` (irw), ``w`` in
rad/sample. We choose ``r/q`` so that this gain is 0.5 at ``cutoff_hz``. The ECG output ``y - b``
is then a zero-phase high-pass with gain 0.5 at ``cutoff_hz``. With the default IRW model and
``cutoff_hz=0.8`` the drift gain left in the output is about 0.001 at 0.15 Hz, 0.02 at 0.3 Hz and
0.13 at 0.5 Hz, while it is 0.71 at 1 Hz, 0.98 at 2 Hz and 1.0 from 3 Hz on (QRS, and the ST/T band
above ~1 Hz, pass unchanged; no phase shift, so the ST level is not skewed by group delay).
"""
from __future__ import annotations

import numpy as np
from scipy import linalg, signal as sps
from scipy.ndimage import median_filter

from .filters import _as_float, highpass


def kalman_lambda(cutoff_hz: float, fs: float, model: str = "irw") -> float:
    """Ratio r/q (measurement / process noise variance) giving baseline gain 0.5 at ``cutoff_hz`` Hz."""
    m = _order(model)
    w = 2 * np.pi * cutoff_hz / fs
    return float(1.0 / (2 * np.sin(w / 2)) ** (2 * m))


def _order(model: str) -> int:
    if model == "rw":
        return 1
    if model == "irw":
        return 2
    raise ValueError(f"unknown baseline model {model!r}; use 'rw' or 'irw'")


def _steady_state_smoother(lam: float, model: str) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]:
    """Transfer functions of the steady-state Kalman filter and RTS backward pass.

    Returns ``(fwd_nums, fwd_den, bwd_nums, bwd_den)``: ``fwd_nums[j] / fwd_den`` maps the
    observation to filtered state component ``j``; ``bwd_nums[j] / bwd_den`` maps (time-reversed)
    filtered state component ``j`` to its contribution to the smoothed baseline.
    """
    m = _order(model)
    if m == 1:
        F = np.array([[1.0]])
        Q = np.array([[1.0]])
    else:
        F = np.array([[1.0, 1.0], [0.0, 1.0]])
        Q = np.array([[0.0, 0.0], [0.0, 1.0]])
    H = np.zeros((1, m))
    H[0, 0] = 1.0
    R = np.array([[lam]])
    # predicted covariance P- solves the filtering DARE (dual of the control DARE)
    Pp = linalg.solve_discrete_are(F.T, H.T, Q, R)
    K = Pp @ H.T @ np.linalg.inv(H @ Pp @ H.T + R)        # Kalman gain (m, 1)
    Pf = (np.eye(m) - K @ H) @ Pp                          # filtered covariance
    C = Pf @ F.T @ np.linalg.inv(Pp)                       # RTS smoother gain
    # forward:  x[t] = A x[t-1] + K y[t], A = (I - K H) F   -> ss(A, K, A, K) in "x[t-1]" state
    A = (np.eye(m) - K @ H) @ F
    fnum, fden = sps.ss2tf(A, K, A, K)
    # backward (reversed time): s[t] = C s[t+1] + (I - C F) x[t]; output b = H s
    G = np.eye(m) - C @ F
    bnums, bden = [], None
    for j in range(m):
        num, den = sps.ss2tf(C, G[:, [j]], H @ C, H @ G[:, [j]])
        bnums.append(num[0])
        bden = den
    return [fnum[j] for j in range(m)], fden, bnums, bden


def _lfilter_ss(b: np.ndarray, a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """lfilter along axis 0 started in steady state for a constant input equal to ``x[0]``."""
    zi = sps.lfilter_zi(b, a)
    zi = zi.reshape((-1,) + (1,) * (x.ndim - 1)) * x[:1]
    y, _ = sps.lfilter(b, a, x, axis=0, zi=zi)
    return y


def estimate_baseline_kalman(x: np.ndarray, fs: float, cutoff_hz: float = 0.8, model: str = "irw") -> np.ndarray:
    """Baseline estimate (same unit and shape as ``x``) from the steady-state Kalman/RTS smoother."""
    x = _as_float(x)
    n = x.shape[0]
    if n < 2:
        return x.copy()
    fnums, fden, bnums, bden = _steady_state_smoother(kalman_lambda(cutoff_hz, fs, model), model)
    # odd reflection padding (as filtfilt does) of ~3 time constants, so the edges are not pulled
    pad = int(min(n - 1, round(3 * fs / cutoff_hz)))
    if pad > 0:
        head = 2 * x[:1] - x[pad:0:-1]
        tail = 2 * x[-1:] - x[-2:-pad - 2:-1]
        xp = np.concatenate([head, x, tail], axis=0)
    else:
        xp = x
    # forward filter, component by component (they share the denominator)
    states = [_lfilter_ss(num, fden, xp) for num in fnums]
    # backward pass on time-reversed filtered states; contributions add up to the baseline
    b = np.zeros_like(xp)
    for num, s in zip(bnums, states):
        b += _lfilter_ss(num, bden, s[::-1])[::-1]
    return b[pad:pad + n] if pad > 0 else b


def remove_baseline_kalman(x: np.ndarray, fs: float, cutoff_hz: float = 0.8, model: str = "irw") -> np.ndarray:
    """Remove baseline wander with a zero-phase steady-state Kalman/RTS smoother.

    Args:
        x: (n_samples,) or (n_samples, n_leads) signal (mV).
        fs: sampling rate in Hz.
        cutoff_hz: frequency in Hz where half the amplitude is treated as baseline (default 0.8 Hz:
            0.15-0.5 Hz drift removed, QRS and ST/T kept; see the module docstring).
        model: "irw" (integrated random walk, 4th-order roll-off, default) or "rw" (random walk).

    Returns:
        float64 array of the same shape: ``x`` minus the smoothed baseline.
    """
    x = _as_float(x)
    return x - estimate_baseline_kalman(x, fs, cutoff_hz, model)


def remove_baseline_median(x: np.ndarray, fs: float, short_s: float = 0.2, long_s: float = 0.6) -> np.ndarray:
    """Classic two-stage median baseline removal: a ``short_s`` (200 ms) median removes QRS, a
    ``long_s`` (600 ms) median of that removes P/T waves; the result is the baseline, subtracted
    from ``x``. Window lengths in seconds, rounded to odd sample counts. Zero phase (symmetric)."""
    x = _as_float(x)

    def odd(sec: float) -> int:
        k = int(round(sec * fs))
        return max(1, k + (k % 2 == 0))

    size = (odd(short_s),) + (1,) * (x.ndim - 1)
    b = median_filter(x, size=size, mode="nearest")
    size = (odd(long_s),) + (1,) * (x.ndim - 1)
    b = median_filter(b, size=size, mode="nearest")
    return x - b


def remove_baseline_highpass(x: np.ndarray, fs: float, cutoff_hz: float = 0.5, order: int = 4) -> np.ndarray:
    """Remove baseline wander with a zero-phase Butterworth high-pass at ``cutoff_hz`` Hz."""
    return highpass(x, fs, cutoff_hz=cutoff_hz, order=order)
