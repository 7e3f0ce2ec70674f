package org.ecgnet.core;

/**
 * Cascade of second-order sections, matching {@code scipy.signal.sosfilt} and, for zero phase,
 * {@code scipy.signal.sosfiltfilt(sos, x, padlen=p)}: odd extension of p samples at both ends,
 * initial conditions {@code sosfilt_zi(sos)} scaled by the first sample of each pass.
 * The SOS matrix and zi come from the pipeline config (designed once, in Python).
 */
public final class SosFilter {
    private final double[][] sos;
    private final double[][] zi;
    private final int padlen;

    /**
     * @param sos    (n_sections x 6) rows b0 b1 b2 a0 a1 a2 with a0 = 1
     * @param zi     (n_sections x 2) {@code scipy.signal.sosfilt_zi(sos)}
     * @param padlen requested pad length; clipped to n - 1 for short signals (as filters._padlen)
     */
    public SosFilter(double[][] sos, double[][] zi, int padlen) {
        for (double[] row : sos) {
            if (row.length != 6 || row[3] != 1.0) {
                throw new IllegalArgumentException("each SOS row needs 6 values with a0 = 1");
            }
        }
        if (zi.length != sos.length) {
            throw new IllegalArgumentException("zi needs one row per section");
        }
        this.sos = sos;
        this.zi = zi;
        this.padlen = padlen;
    }

    /** Builds from a config object with keys sos, zi, padlen (what export.golden writes). */
    public static SosFilter fromConfig(Object spec) {
        return new SosFilter(Json.matrix(Json.get(spec, "sos")), Json.matrix(Json.get(spec, "zi")),
                Json.integer(spec, "padlen"));
    }

    public int sections() {
        return sos.length;
    }

    /** One causal pass starting from state z (n_sections x 2, modified in place). */
    public double[] filter(double[] x, double[][] z) {
        int ns = sos.length;
        double[] y = new double[x.length];
        for (int t = 0; t < x.length; t++) {
            double cur = x[t];
            for (int s = 0; s < ns; s++) {
                double[] c = sos[s];
                double[] st = z[s];
                double out = c[0] * cur + st[0];
                st[0] = c[1] * cur - c[4] * out + st[1];
                st[1] = c[2] * cur - c[5] * out;
                cur = out;
            }
            y[t] = cur;
        }
        return y;
    }

    private double[][] scaledZi(double v) {
        double[][] z = new double[zi.length][2];
        for (int s = 0; s < zi.length; s++) {
            z[s][0] = zi[s][0] * v;
            z[s][1] = zi[s][1] * v;
        }
        return z;
    }

    /** Zero-phase filtering of one lead (same length as x). */
    public double[] filtfilt(double[] x) {
        int n = x.length;
        if (n == 0) {
            return new double[0];
        }
        int p = Math.max(0, Math.min(padlen, n - 1));
        double[] ext = Signals.oddExtend(x, p);
        double[] y = filter(ext, scaledZi(ext[0]));
        y = Signals.reverse(y);
        y = filter(y, scaledZi(y[0]));
        y = Signals.reverse(y);
        return Signals.slice(y, p, p + n);
    }
}
