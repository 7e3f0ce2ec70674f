package org.ecgnet.core;

/**
 * Rational resampling by up/down with the zero-phase FIR of {@code scipy.signal.resample_poly(x, up,
 * down, padtype="line")}. The taps (firwin Kaiser design times up, with scipy's leading zero padding)
 * and the number of leading outputs to drop come from the pipeline config. The signal is extended
 * beyond both ends by the straight line through its first and last samples (upfirdn mode "line").
 */
public final class PolyphaseResampler {
    private final int up;
    private final int down;
    private final double[] taps;
    private final int preRemove;

    public PolyphaseResampler(int up, int down, double[] taps, int preRemove) {
        if (up < 1 || down < 1) {
            throw new IllegalArgumentException("up and down must be >= 1");
        }
        this.up = up;
        this.down = down;
        this.taps = taps;
        this.preRemove = preRemove;
    }

    public static PolyphaseResampler fromConfig(Object spec) {
        if (!"line".equals(Json.str(spec, "padtype"))) {
            throw new IllegalArgumentException("only padtype 'line' is ported");
        }
        return new PolyphaseResampler(Json.integer(spec, "up"), Json.integer(spec, "down"),
                Json.doubles(Json.get(spec, "taps")), Json.integer(spec, "n_pre_remove"));
    }

    /** Output length ceil(n * up / down). */
    public int outputLength(int n) {
        long t = (long) n * up;
        return (int) (t / down + (t % down != 0 ? 1 : 0));
    }

    public double[] resample(double[] x) {
        int n = x.length;
        int nOut = outputLength(n);
        double[] y = new double[nOut];
        if (n == 0) {
            return y;
        }
        double slope = n > 1 ? (x[n - 1] - x[0]) / (n - 1) : 0.0;
        for (int m = 0; m < nOut; m++) {
            long i = (long) (m + preRemove) * down;  // position in the upsampled signal
            int k0 = (int) (i % up);
            double acc = 0.0;
            for (int k = k0; k < taps.length; k += up) {
                long j = (i - k) / up;  // input sample index (exact: i - k is a multiple of up)
                double v;
                if (j < 0) {
                    v = x[0] + j * slope;
                } else if (j >= n) {
                    v = x[n - 1] + (j - n + 1) * slope;
                } else {
                    v = x[(int) j];
                }
                acc += taps[k] * v;
            }
            y[m] = acc;
        }
        return y;
    }
}
