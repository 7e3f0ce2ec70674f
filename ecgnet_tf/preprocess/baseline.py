"""Baseline-wander removal: Kalman/RTS smoother (default), two-stage median, zero-phase high-pass.

Kalman model. The observed sample is ``y[t] = b[t] + e[t]``: a slowly varying baseline ``b`` plus
the ECG itself, treated as white "measurement noise" of variance ``r``. The baseline is either

* a random walk (``model="rw"``): ``b[t+1] = b[t] + w[t]``, or
* an integrated random walk (``model="irw"``, default): state ``(b, slope)``,
  ``b[t+1] = b[t] + slope[t]``, ``slope[t+1] = slope[t] + w[t]``,

with process noise variance ``q``. A Rauch-Tung-Striebel smoother (forward Kalman filter, then a
backward pass) gives the zero-phase baseline estimate. With constant ``q``/``r`` the filter reaches
steady state after a few time constants, and the steady-state smoother is a linear time-invariant
forward IIR filter followed by a backward IIR filter. We therefore solve the steady-state (discrete
algebraic) Riccati equation once, build the two constant-gain recursions as transfer functions and
run them with ``scipy.signal.lfilter`` (vectorised over leads, C speed). Edges are handled by odd
reflection padding and steady-state initial conditions.

Riccati solution. The Riccati equation is solved in closed form by spectral factorisation
(:func:`_steady_state_gain`), not with ``scipy.linalg.solve_discrete_are``: ``r/q`` grows as
``(fs / cutoff_hz)**(2m)`` (about 1e10 for IRW at 1 kHz), and the generic QZ-based DARE solver then
fails for some rates ("Reordering of (A, B) failed ... generalized Schur form"; 1000 and 1024 Hz
among them). The closed form is exact to rounding for any ``r/q`` (tests check it against a 50-digit
Riccati iteration); where the DARE route did not fail it was off by up to ~1e-8 (relative) at 500 Hz
and ~1e-4 at 5 kHz. The transfer-function coefficients are formed from trace, determinant and
adjugate (:func:`_ss2tf`) rather than ``scipy.signal.ss2tf``, which loses digits when the poles
crowd near z = 1 at high sampling rates.

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
from scipy import signal as sps
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


def _steady_state_gain(lam: float, model: str) -> tuple[np.ndarray, np.ndarray]:
    """Steady-state Kalman gain ``K`` (m, 1) and predicted covariance shape ``M = P- / s2`` (m, m).

    ``s2 = H P- H' + r`` is the innovation variance; only ``K`` and ``M`` (scale free) are needed.
    Closed form by spectral factorisation of the observation spectrum: with ``u = z + 1/z`` the
    innovation polynomial ``c(z)`` satisfies ``s2 c(z) c(1/z) = q + r (2 - u)**m``, so the closed-loop
    poles ``z = 1 - d`` are the roots inside the unit circle of ``(z - 1)**2 / z = -(-q/r)**(1/m)``,
    i.e. ``d**2 / (1 - d) = e`` with ``e = 1/lam`` (rw) or ``e = -1j/sqrt(lam)`` (irw, and its
    conjugate). Working with ``d`` (not ``z``) keeps full precision when the poles are near 1.

    rw:  K = d, M = d.
    irw: c(z) = (1 - z1/z)(1 - conj(z1)/z) with z1 = 1 - d, and F - F K H has that characteristic
    polynomial, so ``k1 = 1 - |z1|**2 = 2 Re d - |d|**2`` and ``k2 = c(1) = |d|**2``; the Riccati
    equation then gives ``M = [[k1, k2], [k2, k2 (k1 + k2)]]`` (and ``k2**2 s2 = q``).
    """
    m = _order(model)
    lam = float(lam)
    if not np.isfinite(lam) or lam <= 0:
        raise ValueError(f"noise ratio r/q must be positive and finite, got {lam!r}")
    if m == 1:
        e = 1.0 / lam
        # positive root of d**2 + e d - e = 0, written without cancellation
        d = 2.0 * e / (e + np.sqrt(e * e + 4.0 * e))
        return np.array([[d]]), np.array([[d]])
    e = -1j / np.sqrt(lam)
    # roots of d**2 - e d + e = 0 (from d**2 = e (1 - d)); keep the one with |1 - d| < 1
    disc = np.sqrt(e * e - 4.0 * e)
    roots = [(e + disc) / 2.0, (e - disc) / 2.0]
    d = min(roots, key=lambda r: abs(1.0 - r))
    k2 = float(abs(d) ** 2)
    k1 = float(2.0 * d.real - k2)
    K = np.array([[k1], [k2]])
    M = np.array([[k1, k2], [k2, k2 * (k1 + k2)]])
    return K, M


def _ss2tf(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Transfer function ``num / den`` (in powers of 1/z) of the SISO system ``(a, b, c, d)`` with
    state dimension 1 or 2; same result as ``scipy.signal.ss2tf`` in exact arithmetic.

    ``scipy.signal.ss2tf`` forms ``poly(A - B C) + (D - 1) poly(A)``: O(1) terms that cancel down to
    coefficients of order ``1/lam**(1/2m)``, and ``np.poly`` goes through eigenvalues, which lose
    about half the digits for the nearly defective matrices here (double pole close to z = 1 at
    high sampling rates). Here ``den = [1, -tr A, det A]`` and, with ``adj(zI - A) = zI + A - tr(A) I``,
    ``num = [D, D den[1] + C B, D den[2] + C (A - tr(A) I) B]``: every term is as small as the
    result, so e.g. the slope filter keeps its exact zero at DC.
    """
    dd = float(np.squeeze(d))
    if a.shape == (1, 1):
        den = np.array([1.0, -a[0, 0]])
        return np.array([dd, dd * den[1] + float(np.squeeze(c @ b))]), den
    tr = a[0, 0] + a[1, 1]
    den = np.array([1.0, -tr, a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]])
    num = np.array([dd, dd * den[1] + float(np.squeeze(c @ b)),
                    dd * den[2] + float(np.squeeze(c @ (a - tr * np.eye(2)) @ b))])
    return num, den


def _steady_state_smoother(lam: float, model: str) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]:
    """Transfer functions of the steady-state Kalman filter and RTS backward pass.

    Returns ``(fwd_nums, fwd_den, bwd_nums, bwd_den)``: ``fwd_nums[j] / fwd_den`` maps the
    observation to filtered state component ``j``; ``bwd_nums[j] / bwd_den`` maps (time-reversed)
    filtered state component ``j`` to its contribution to the smoothed baseline.
    """
    m = _order(model)
    F = np.array([[1.0]]) if m == 1 else np.array([[1.0, 1.0], [0.0, 1.0]])
    H = np.zeros((1, m))
    H[0, 0] = 1.0
    K, M = _steady_state_gain(lam, model)                 # Kalman gain (m, 1), P- / innovation var
    Mf = M - K @ K.T                                       # filtered covariance / innovation var
    C = np.linalg.solve(M.T, (Mf @ F.T).T).T               # RTS smoother gain Pf F' (P-)^-1
    # forward:  x[t] = A x[t-1] + K y[t], A = (I - K H) F   -> ss(A, K, A, K) in "x[t-1]" state
    A = (np.eye(m) - K @ H) @ F
    fnums, fden = [], None
    for j in range(m):
        num, fden = _ss2tf(A, K, A[[j], :], K[[j], :])
        fnums.append(num)
    # backward (reversed time): s[t] = C s[t+1] + (I - C F) x[t]; output b = H s
    G = np.eye(m) - C @ F
    bnums, bden = [], None
    for j in range(m):
        num, bden = _ss2tf(C, G[:, [j]], H @ C, H @ G[:, [j]])
        bnums.append(num)
    return fnums, fden, bnums, bden


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
