package org.ecgnet.core;

/** Small array helpers shared by the filters (numpy semantics noted where they matter). */
public final class Signals {
    private Signals() {
    }

    /** Odd extension by {@code p} samples on both sides, as scipy's {@code odd_ext}. */
    public static double[] oddExtend(double[] x, int p) {
        int n = x.length;
        if (p <= 0) {
            return x.clone();
        }
        if (p > n - 1) {
            throw new IllegalArgumentException("pad " + p + " needs at least " + (p + 1) + " samples, got " + n);
        }
        double[] out = new double[n + 2 * p];
        for (int k = 0; k < p; k++) {
            out[k] = 2 * x[0] - x[p - k];
            out[p + n + k] = 2 * x[n - 1] - x[n - 2 - k];
        }
        System.arraycopy(x, 0, out, p, n);
        return out;
    }

    public static double[] reverse(double[] x) {
        double[] out = new double[x.length];
        for (int k = 0; k < x.length; k++) {
            out[k] = x[x.length - 1 - k];
        }
        return out;
    }

    public static double[] slice(double[] x, int from, int to) {
        double[] out = new double[to - from];
        System.arraycopy(x, from, out, 0, to - from);
        return out;
    }

    /** Sum in numpy's pairwise order (contiguous float64 {@code np.add.reduce}), for identical means. */
    public static double pairwiseSum(double[] a, int off, int n) {
        if (n < 8) {
            double res = 0.0;  // numpy starts from -0.0 and adds; identical for non-empty sums
            for (int k = 0; k < n; k++) {
                res += a[off + k];
            }
            return n == 0 ? 0.0 : res;
        } else if (n <= 128) {
            double[] r = new double[8];
            for (int k = 0; k < 8; k++) {
                r[k] = a[off + k];
            }
            int k;
            for (k = 8; k < n - (n % 8); k += 8) {
                for (int j = 0; j < 8; j++) {
                    r[j] += a[off + k + j];
                }
            }
            double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; k < n; k++) {
                res += a[off + k];
            }
            return res;
        } else {
            int n2 = n / 2;
            n2 -= n2 % 8;
            return pairwiseSum(a, off, n2) + pairwiseSum(a, off + n2, n - n2);
        }
    }

    /** {@code np.mean} of the first {@code n} values. */
    public static double mean(double[] a, int n) {
        return pairwiseSum(a, 0, n) / n;
    }

    /** {@code np.median} (average of the two middle values for an even count). */
    public static double median(double[] v) {
        if (v.length == 0) {
            return Double.NaN;
        }
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        int m = s.length / 2;
        return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2.0;
    }

    public static float[] toFloat(double[] x) {
        float[] out = new float[x.length];
        for (int k = 0; k < x.length; k++) {
            out[k] = (float) x[k];
        }
        return out;
    }

    public static double[] toDouble(float[] x) {
        double[] out = new double[x.length];
        for (int k = 0; k < x.length; k++) {
            out[k] = x[k];
        }
        return out;
    }
}
