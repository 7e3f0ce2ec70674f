"""Pan-Tompkins QRS detection with search-back and T-wave discrimination, and R-peak refinement.

Signal chain (all zero phase, so no delay bookkeeping is needed): band-pass 5-15 Hz
(Butterworth, forward-backward) -> five-point derivative -> squaring -> 150 ms moving-window
integration (MWI). Candidate peaks are the local maxima of the MWI. One Python loop over the
candidates (not over samples) applies the adaptive thresholds of Pan & Tompkins (1985):

* running signal / noise peak levels for the MWI (SPKI, NPKI) and for the band-passed signal
  (SPKF, NPKF); a candidate is a QRS when both its MWI peak and its band-passed peak exceed
  ``NPK + 0.25 (SPK - NPK)``;
* a 200 ms refractory period after each QRS;
* T-wave discrimination: a candidate 200-360 ms after the previous QRS whose maximal slope is
  below half the previous QRS slope is taken as a T wave (noise);
* search-back: when no QRS was found for 166% of the average RR interval, a skipped candidate
  above the lower thresholds (half the main ones) is taken as a QRS: the earliest one that is at
  least half as strong as the strongest (so several missed beats in one gap are recovered in
  order), repeated while the gap stays too long; T-wave check applies;
* P-wave look-ahead: a candidate followed within 300 ms by one with 3x its MWI peak and a steeper
  slope is not a QRS (tall P waves);
* robustness additions: the RR average is the median of the last 8 RR intervals; one beat can at
  most double-weight the signal level, and the threshold level never exceeds the median of the
  last 8 QRS peaks (large ectopic beats do not hide normal ones); after 2.5 s without a QRS the
  signal levels are halved (re-learning after a sudden amplitude drop).

Detections are then moved to the R peak by :func:`refine_rpeaks`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal as sps
from scipy.ndimage import uniform_filter1d

from .filters import bandpass


@dataclass(frozen=True)
class PanTompkinsConfig:
    """Pan-Tompkins parameters (times in seconds, frequencies in Hz)."""

    band_hz: tuple[float, float] = (5.0, 15.0)
    filter_order: int = 2
    mwi_s: float = 0.150
    refractory_s: float = 0.200
    t_wave_s: float = 0.360
    t_slope_ratio: float = 0.5
    searchback_factor: float = 1.66
    threshold_fraction: float = 0.25
    searchback_fraction: float = 0.5
    learn_s: float = 8.0
    max_level_jump: float = 2.0
    p_wave_s: float = 0.30
    p_energy_ratio: float = 3.0
    relearn_s: float = 2.5
    relearn_noise_ratio: float = 3.0
    refine_radius_s: float = 0.08


def _window_view(x: np.ndarray, centres: np.ndarray, radius: int) -> np.ndarray:
    """(k, 2*radius+1) windows of 1-D ``x`` centred on ``centres`` (edge-padded)."""
    idx = np.clip(centres[:, None] + np.arange(-radius, radius + 1)[None, :], 0, x.size - 1)
    return x[idx]


def refine_rpeaks(x: np.ndarray, peaks: np.ndarray, fs: float, radius_s: float = 0.08,
                  polarity: str = "auto") -> np.ndarray:
    """Move each detection to the local extremum of ``x`` within ``radius_s`` seconds.

    Each window is baseline-corrected by subtracting its median. Polarity-aware: with
    ``polarity="auto"`` the record's dominant polarity (the larger of the median positive and
    median negative excursions over all beats) is used, except for beats whose opposite
    excursion is more than 1.5 times larger (e.g. inverted ectopic beats). ``"positive"`` /
    ``"negative"`` force maxima / minima. Returns sorted unique int64 sample indices.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError("refine_rpeaks expects a 1-D signal")
    peaks = np.asarray(peaks, dtype=np.int64)
    if peaks.size == 0:
        return peaks.copy()
    r = max(1, int(round(radius_s * fs)))
    w = _window_view(x, np.clip(peaks, 0, x.size - 1), r)
    w = w - np.median(w, axis=1, keepdims=True)
    pos_amp = w.max(axis=1)
    neg_amp = -w.min(axis=1)
    if polarity == "positive":
        use_pos = np.ones(peaks.size, dtype=bool)
    elif polarity == "negative":
        use_pos = np.zeros(peaks.size, dtype=bool)
    elif polarity == "auto":
        dominant_pos = np.median(pos_amp) >= np.median(neg_amp)
        if dominant_pos:
            use_pos = ~(neg_amp > 1.5 * pos_amp)
        else:
            use_pos = pos_amp > 1.5 * neg_amp
    else:
        raise ValueError(f"polarity must be 'auto', 'positive' or 'negative', got {polarity!r}")
    arg = np.where(use_pos, w.argmax(axis=1), w.argmin(axis=1))
    out = np.clip(peaks + arg - r, 0, x.size - 1)
    return np.unique(out)


def qrs_feature_signals(x: np.ndarray, fs: float, cfg: PanTompkinsConfig = PanTompkinsConfig()
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(band-passed, derivative, moving-window-integrated) signals of 1-D ``x`` (same length)."""
    bp = bandpass(x, fs, cfg.band_hz[0], cfg.band_hz[1], order=cfg.filter_order)
    # five-point derivative y[n] = (2x[n+2] + x[n+1] - x[n-1] - 2x[n-2]) * fs / 8 (centred)
    d = np.convolve(bp, np.array([2.0, 1.0, 0.0, -1.0, -2.0]) * (fs / 8.0), mode="same")
    w = max(1, int(round(cfg.mwi_s * fs)))
    mwi = uniform_filter1d(np.square(d), size=w, mode="nearest")
    return bp, d, mwi


def pan_tompkins(x: np.ndarray, fs: float, cfg: PanTompkinsConfig = PanTompkinsConfig(),
                 refine: bool = True) -> np.ndarray:
    """R-peak sample indices (int64, sorted) in a 1-D ECG ``x`` sampled at ``fs`` Hz."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError("pan_tompkins expects a 1-D signal (one lead)")
    n = x.size
    if n < int(0.5 * fs) or not np.all(np.isfinite(x)):
        if not np.all(np.isfinite(x)):
            raise ValueError("signal contains NaN or inf")
        return np.zeros(0, dtype=np.int64)
    bp, d, mwi = qrs_feature_signals(x, fs, cfg)
    half = max(1, int(round(cfg.mwi_s * fs / 2)))
    # at most one candidate (the largest MWI maximum) per refractory period
    cands, _ = sps.find_peaks(mwi, distance=max(1, int(round(cfg.refractory_s * fs))))
    if cands.size == 0:
        return np.zeros(0, dtype=np.int64)
    # per-candidate features (vectorised): MWI peak, band-passed peak and max slope around it
    v_i = mwi[cands]
    v_f = np.abs(_window_view(bp, cands, half)).max(axis=1)
    slope = np.abs(_window_view(d, cands, half)).max(axis=1)
    is_qrs = _classify(cands, v_i, v_f, slope, mwi, np.abs(bp), n, fs, cfg)
    peaks = cands[is_qrs]
    if refine and peaks.size:
        peaks = refine_rpeaks(x, peaks, fs, cfg.refine_radius_s)
        peaks = _merge_close(peaks, mwi, int(round(cfg.refractory_s * fs)))
    return peaks.astype(np.int64)


def _merge_close(peaks: np.ndarray, score: np.ndarray, min_gap: int) -> np.ndarray:
    """Drop peaks closer than ``min_gap`` samples to a neighbour with a higher ``score``."""
    while peaks.size > 1:
        gap = np.diff(peaks)
        close = np.flatnonzero(gap < min_gap)
        if close.size == 0:
            break
        s = score[peaks]
        # for each close pair drop the weaker member; pairs sharing a member wait for the next pass
        drop = np.where(s[close] < s[close + 1], close, close + 1)
        first = np.r_[True, np.diff(close) > 1]
        keep = np.ones(peaks.size, dtype=bool)
        keep[drop[first]] = False
        peaks = peaks[keep]
    return peaks


def _median(v: list[float]) -> float:
    s = sorted(v)
    m = len(s) // 2
    return s[m] if len(s) % 2 else 0.5 * (s[m - 1] + s[m])


def _classify(cands: np.ndarray, v_i: np.ndarray, v_f: np.ndarray, slope: np.ndarray,
              mwi: np.ndarray, abs_bp: np.ndarray, n: int, fs: float, cfg: PanTompkinsConfig) -> np.ndarray:
    """Adaptive-threshold decision loop over the candidate peaks; returns a QRS mask.

    The loop runs over candidate peaks (a few per beat) with plain Python floats for speed.
    """
    refr = cfg.refractory_s * fs
    twin = cfg.t_wave_s * fs
    pwin = cfg.p_wave_s * fs
    tf = cfg.threshold_fraction
    sbf = cfg.searchback_fraction
    tsr = cfg.t_slope_ratio
    # learning phase: typical QRS level from the maxima of 2 s blocks in the first learn_s seconds
    learn = int(min(n, cfg.learn_s * fs))
    blk = int(2 * fs)
    nb = max(1, learn // blk)
    if learn >= blk:
        mx_i = mwi[:nb * blk].reshape(nb, -1).max(axis=1)
        mx_f = abs_bp[:nb * blk].reshape(nb, -1).max(axis=1)
    else:
        mx_i, mx_f = np.array([mwi[:learn].max()]), np.array([abs_bp[:learn].max()])
    spki, spkf = 0.5 * float(np.median(mx_i)), 0.5 * float(np.median(mx_f))
    npki, npkf = 0.5 * float(np.mean(mwi[:learn])), 0.5 * float(np.mean(abs_bp[:learn]))

    pos = cands.astype(np.float64)
    c_l, vi_l, vf_l, sl_l = pos.tolist(), v_i.tolist(), v_f.tolist(), slope.tolist()
    m = len(c_l)
    is_qrs = np.zeros(m, dtype=bool)
    rr: list[float] = []          # last 8 RR intervals (samples)
    recent_i: list[float] = []    # MWI / band-pass peaks of the last 8 QRS complexes
    recent_f: list[float] = []
    st = {"last": -1, "last_pos": -np.inf, "last_slope": 0.0, "rr_avg": None,
          "med_i": np.inf, "med_f": np.inf, "decay_pos": -np.inf}
    relearn = cfg.relearn_s * fs

    def accept(j: int, searchback: bool) -> None:
        nonlocal spki, spkf
        is_qrs[j] = True
        a = 0.25 if searchback else 0.125
        # a single huge beat (e.g. an ectopic one) may raise the signal level only so much
        spki = a * min(vi_l[j], cfg.max_level_jump * spki) + (1 - a) * spki
        spkf = a * min(vf_l[j], cfg.max_level_jump * spkf) + (1 - a) * spkf
        recent_i.append(vi_l[j])
        recent_f.append(vf_l[j])
        del recent_i[:-8], recent_f[:-8]
        if len(recent_i) >= 4:
            # thresholds use min(SPK, median of the last 8 QRS peaks), so that a run of large
            # ectopic beats does not hide the normal ones
            st["med_i"], st["med_f"] = _median(recent_i), _median(recent_f)
        if st["last"] >= 0:
            rr.append(c_l[j] - st["last_pos"])
            del rr[:-8]
            # median of the last 8 RR intervals: robust to ectopic short-long pairs, follows rate changes
            st["rr_avg"] = _median(rr)
        st["last"], st["last_pos"], st["last_slope"] = j, c_l[j], sl_l[j]

    def search_back(upto_pos: float, end: int) -> bool:
        """Look between the last QRS and ``upto_pos`` for a missed beat; True if one was added."""
        avg = st["rr_avg"]
        last, last_pos = st["last"], st["last_pos"]
        if avg is None or upto_pos - last_pos <= cfg.searchback_factor * avg or last + 1 >= end:
            return False
        sl = slice(last + 1, end)
        si, sf = min(spki, st["med_i"]), min(spkf, st["med_f"])
        thi = sbf * (npki + tf * (si - npki))
        thf = sbf * (npkf + tf * (sf - npkf))
        dt = pos[sl] - last_pos
        ok = (dt > refr) & (v_i[sl] > thi) & (v_f[sl] > thf)
        ok &= ~((dt < twin) & (slope[sl] < tsr * st["last_slope"]))
        if not ok.any():
            return False
        cand = np.flatnonzero(ok)
        vals = v_i[sl][cand]
        # the earliest candidate at least half as strong as the strongest one; the caller's loop
        # then searches again from it, so several missed beats in one gap are all recovered
        accept(last + 1 + int(cand[np.argmax(vals >= 0.5 * vals.max())]), searchback=True)
        return True

    for j in range(m):
        p = c_l[j]
        if p - st["last_pos"] > relearn and p - st["decay_pos"] > relearn:
            # nothing detected for relearn_s even with search-back: the amplitude may have dropped,
            # so halve the signal levels (not below relearn_noise_ratio x the noise levels)
            st["decay_pos"] = p
            spki = max(0.5 * spki, cfg.relearn_noise_ratio * npki)
            spkf = max(0.5 * spkf, cfg.relearn_noise_ratio * npkf)
            recent_i.clear(), recent_f.clear()
            st["med_i"] = st["med_f"] = np.inf
        while search_back(p, j):
            pass
        dt = p - st["last_pos"]
        if dt < refr:
            continue
        si, sf = min(spki, st["med_i"]), min(spkf, st["med_f"])
        vi, vf = vi_l[j], vf_l[j]
        qrs = vi > npki + tf * (si - npki) and vf > npkf + tf * (sf - npkf)
        if qrs and dt < twin and sl_l[j] < tsr * st["last_slope"]:
            qrs = False  # T wave: too soon after the last QRS and too flat
        if qrs and j + 1 < m and c_l[j + 1] - p < pwin and vi_l[j + 1] > cfg.p_energy_ratio * vi \
                and sl_l[j + 1] > sl_l[j]:
            qrs = False  # P wave: a much stronger, steeper candidate follows shortly (look-ahead)
        if qrs:
            accept(j, searchback=False)
        else:
            npki = 0.125 * vi + 0.875 * npki
            npkf = 0.125 * vf + 0.875 * npkf
    while search_back(float(n), m):
        pass
    return is_qrs
