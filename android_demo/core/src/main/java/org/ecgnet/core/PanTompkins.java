package org.ecgnet.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Port of ecgnet_tf/preprocess/rpeaks.py (pan_tompkins + refine_rpeaks + merge of close peaks):
 * band-pass 5-15 Hz (zero phase) -> five-point derivative ({@code np.convolve(.., "same")}) ->
 * squaring -> moving-window integration ({@code uniform_filter1d(mode="nearest")}) -> candidate
 * peaks ({@code scipy.signal.find_peaks(distance=...)}) -> the same adaptive-threshold loop with
 * search-back, T-wave and P-wave checks -> refinement to the R extremum. All constants are in
 * samples at the model rate, computed in Python and read from the config's "rpeaks" object.
 */
public final class PanTompkins {
    private final SosFilter band;
    private final double[] deriv;
    private final int mwiSize, half, distance, minSamples, block, refineRadius, mergeGap;
    private final double refr, twin, pwin, relearn, learnSamples;
    private final double tf, sbf, sbFactor, tsr, maxJump, pRatio, relearnNoise;

    public PanTompkins(Object spec) {
        band = SosFilter.fromConfig(Json.get(spec, "band"));
        deriv = Json.doubles(Json.get(spec, "derivative"));
        mwiSize = Json.integer(spec, "mwi_size");
        half = Json.integer(spec, "half");
        distance = Json.integer(spec, "distance");
        minSamples = Json.integer(spec, "min_samples");
        block = Json.integer(spec, "block");
        refineRadius = Json.integer(spec, "refine_radius");
        mergeGap = Json.integer(spec, "merge_gap");
        refr = Json.num(spec, "refractory");
        twin = Json.num(spec, "t_wave");
        pwin = Json.num(spec, "p_wave");
        relearn = Json.num(spec, "relearn");
        learnSamples = Json.num(spec, "learn");
        tf = Json.num(spec, "threshold_fraction");
        sbf = Json.num(spec, "searchback_fraction");
        sbFactor = Json.num(spec, "searchback_factor");
        tsr = Json.num(spec, "t_slope_ratio");
        maxJump = Json.num(spec, "max_level_jump");
        pRatio = Json.num(spec, "p_energy_ratio");
        relearnNoise = Json.num(spec, "relearn_noise_ratio");
        if (deriv.length != 5) {
            throw new IllegalArgumentException("derivative kernel must have 5 taps");
        }
    }

    /** Band-passed, derivative and moving-window-integrated signals. */
    public double[][] features(double[] x) {
        double[] bp = band.filtfilt(x);
        int n = bp.length;
        double[] d = new double[n];
        // np.convolve(bp, k, "same") with a 5-tap kernel: d[i] = sum_j bp[i + 2 - j] * k[j] (zeros outside)
        for (int i = 0; i < n; i++) {
            double acc = 0.0;
            for (int j = 0; j < 5; j++) {
                int t = i + 2 - j;
                if (t >= 0 && t < n) {
                    acc += bp[t] * deriv[j];
                }
            }
            d[i] = acc;
        }
        double[] sq = new double[n];
        for (int i = 0; i < n; i++) {
            sq[i] = d[i] * d[i];
        }
        return new double[][] {bp, d, uniformFilterNearest(sq, mwiSize)};
    }

    /**
     * scipy.ndimage.uniform_filter1d(x, size, mode="nearest", origin=0): the mean of
     * x[i - size/2 .. i - size/2 + size - 1] (edge samples repeated), computed as scipy does it
     * (a running sum updated by (in - out) / size).
     */
    static double[] uniformFilterNearest(double[] x, int size) {
        int n = x.length;
        double[] y = new double[n];
        if (n == 0) {
            return y;
        }
        int before = size / 2;
        double tmp = 0.0;
        for (int l = 0; l < size; l++) {
            tmp += at(x, l - before);
        }
        tmp /= size;
        y[0] = tmp;
        for (int l = 1; l < n; l++) {
            tmp += (at(x, l - before + size - 1) - at(x, l - 1 - before)) / size;
            y[l] = tmp;
        }
        return y;
    }

    private static double at(double[] x, int i) {
        return x[Math.max(0, Math.min(x.length - 1, i))];
    }

    /** scipy.signal.find_peaks(x, distance=distance): local maxima (plateau midpoints), thinned. */
    static int[] findPeaks(double[] x, int distance) {
        List<Integer> peaks = new ArrayList<>();
        int n = x.length;
        int i = 1;
        int iMax = n - 1;
        while (i < iMax) {
            if (x[i - 1] < x[i]) {
                int ahead = i + 1;
                while (ahead < iMax && x[ahead] == x[i]) {
                    ahead++;
                }
                if (x[ahead] < x[i]) {
                    peaks.add((i + ahead - 1) / 2);
                    i = ahead;
                }
            }
            i++;
        }
        int m = peaks.size();
        int[] p = new int[m];
        for (int k = 0; k < m; k++) {
            p[k] = peaks.get(k);
        }
        if (distance <= 1 || m == 0) {
            return p;
        }
        Integer[] order = new Integer[m];
        for (int k = 0; k < m; k++) {
            order[k] = k;
        }
        // ascending by height (ties: by position, stable); visited from the highest down
        Arrays.sort(order, (u, v) -> Double.compare(x[p[u]], x[p[v]]));
        boolean[] keep = new boolean[m];
        Arrays.fill(keep, true);
        for (int r = m - 1; r >= 0; r--) {
            int j = order[r];
            if (!keep[j]) {
                continue;
            }
            for (int k = j - 1; k >= 0 && p[j] - p[k] < distance; k--) {
                keep[k] = false;
            }
            for (int k = j + 1; k < m && p[k] - p[j] < distance; k++) {
                keep[k] = false;
            }
        }
        int c = 0;
        for (boolean b : keep) {
            c += b ? 1 : 0;
        }
        int[] out = new int[c];
        c = 0;
        for (int k = 0; k < m; k++) {
            if (keep[k]) {
                out[c++] = p[k];
            }
        }
        return out;
    }

    private static double windowAbsMax(double[] x, int centre, int radius) {
        double mx = Double.NEGATIVE_INFINITY;
        for (int k = -radius; k <= radius; k++) {
            mx = Math.max(mx, Math.abs(at(x, centre + k)));
        }
        return mx;
    }

    /** R-peak sample indices (sorted) in one lead. */
    public int[] detect(double[] x) {
        int n = x.length;
        for (double v : x) {
            if (!Double.isFinite(v)) {
                throw new IllegalArgumentException("signal contains NaN or inf");
            }
        }
        if (n < minSamples) {
            return new int[0];
        }
        double[][] f = features(x);
        double[] bp = f[0], d = f[1], mwi = f[2];
        int[] cands = findPeaks(mwi, distance);
        if (cands.length == 0) {
            return new int[0];
        }
        int m = cands.length;
        double[] vi = new double[m], vf = new double[m], slope = new double[m];
        for (int k = 0; k < m; k++) {
            vi[k] = mwi[cands[k]];
            vf[k] = windowAbsMax(bp, cands[k], half);
            slope[k] = windowAbsMax(d, cands[k], half);
        }
        double[] absBp = new double[n];
        for (int k = 0; k < n; k++) {
            absBp[k] = Math.abs(bp[k]);
        }
        boolean[] isQrs = new Classifier(cands, vi, vf, slope, mwi, absBp, n).run();
        int c = 0;
        for (boolean b : isQrs) {
            c += b ? 1 : 0;
        }
        int[] peaks = new int[c];
        c = 0;
        for (int k = 0; k < m; k++) {
            if (isQrs[k]) {
                peaks[c++] = cands[k];
            }
        }
        if (peaks.length > 0) {
            peaks = refine(x, peaks, refineRadius);
            peaks = mergeClose(peaks, mwi, mergeGap);
        }
        return peaks;
    }

    /** refine_rpeaks(polarity="auto"): move each detection to the window's dominant extremum. */
    static int[] refine(double[] x, int[] peaks, int r) {
        int k = peaks.length;
        int n = x.length;
        int w = 2 * r + 1;
        double[][] win = new double[k][w];
        double[] pos = new double[k], neg = new double[k];
        for (int b = 0; b < k; b++) {
            int c = Math.max(0, Math.min(n - 1, peaks[b]));
            for (int j = 0; j < w; j++) {
                win[b][j] = at(x, c - r + j);
            }
            double med = Signals.median(win[b]);
            double mx = Double.NEGATIVE_INFINITY, mn = Double.POSITIVE_INFINITY;
            for (int j = 0; j < w; j++) {
                win[b][j] -= med;
                mx = Math.max(mx, win[b][j]);
                mn = Math.min(mn, win[b][j]);
            }
            pos[b] = mx;
            neg[b] = -mn;
        }
        boolean dominantPos = Signals.median(pos) >= Signals.median(neg);
        int[] out = new int[k];
        for (int b = 0; b < k; b++) {
            boolean usePos = dominantPos ? !(neg[b] > 1.5 * pos[b]) : pos[b] > 1.5 * neg[b];
            int arg = 0;
            for (int j = 1; j < w; j++) {
                if (usePos ? win[b][j] > win[b][arg] : win[b][j] < win[b][arg]) {
                    arg = j;
                }
            }
            out[b] = Math.max(0, Math.min(n - 1, peaks[b] + arg - r));
        }
        return Arrays.stream(out).sorted().distinct().toArray();
    }

    /** Drop peaks closer than minGap samples to a neighbour with a higher score (rpeaks._merge_close). */
    static int[] mergeClose(int[] peaks, double[] score, int minGap) {
        int[] p = peaks;
        while (p.length > 1) {
            List<Integer> close = new ArrayList<>();
            for (int k = 0; k + 1 < p.length; k++) {
                if (p[k + 1] - p[k] < minGap) {
                    close.add(k);
                }
            }
            if (close.isEmpty()) {
                break;
            }
            boolean[] keep = new boolean[p.length];
            Arrays.fill(keep, true);
            for (int c = 0; c < close.size(); c++) {
                int k = close.get(c);
                boolean first = c == 0 || k - close.get(c - 1) > 1;
                if (first) {
                    keep[score[p[k]] < score[p[k + 1]] ? k : k + 1] = false;
                }
            }
            int cnt = 0;
            for (boolean b : keep) {
                cnt += b ? 1 : 0;
            }
            int[] q = new int[cnt];
            cnt = 0;
            for (int k = 0; k < p.length; k++) {
                if (keep[k]) {
                    q[cnt++] = p[k];
                }
            }
            p = q;
        }
        return p;
    }

    /** The adaptive-threshold decision loop (rpeaks._classify), state kept in fields. */
    private final class Classifier {
        final int[] cands;
        final double[] vi, vf, slope;
        final int m;
        final boolean[] isQrs;
        double spki, spkf, npki, npkf;
        final List<Double> rr = new ArrayList<>(), recentI = new ArrayList<>(), recentF = new ArrayList<>();
        int last = -1;
        double lastPos = Double.NEGATIVE_INFINITY, lastSlope = 0.0, rrAvg = Double.NaN;
        double medI = Double.POSITIVE_INFINITY, medF = Double.POSITIVE_INFINITY;
        double decayPos = Double.NEGATIVE_INFINITY;
        final int n;

        Classifier(int[] cands, double[] vi, double[] vf, double[] slope, double[] mwi, double[] absBp, int n) {
            this.cands = cands;
            this.vi = vi;
            this.vf = vf;
            this.slope = slope;
            this.m = cands.length;
            this.n = n;
            this.isQrs = new boolean[m];
            int learn = (int) Math.min(n, learnSamples);
            int nb = Math.max(1, learn / block);
            double[] mxI, mxF;
            if (learn >= block) {
                mxI = new double[nb];
                mxF = new double[nb];
                for (int b = 0; b < nb; b++) {
                    double a = Double.NEGATIVE_INFINITY, c = Double.NEGATIVE_INFINITY;
                    for (int t = b * block; t < (b + 1) * block; t++) {
                        a = Math.max(a, mwi[t]);
                        c = Math.max(c, absBp[t]);
                    }
                    mxI[b] = a;
                    mxF[b] = c;
                }
            } else {
                double a = Double.NEGATIVE_INFINITY, c = Double.NEGATIVE_INFINITY;
                for (int t = 0; t < learn; t++) {
                    a = Math.max(a, mwi[t]);
                    c = Math.max(c, absBp[t]);
                }
                mxI = new double[] {a};
                mxF = new double[] {c};
            }
            spki = 0.5 * Signals.median(mxI);
            spkf = 0.5 * Signals.median(mxF);
            npki = 0.5 * Signals.mean(mwi, learn);
            npkf = 0.5 * Signals.mean(absBp, learn);
        }

        private double medianOf(List<Double> v) {
            double[] a = new double[v.size()];
            for (int k = 0; k < a.length; k++) {
                a[k] = v.get(k);
            }
            Arrays.sort(a);
            int h = a.length / 2;
            return a.length % 2 == 1 ? a[h] : 0.5 * (a[h - 1] + a[h]);
        }

        private void keepLast8(List<Double> v) {
            while (v.size() > 8) {
                v.remove(0);
            }
        }

        void accept(int j, boolean searchback) {
            isQrs[j] = true;
            double a = searchback ? 0.25 : 0.125;
            spki = a * Math.min(vi[j], maxJump * spki) + (1 - a) * spki;
            spkf = a * Math.min(vf[j], maxJump * spkf) + (1 - a) * spkf;
            recentI.add(vi[j]);
            recentF.add(vf[j]);
            keepLast8(recentI);
            keepLast8(recentF);
            if (recentI.size() >= 4) {
                medI = medianOf(recentI);
                medF = medianOf(recentF);
            }
            if (last >= 0) {
                rr.add(cands[j] - lastPos);
                keepLast8(rr);
                rrAvg = medianOf(rr);
            }
            last = j;
            lastPos = cands[j];
            lastSlope = slope[j];
        }

        boolean searchBack(double uptoPos, int end) {
            if (Double.isNaN(rrAvg) || uptoPos - lastPos <= sbFactor * rrAvg || last + 1 >= end) {
                return false;
            }
            double si = Math.min(spki, medI), sf = Math.min(spkf, medF);
            double thi = sbf * (npki + tf * (si - npki));
            double thf = sbf * (npkf + tf * (sf - npkf));
            List<Integer> ok = new ArrayList<>();
            double best = Double.NEGATIVE_INFINITY;
            for (int k = last + 1; k < end; k++) {
                double dt = cands[k] - lastPos;
                boolean good = dt > refr && vi[k] > thi && vf[k] > thf;
                good &= !(dt < twin && slope[k] < tsr * lastSlope);
                if (good) {
                    ok.add(k);
                    best = Math.max(best, vi[k]);
                }
            }
            if (ok.isEmpty()) {
                return false;
            }
            for (int k : ok) {
                if (vi[k] >= 0.5 * best) {
                    accept(k, true);
                    return true;
                }
            }
            return false;  // unreachable: the strongest candidate always qualifies
        }

        boolean[] run() {
            for (int j = 0; j < m; j++) {
                double p = cands[j];
                if (p - lastPos > relearn && p - decayPos > relearn) {
                    decayPos = p;
                    spki = Math.max(0.5 * spki, relearnNoise * npki);
                    spkf = Math.max(0.5 * spkf, relearnNoise * npkf);
                    recentI.clear();
                    recentF.clear();
                    medI = Double.POSITIVE_INFINITY;
                    medF = Double.POSITIVE_INFINITY;
                }
                while (searchBack(p, j)) {
                    // repeat while the gap stays too long
                }
                double dt = p - lastPos;
                if (dt < refr) {
                    continue;
                }
                double si = Math.min(spki, medI), sf = Math.min(spkf, medF);
                double a = vi[j], b = vf[j];
                boolean qrs = a > npki + tf * (si - npki) && b > npkf + tf * (sf - npkf);
                if (qrs && dt < twin && slope[j] < tsr * lastSlope) {
                    qrs = false;
                }
                if (qrs && j + 1 < m && cands[j + 1] - p < pwin && vi[j + 1] > pRatio * a
                        && slope[j + 1] > slope[j]) {
                    qrs = false;
                }
                if (qrs) {
                    accept(j, false);
                } else {
                    npki = 0.125 * a + 0.875 * npki;
                    npkf = 0.125 * b + 0.875 * npkf;
                }
            }
            while (searchBack(n, m)) {
                // trailing search-back
            }
            return isQrs;
        }
    }
}
