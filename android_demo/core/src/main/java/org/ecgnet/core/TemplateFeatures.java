package org.ecgnet.core;

import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * Beat-template features per beat, the "morph" input of beat models: a port of
 * {@code ecgnet_tf.preprocess.TemplateTracker} / {@code compare_to_template}, built from the
 * {@code "morph"} section of {@code pipeline_config.json}.
 *
 * <p>Each beat's segment (lead 0 of its beat window, in mV, {@code preS} before to {@code postS}
 * after the R peak, minus the median of its first {@code baselineS}) is compared with the template:
 * the sample-wise median of the previous {@code historyBeats} segments (the first beat is compared
 * with itself). Columns (see {@link #NAMES}, all dimensionless): Pearson correlation over the QRS zone
 * ({@code |t| <= qrsS}) and over the segment, RMS deviation, QRS amplitude ratio, QRS width ratio,
 * largest QRS deviation, mean QRS and ST-T deviations; deviations in units of the template's QRS
 * peak-to-peak amplitude (at least {@code minAmplitudeMv}). Values are computed in float64 in numpy's
 * order (pairwise sums as numpy's; dot products may differ from BLAS in the last bits), NaN becomes 0,
 * each is clipped into {@code [-clip, clip]} and rounded to float32.
 */
public final class TemplateFeatures {
    /** Column names, in order. */
    public static final String[] NAMES = {
        "corr_qrs", "corr_wide", "rms_dev", "amp_ratio", "width_ratio", "max_dev_qrs", "mean_dev_qrs", "mean_dev_st",
    };
    /** Features per beat. */
    public static final int F = NAMES.length;

    private final double fs;
    private final int historyBeats;
    private final int pre;
    private final int post;
    private final int qrsLo;  // QRS zone [qrsLo, qrsHi) of the segment
    private final int qrsHi;
    private final int base;
    private final double minAmplitude;
    private final double clip;
    private final ArrayDeque<double[]> history = new ArrayDeque<>();

    /**
     * @param fs rate of the beat windows (Hz)
     * @param historyBeats previous beats in the template (at least 1)
     * @param preS segment start before the R peak (s)
     * @param postS segment end after the R peak (s)
     * @param qrsS half-width of the QRS zone (s), at most preS and postS
     * @param baselineS leading part of the segment whose median is its baseline (s)
     * @param minAmplitudeMv floor of the template's QRS amplitude (mV)
     * @param clip every feature is clipped into [-clip, clip]
     */
    public TemplateFeatures(double fs, int historyBeats, double preS, double postS, double qrsS, double baselineS,
                            double minAmplitudeMv, double clip) {
        if (!(fs > 0) || historyBeats < 1) {
            throw new IllegalArgumentException("fs and historyBeats must be positive, got " + fs + ", " + historyBeats);
        }
        if (!(0 < qrsS && qrsS <= preS && qrsS <= postS && 0 < baselineS && baselineS < preS - qrsS + 1e-12)) {
            throw new IllegalArgumentException("need 0 < qrsS <= preS, postS and 0 < baselineS <= preS - qrsS");
        }
        if (!(minAmplitudeMv > 0 && clip > 0)) {
            throw new IllegalArgumentException("minAmplitudeMv and clip must be positive");
        }
        this.fs = fs;
        this.historyBeats = historyBeats;
        pre = samples(preS);
        post = samples(postS);
        int q = samples(qrsS);
        qrsLo = pre - q;
        qrsHi = pre + q + 1;
        base = Math.max(1, samples(baselineS));
        minAmplitude = minAmplitudeMv;
        this.clip = clip;
    }

    /** A tracker with these settings and an empty history. */
    public TemplateFeatures fresh() {
        return new TemplateFeatures(this);
    }

    private TemplateFeatures(TemplateFeatures o) {
        fs = o.fs;
        historyBeats = o.historyBeats;
        pre = o.pre;
        post = o.post;
        qrsLo = o.qrsLo;
        qrsHi = o.qrsHi;
        base = o.base;
        minAmplitude = o.minAmplitude;
        clip = o.clip;
    }

    /** From the {@code "morph"} section of pipeline_config.json; its feature names must be {@link #NAMES}. */
    public static TemplateFeatures fromConfig(Object spec) {
        Json.requireFeatures(spec, NAMES, "template features");
        return new TemplateFeatures(Json.num(spec, "fs"), Json.integer(spec, "history_beats"), Json.num(spec, "pre_s"),
                Json.num(spec, "post_s"), Json.num(spec, "qrs_s"), Json.num(spec, "baseline_s"),
                Json.num(spec, "min_amplitude_mv"), Json.num(spec, "clip"));
    }

    /** Python's int(round(s * fs)): round half to even. */
    private int samples(double s) {
        return (int) Math.rint(s * fs);
    }

    /** Rate of the beat windows (Hz). */
    public double rate() {
        return fs;
    }

    /** Samples per segment. */
    public int segmentLength() {
        return pre + post;
    }

    /** Beats pushed since the last {@link #reset()} that the template remembers (at most historyBeats). */
    public int historySize() {
        return history.size();
    }

    /** The segment (float64, mV) of one beat window's lead 0 ({@code window.length} samples, R peak at the middle). */
    public double[] segment(float[] window) {
        int c = window.length / 2;
        if (c - pre < 0 || c + post > window.length) {
            throw new IllegalArgumentException("windows of " + window.length + " samples are too short for a "
                    + (pre + post) + "-sample segment");
        }
        double[] seg = new double[pre + post];
        for (int k = 0; k < seg.length; k++) {
            seg[k] = window[c - pre + k];
        }
        return seg;
    }

    /** Forget every beat (start of a new record or after a gap in the stream). */
    public void reset() {
        history.clear();
    }

    /**
     * Features [F] (float32) of the next beat, whose segment ({@link #segment}, {@link #segmentLength()}
     * samples) this is, against the median of the previous beats; then the segment joins the history.
     */
    public float[] push(double[] segment) {
        if (segment.length != pre + post) {
            throw new IllegalArgumentException("segment of " + segment.length + " samples, expected " + (pre + post));
        }
        double b = Signals.median(Arrays.copyOf(segment, base));
        double[] seg = new double[segment.length];
        for (int k = 0; k < seg.length; k++) {
            seg[k] = segment[k] - b;
        }
        double[] template = history.isEmpty() ? seg : template();
        float[] out = compare(seg, template);
        if (history.size() == historyBeats) {
            history.removeFirst();
        }
        history.addLast(seg);
        return out;
    }

    /**
     * Rows [n][F] (float32) of one record's beat windows' lead 0 [n][W] (R peak at W / 2, mV, beat order):
     * Python's {@code template_features(windows, fs)}. Uses a fresh history; this tracker's is untouched.
     */
    public float[][] compute(float[][] windows) {
        TemplateFeatures t = fresh();
        float[][] out = new float[windows.length][];
        for (int i = 0; i < windows.length; i++) {
            out[i] = t.push(t.segment(windows[i]));
        }
        return out;
    }

    private double[] template() {
        int s = pre + post;
        double[] t = new double[s];
        double[] col = new double[history.size()];
        for (int k = 0; k < s; k++) {
            int j = 0;
            for (double[] h : history) {
                col[j++] = h[k];
            }
            t[k] = Signals.median(col);
        }
        return t;
    }

    /** Features of a baseline-removed segment against a template, as compare_to_template. */
    float[] compare(double[] seg, double[] template) {
        int s = seg.length;
        double amp = Math.max(ptp(template, qrsLo, qrsHi), minAmplitude);
        double[] d = new double[s];
        double[] d2 = new double[s];
        double maxQrs = 0.0;
        for (int k = 0; k < s; k++) {
            d[k] = (seg[k] - template[k]) / amp;
            d2[k] = d[k] * d[k];
        }
        for (int k = qrsLo; k < qrsHi; k++) {
            maxQrs = Math.max(maxQrs, Math.abs(d[k]));
        }
        double[] f = {
            corr(seg, template, qrsLo, qrsHi),
            corr(seg, template, 0, s),
            Math.sqrt(mean(d2, 0, s)),
            ptp(seg, qrsLo, qrsHi) / amp,
            (double) width(seg, qrsLo, qrsHi) / Math.max(width(template, qrsLo, qrsHi), 1),
            maxQrs,
            mean(d, qrsLo, qrsHi),
            mean(d, qrsHi, s),
        };
        float[] out = new float[F];
        for (int j = 0; j < F; j++) {
            double v = Double.isNaN(f[j]) ? 0.0 : f[j];
            out[j] = (float) Math.min(Math.max(v, -clip), clip);
        }
        return out;
    }

    private static double ptp(double[] x, int lo, int hi) {
        double mn = x[lo];
        double mx = x[lo];
        for (int k = lo + 1; k < hi; k++) {
            mn = Math.min(mn, x[k]);
            mx = Math.max(mx, x[k]);
        }
        return mx - mn;
    }

    private static double mean(double[] x, int lo, int hi) {
        return Signals.pairwiseSum(x, lo, hi - lo) / (hi - lo);
    }

    /** Pearson correlation of a[lo, hi) and b[lo, hi); 1 when either is flat. */
    private static double corr(double[] a, double[] b, int lo, int hi) {
        int n = hi - lo;
        double ma = mean(a, lo, hi);
        double mb = mean(b, lo, hi);
        double[] aa = new double[n];
        double[] bb = new double[n];
        double[] ab = new double[n];
        for (int k = 0; k < n; k++) {
            double x = a[lo + k] - ma;
            double y = b[lo + k] - mb;
            aa[k] = x * x;
            bb[k] = y * y;
            ab[k] = x * y;
        }
        double den = Math.sqrt(Signals.pairwiseSum(aa, 0, n) * Signals.pairwiseSum(bb, 0, n));
        return den > 1e-12 ? Signals.pairwiseSum(ab, 0, n) / den : 1.0;
    }

    /** Samples of x[lo, hi) whose absolute slope exceeds 30 % of its maximum (1 when flat). */
    private static int width(double[] x, int lo, int hi) {
        double top = 0.0;
        for (int k = lo + 1; k < hi; k++) {
            top = Math.max(top, Math.abs(x[k] - x[k - 1]));
        }
        if (!(top > 0)) {
            return 1;
        }
        int count = 0;
        for (int k = lo + 1; k < hi; k++) {
            if (Math.abs(x[k] - x[k - 1]) > 0.3 * top) {
                count++;
            }
        }
        return count;
    }
}
