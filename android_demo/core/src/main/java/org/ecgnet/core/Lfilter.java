package org.ecgnet.core;

/**
 * IIR filtering with a transfer function b/a, bit-for-bit the algorithm of
 * {@code scipy.signal.lfilter} (direct form II transposed, coefficients normalised by a[0]).
 */
public final class Lfilter {
    private final double[] b;
    private final double[] a;
    private final double[] zi;

    /**
     * @param b  numerator
     * @param a  denominator
     * @param zi steady-state initial conditions for a unit step ({@code scipy.signal.lfilter_zi(b, a)}),
     *           computed in Python and read from the pipeline config; may be null when unused
     */
    public Lfilter(double[] b, double[] a, double[] zi) {
        int m = Math.max(b.length, a.length);
        if (a.length == 0 || a[0] == 0.0) {
            throw new IllegalArgumentException("a[0] must be non-zero");
        }
        this.b = new double[m];
        this.a = new double[m];
        for (int k = 0; k < b.length; k++) {
            this.b[k] = b[k] / a[0];
        }
        for (int k = 0; k < a.length; k++) {
            this.a[k] = a[k] / a[0];
        }
        if (zi != null && zi.length != m - 1) {
            throw new IllegalArgumentException("zi must have max(len(a), len(b)) - 1 = " + (m - 1) + " values");
        }
        this.zi = zi;
    }

    /** Filters {@code x} starting from state {@code z} (modified in place; null = zero state). */
    public double[] filter(double[] x, double[] z) {
        int m = b.length;
        double[] state = z != null ? z : new double[Math.max(0, m - 1)];
        double[] y = new double[x.length];
        if (m == 1) {
            for (int t = 0; t < x.length; t++) {
                y[t] = x[t] * b[0];
            }
            return y;
        }
        for (int t = 0; t < x.length; t++) {
            double xn = x[t];
            double yn = state[0] + b[0] * xn;
            for (int k = 1; k < m - 1; k++) {
                state[k - 1] = state[k] + xn * b[k] - yn * a[k];
            }
            state[m - 2] = xn * b[m - 1] - yn * a[m - 1];
            y[t] = yn;
        }
        return y;
    }

    /** Filters {@code x} started in steady state for a constant input equal to {@code x[0]}. */
    public double[] filterSteadyState(double[] x) {
        if (zi == null) {
            throw new IllegalStateException("no zi given");
        }
        double[] z = new double[zi.length];
        double x0 = x.length > 0 ? x[0] : 0.0;
        for (int k = 0; k < z.length; k++) {
            z[k] = zi[k] * x0;
        }
        return filter(x, z);
    }

    /**
     * Zero-phase forward-backward filtering as {@code scipy.signal.filtfilt(b, a, x, padlen=padlen)}
     * (odd extension, lfilter_zi initial conditions scaled by the first sample of each pass).
     */
    public double[] filtfilt(double[] x, int padlen) {
        int p = Math.max(0, Math.min(padlen, x.length - 1));
        double[] ext = Signals.oddExtend(x, p);
        double[] y = filterSteadyState(ext);
        y = Signals.reverse(y);
        y = filterSteadyState(y);
        y = Signals.reverse(y);
        return Signals.slice(y, p, p + x.length);
    }
}
