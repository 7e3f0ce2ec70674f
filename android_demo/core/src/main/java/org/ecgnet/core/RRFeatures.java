package org.ecgnet.core;


/**
 * RR-interval features per beat, the "rr" input of beat models: a port of
 * {@code ecgnet_tf.preprocess.rr_features}, built from the {@code "rr"} section of
 * {@code pipeline_config.json}.
 *
 * <p>Beat positions are sample indices at the model rate {@link #rate()} (the R peaks the pipeline
 * detects), sorted. Intervals {@code r[k] = (b[k] - b[k-1]) / fs} are in seconds; an interval is
 * plausible when {@code minRrS <= r <= maxRrS}. Columns of a beat's row (see {@link #NAMES}):
 * pre-RR and post-RR clipped into the plausible range (s), the local mean (last {@code localBeats}
 * plausible intervals ending before the beat's own pre-RR, s), the running mean (all of them, s),
 * and the ratios pre/local, post/pre, pre/running, local/running. Until a beat has a plausible
 * baseline interval both means are the warm-up RR: the first plausible interval if it ends at most
 * one beat after this one, else {@code defaultRrS}. Beat 0's pre-RR and the last beat's post-RR are
 * the beat's local mean. Everything is computed in float64 in numpy's order (sequential sums) and
 * each value is then rounded to float32, so rows equal Python's bit for bit.
 *
 * <p>With a {@link RRContext} (the section's {@code "context"} object, models whose "rr" input is 10
 * columns wide), each row continues with the recent rhythm's irregularity computed from the float32
 * pre-RR values of the beats before it, as Python's {@code rr_context(rows[:, 0])}.
 */
public final class RRFeatures {
    /** Column names, in order (seconds for {@code *_s}, dimensionless ratios otherwise). */
    public static final String[] NAMES = {
        "pre_rr_s", "post_rr_s", "local_rr_s", "running_rr_s",
        "pre_local_ratio", "post_pre_ratio", "pre_running_ratio", "local_running_ratio",
    };
    /** Features per beat. */
    public static final int F = NAMES.length;

    private final double fs;
    private final int localBeats;
    private final double minRrS;
    private final double maxRrS;
    private final double defaultRrS;
    private final RRContext context;

    /**
     * @param fs rate of the beat positions (Hz)
     * @param localBeats plausible intervals in the local mean (at least 1)
     * @param minRrS shortest plausible interval (s)
     * @param maxRrS longest plausible interval (s)
     * @param defaultRrS warm-up RR before any plausible interval is known (s)
     */
    public RRFeatures(double fs, int localBeats, double minRrS, double maxRrS, double defaultRrS) {
        this(fs, localBeats, minRrS, maxRrS, defaultRrS, null);
    }

    /**
     * As {@link #RRFeatures(double, int, double, double, double)}, each row followed by the columns of
     * {@code context} (null: none).
     */
    public RRFeatures(double fs, int localBeats, double minRrS, double maxRrS, double defaultRrS,
                      RRContext context) {
        if (!(fs > 0)) {
            throw new IllegalArgumentException("fs must be positive, got " + fs);
        }
        if (localBeats < 1) {
            throw new IllegalArgumentException("localBeats must be positive, got " + localBeats);
        }
        if (!(0 < minRrS && minRrS < maxRrS && minRrS <= defaultRrS && defaultRrS <= maxRrS)) {
            throw new IllegalArgumentException("need 0 < minRrS <= defaultRrS <= maxRrS and minRrS < maxRrS");
        }
        this.fs = fs;
        this.localBeats = localBeats;
        this.minRrS = minRrS;
        this.maxRrS = maxRrS;
        this.defaultRrS = defaultRrS;
        this.context = context;
    }

    /**
     * From the {@code "rr"} section of pipeline_config.json; its feature names must be {@link #NAMES}, and
     * its optional {@code "context"} object adds the {@link RRContext} columns.
     */
    public static RRFeatures fromConfig(Object spec) {
        Json.requireFeatures(spec, NAMES, "RR features");
        Object ctx = Json.get(spec, "context");
        return new RRFeatures(Json.num(spec, "fs"), Json.integer(spec, "local_beats"), Json.num(spec, "min_rr_s"),
                Json.num(spec, "max_rr_s"), Json.num(spec, "default_rr_s"),
                ctx == null ? null : RRContext.fromConfig(ctx));
    }

    /** Columns of a row: {@link #F}, plus the context's when there is one. */
    public int width() {
        return context == null ? F : F + RRContext.NAMES.length;
    }

    /** Rate of the beat positions (Hz). */
    public double rate() {
        return fs;
    }

    private boolean plausible(double r) {
        return minRrS <= r && r <= maxRrS;
    }

    private double clip(double r) {
        return Math.min(Math.max(r, minRrS), maxRrS);
    }

    /**
     * Rows [n][{@link #width()}] (float32) for the sorted beat positions {@code beats} (samples at
     * {@link #rate()}). Features of beat i use beats up to i+1 only (the context columns, beats before i).
     *
     * @throws IllegalArgumentException when the positions decrease
     */
    public float[][] compute(int[] beats) {
        int n = beats.length;
        float[][] out = new float[n][];
        if (n == 0) {
            return out;
        }
        double[] r = new double[n];  // r[k]: interval ending at beat k (s); r[0] unused
        boolean[] ok = new boolean[n];
        int plausibleCount = 0;
        for (int k = 1; k < n; k++) {
            long d = (long) beats[k] - beats[k - 1];
            if (d < 0) {
                throw new IllegalArgumentException("beat positions must be non-decreasing: " + beats[k] + " after "
                        + beats[k - 1]);
            }
            r[k] = (double) d / fs;
            ok[k] = plausible(r[k]);
            if (ok[k]) {
                plausibleCount++;
            }
        }
        // csum[j]: sequential sum of the first j plausible intervals (numpy's cumsum order)
        double[] csum = new double[plausibleCount + 1];
        int first = -1;  // index of the first plausible interval
        for (int k = 1, j = 0; k < n; k++) {
            if (ok[k]) {
                csum[j + 1] = csum[j] + r[k];
                j++;
                if (first < 0) {
                    first = k;
                }
            }
        }
        double[] local = new double[n];
        double[] running = new double[n];
        int c = 0;  // plausible intervals among r[1..i-1]: beat i's baseline
        for (int i = 0; i < n; i++) {
            if (i >= 2 && ok[i - 1]) {
                c++;
            }
            if (c == 0) {
                double warm = first >= 0 && i >= first - 1 ? r[first] : defaultRrS;
                local[i] = warm;
                running[i] = warm;
            } else {
                int m = Math.min(c, localBeats);
                running[i] = csum[c] / c;
                local[i] = (csum[c] - csum[c - m]) / m;
            }
        }
        RRContext ctx = context == null ? null : context.fresh();
        for (int i = 0; i < n; i++) {
            double pre = i == 0 ? local[i] : clip(r[i]);
            double post = i == n - 1 ? local[i] : clip(r[i + 1]);
            out[i] = row(pre, post, local[i], running[i]);
            if (ctx != null) {
                float[] cx = ctx.push(out[i][0]);  // the float32 pre-RR, as Python's rr_context(rows[:, 0])
                float[] wide = java.util.Arrays.copyOf(out[i], F + cx.length);
                System.arraycopy(cx, 0, wide, F, cx.length);
                out[i] = wide;
            }
        }
        return out;
    }

    /** One float32 row; the ratios are formed in float64 before the cast, as numpy does. */
    static float[] row(double pre, double post, double local, double running) {
        return new float[] {
            (float) pre, (float) post, (float) local, (float) running,
            (float) (pre / local), (float) (post / pre), (float) (pre / running), (float) (local / running),
        };
    }
}
