package org.ecgnet.core;

import java.util.List;

/**
 * Physiological prior maps (ecgnet_tf/preprocess/priors.py): 1 on the zones [r + a, r + b]
 * (inclusive, in samples) around each R peak r, 0 elsewhere, softened by the normalised Hann taper
 * ({@code np.convolve(mask, taper, "same")}) and clipped to [0, 1]. Zones and taper come from the
 * config's "prior" object; kind "none" gives all ones, kind "beat" centres on W / 2.
 *
 * <p>Each value is then rounded to IEEE half precision (float16, round-to-nearest-even) and kept
 * as a float, like {@code ecgnet_tf.tasks.inputs.round_prior}
 * ({@code prior.astype(np.float16).astype(np.float32)}): the model was trained on priors stored at
 * float16 precision, and training, evaluation, the monitor and the golden vectors all feed it
 * those values, so the phone does too.
 */
public final class PriorMap {
    private final String kind;
    private final int[][] zones;
    private final double[] taper;

    public PriorMap(String kind, int[][] zones, double[] taper) {
        this.kind = kind;
        this.zones = zones;
        this.taper = taper;
    }

    public static PriorMap fromConfig(Object spec) {
        List<Object> z = Json.list(Json.get(spec, "zones"));
        int[][] zones = new int[z.size()][];
        for (int k = 0; k < zones.length; k++) {
            zones[k] = Json.ints(z.get(k));
        }
        Object t = Json.get(spec, "taper");
        return new PriorMap(Json.str(spec, "kind"), zones, t == null ? null : Json.doubles(t));
    }

    public String kind() {
        return kind;
    }

    /** Prior map of n samples for R peaks {@code rpeaks} (relative to the window start; null: beat centre). */
    public float[] map(int[] rpeaks, int n) {
        float[] out = new float[n];
        if ("none".equals(kind)) {
            java.util.Arrays.fill(out, 1f);
            return out;
        }
        int[] r = rpeaks;
        if (r == null) {
            if (!"beat".equals(kind)) {
                throw new IllegalArgumentException("prior kind " + kind + " needs R peaks");
            }
            r = new int[] {n / 2};
        }
        int[] diff = new int[n + 1];
        for (int[] zone : zones) {
            for (int peak : r) {
                int a = Math.max(0, Math.min(n, peak + zone[0]));
                int b = Math.max(0, Math.min(n, peak + zone[1] + 1));
                if (b > a) {
                    diff[a] += 1;
                    diff[b] -= 1;
                }
            }
        }
        double[] mask = new double[n];
        int run = 0;
        for (int t = 0; t < n; t++) {
            run += diff[t];
            mask[t] = run > 0 ? 1.0 : 0.0;
        }
        if (taper != null) {
            mask = convolveSame(mask, taper);
        }
        for (int t = 0; t < n; t++) {
            out[t] = toHalfPrecision((float) Math.max(0.0, Math.min(1.0, mask[t])));
        }
        return out;
    }

    /**
     * {@code v} rounded to the nearest IEEE 754 half-precision (float16) value, ties to even, as a
     * float: numpy's {@code np.float32(v).astype(np.float16)}. Java 17 has no
     * {@code Float.floatToFloat16}, so the rounding is done on the grid of halves: the spacing is
     * 2^(e - 10) for a normal half with exponent e (|v| in [2^e, 2^(e+1)), e >= -14) and 2^-24 for
     * subnormals (|v| < 2^-14); {@link Math#rint} rounds half to even. Values beyond the half range
     * (|v| >= 65520) become infinite; NaN stays NaN.
     */
    static float toHalfPrecision(float v) {
        if (Float.isNaN(v) || Float.isInfinite(v) || v == 0f) {
            return v;
        }
        double x = v;  // exact: every float is a double, and the scaled values below are exact too
        int e = Math.max(Math.getExponent(x), -14);
        double ulp = Math.scalb(1.0, e - 10);
        double r = Math.rint(x / ulp) * ulp;
        if (Math.abs(r) > 65504.0) {
            return v > 0 ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
        }
        return (float) r;
    }

    /** np.convolve(a, v, "same") for len(a) >= len(v). */
    static double[] convolveSame(double[] a, double[] v) {
        int n = a.length, k = v.length;
        int off = (k - 1) / 2;
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            int m = i + off;  // index into the full convolution
            double acc = 0.0;
            for (int j = 0; j < k; j++) {
                int t = m - j;
                if (t >= 0 && t < n) {
                    acc += a[t] * v[j];
                }
            }
            out[i] = acc;
        }
        return out;
    }
}
