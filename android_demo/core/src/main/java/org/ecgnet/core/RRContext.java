package org.ecgnet.core;

import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * How irregular the recent rhythm is, beat by beat: a port of {@code ecgnet_tf.preprocess.RRContextTracker},
 * built from the {@code "context"} object of the {@code "rr"} section of {@code pipeline_config.json}.
 *
 * <p>{@link #push(double)} takes each beat's pre-RR interval (seconds) in order and returns that beat's row
 * from the {@code history} beats pushed before it (the beat's own interval never enters it): the
 * coefficient of variation of those intervals and the mean absolute difference of successive ones, both
 * over their mean (dimensionless; {@link #NAMES}). Rows are 0 while fewer than {@code minHistory} beats
 * are known. Sums follow numpy's pairwise summation and every value is rounded to float32 at the end, so
 * rows equal Python's bit for bit.
 */
public final class RRContext {
    /** Column names, in order. */
    public static final String[] NAMES = {"recent_sd_ratio", "recent_msd_ratio"};

    private final int history;
    private final int minHistory;
    private final ArrayDeque<Double> h = new ArrayDeque<>();

    /**
     * @param history previous beats whose pre-RR intervals form the context (at least 2)
     * @param minHistory fewer known previous beats give a row of zeros (2 .. history)
     */
    public RRContext(int history, int minHistory) {
        if (history < 2) {
            throw new IllegalArgumentException("history must be at least 2, got " + history);
        }
        if (minHistory < 2 || minHistory > history) {
            throw new IllegalArgumentException("minHistory must lie in 2.." + history + ", got " + minHistory);
        }
        this.history = history;
        this.minHistory = minHistory;
    }

    /** From the {@code "context"} object; its feature names must be {@link #NAMES}. */
    public static RRContext fromConfig(Object spec) {
        Json.requireFeatures(spec, NAMES, "RR context features");
        return new RRContext(Json.integer(spec, "history"), Json.integer(spec, "min_history"));
    }

    /** The same settings, no beats known. */
    public RRContext fresh() {
        return new RRContext(history, minHistory);
    }

    /**
     * The row of the next beat, whose pre-RR interval is {@code preRrS} (s), then remembers that interval.
     *
     * @throws IllegalArgumentException when the interval is negative or not finite
     */
    public float[] push(double preRrS) {
        if (!(preRrS >= 0) || Double.isInfinite(preRrS)) {
            throw new IllegalArgumentException("pre-RR must be a finite, non-negative number of seconds, got "
                    + preRrS);
        }
        float[] row = h.size() < minHistory ? new float[] {0f, 0f} : row();
        if (h.size() == history) {
            h.removeFirst();
        }
        h.addLast(preRrS);
        return row;
    }

    private float[] row() {
        int n = h.size();
        double[] a = new double[n];
        Iterator<Double> it = h.iterator();
        for (int i = 0; i < n; i++) {
            a[i] = it.next();
        }
        double mean = Signals.pairwiseSum(a, 0, n) / n;
        if (!(mean > 0)) {
            return new float[] {0f, 0f};
        }
        double[] sq = new double[n];
        for (int i = 0; i < n; i++) {
            double d = a[i] - mean;
            sq[i] = d * d;
        }
        double sd = Math.sqrt(Signals.pairwiseSum(sq, 0, n) / n);
        double[] diffs = new double[n - 1];
        for (int i = 0; i + 1 < n; i++) {
            diffs[i] = Math.abs(a[i + 1] - a[i]);
        }
        double msd = Signals.pairwiseSum(diffs, 0, n - 1) / (n - 1);
        return new float[] {(float) (sd / mean), (float) (msd / mean)};
    }
}
