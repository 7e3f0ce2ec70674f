package org.ecgnet.core;

import java.util.ArrayList;
import java.util.List;

/**
 * The phone-side inference preprocessing, built from {@code pipeline_config.json} (written by
 * {@code python -m export.golden}): baseline removal -> notch (optional) -> band-pass at the input
 * rate -> polyphase resampling to the model rate (then float32) -> R peaks -> windows -> z-score
 * and prior map per window (and, for beat models with an RR-interval input, the RR features of the
 * window's centre beat over all detected R peaks; for those with a beat-template input, the template
 * features of the window's beat against the previous beat windows). Mirrors
 * {@code ecgnet_tf.preprocess.preprocess_signal} and {@code ecgnet_tf.tasks.record_inputs}. The config
 * is valid for one input rate ({@link #inputRate()}); regenerate it with {@code --fs} for other rates.
 */
public final class Pipeline {
    private final double fsIn;
    private final double fsOut;
    private final List<String> classes;
    private final int nLeads;
    private final int rpeakLead;
    private final boolean multilabel;
    private final KalmanBaseline kalman;
    private final SosFilter highpass;
    private final Lfilter notch;
    private final int notchPad;
    private final SosFilter band;
    private final PolyphaseResampler resampler;
    private final PanTompkins detector;
    private final ZScore zscore;
    private final PriorMap prior;
    private final Segmenter segmenter;
    private final RRFeatures rr;
    private final TemplateFeatures morph;
    private final Routing routing;
    private final Decision decision;

    /** Everything one run produced, stage by stage (lead-major arrays [C][n]). */
    public static final class Result {
        public double[][] afterBaseline;
        public double[][] afterNotch;
        public double[][] afterBandpass;
        public float[][] resampled;
        public int[] rpeaks;
        public List<ModelWindow> windows = new ArrayList<>();
        /** Wall time of the preprocessing in milliseconds (for the app's latency display). */
        public double millis;
    }

    /**
     * A model-ready window: z-scored ECG [C][W], prior map [W], its place in the record and, for
     * models with the "rr" input, the RR features [F] of its centre beat (seconds and ratios, see
     * {@link RRFeatures}) and for models with the "morph" input its beat-template features [F]
     * (dimensionless, see {@link TemplateFeatures}); each is null for models without that input.
     */
    public static final class ModelWindow {
        public final int start;
        public final int[] rpeaks;
        public final float[][] ecg;
        public final float[] prior;
        public final float[] rr;
        public final float[] morph;

        ModelWindow(int start, int[] rpeaks, float[][] ecg, float[] prior, float[] rr, float[] morph) {
            this.start = start;
            this.rpeaks = rpeaks;
            this.ecg = ecg;
            this.prior = prior;
            this.rr = rr;
            this.morph = morph;
        }

        /** The "ecg" input tensor [1][W][C] (time-major, as the model takes it). */
        public float[][][] ecgInput() {
            int c = ecg.length, w = ecg[0].length;
            float[][][] out = new float[1][w][c];
            for (int t = 0; t < w; t++) {
                for (int l = 0; l < c; l++) {
                    out[0][t][l] = ecg[l][t];
                }
            }
            return out;
        }

        /** The "prior" input tensor [1][W][1]. */
        public float[][][] priorInput() {
            float[][][] out = new float[1][prior.length][1];
            for (int t = 0; t < prior.length; t++) {
                out[0][t][0] = prior[t];
            }
            return out;
        }

        /** The "rr" input tensor [1][F], or null when the model has no RR input. */
        public float[][] rrInput() {
            return rr == null ? null : new float[][] {rr.clone()};
        }

        /** The "morph" input tensor [1][F], or null when the model has no beat-template input. */
        public float[][] morphInput() {
            return morph == null ? null : new float[][] {morph.clone()};
        }
    }

    public Pipeline(Object cfg) {
        if (!"ecgnet-pipeline/1".equals(Json.str(cfg, "format"))) {
            throw new IllegalArgumentException("not an ecgnet pipeline config (format " + Json.str(cfg, "format") + ")");
        }
        fsIn = Json.num(cfg, "fs_in");
        fsOut = Json.num(cfg, "fs_out");
        classes = Json.strings(Json.get(cfg, "classes"));
        nLeads = Json.integer(cfg, "n_leads");
        multilabel = Boolean.TRUE.equals(Json.get(cfg, "multilabel"));
        Object base = Json.get(cfg, "baseline");
        String method = Json.str(base, "method");
        if ("kalman".equals(method)) {
            kalman = KalmanBaseline.fromConfig(base);
            highpass = null;
        } else if ("highpass".equals(method)) {
            kalman = null;
            highpass = SosFilter.fromConfig(base);
        } else if ("none".equals(method)) {
            kalman = null;
            highpass = null;
        } else {
            throw new IllegalArgumentException("baseline method " + method + " is not ported");
        }
        Object n = Json.get(cfg, "notch");
        notch = n == null ? null : new Lfilter(Json.doubles(Json.get(n, "b")), Json.doubles(Json.get(n, "a")),
                Json.doubles(Json.get(n, "zi")));
        notchPad = n == null ? 0 : Json.integer(n, "padlen");
        Object b = Json.get(cfg, "bandpass");
        band = b == null ? null : SosFilter.fromConfig(b);
        Object r = Json.get(cfg, "resample");
        resampler = r == null ? null : PolyphaseResampler.fromConfig(r);
        Object rp = Json.get(cfg, "rpeaks");
        detector = new PanTompkins(rp);
        rpeakLead = Json.integer(rp, "lead");
        zscore = ZScore.fromConfig(Json.get(cfg, "normalization"));
        prior = PriorMap.fromConfig(Json.get(cfg, "prior"));
        segmenter = Segmenter.fromConfig(Json.get(cfg, "window"));
        Object rrSpec = Json.get(cfg, "rr");
        rr = rrSpec == null ? null : RRFeatures.fromConfig(rrSpec);
        if (rr != null && (!segmenter.beatMode() || rr.rate() != fsOut)) {
            throw new IllegalArgumentException("RR features need beat windows and beat positions at the model rate "
                    + fsOut + " Hz (config: " + rr.rate() + " Hz)");
        }
        Object morphSpec = Json.get(cfg, "morph");
        morph = morphSpec == null ? null : TemplateFeatures.fromConfig(morphSpec);
        if (morph != null && (!segmenter.beatMode() || morph.rate() != fsOut
                || morph.segmentLength() > segmenter.length())) {
            throw new IllegalArgumentException("template features need beat windows of at least "
                    + morph.segmentLength() + " samples at the model rate " + fsOut + " Hz (config: " + morph.rate()
                    + " Hz)");
        }
        Object rt = Json.get(cfg, "routing");
        routing = rt == null ? new Routing(0.95, 0.85) : new Routing(Json.num(rt, "auto_report"), Json.num(rt, "review"));
        decision = Decision.fromJson(Json.get(cfg, "decision"));
        if (zscore.leads() != nLeads) {
            throw new IllegalArgumentException("normalization has " + zscore.leads() + " leads, task " + nLeads);
        }
    }

    public static Pipeline fromJson(String text) {
        return new Pipeline(Json.parse(text));
    }

    public double inputRate() {
        return fsIn;
    }

    public double outputRate() {
        return fsOut;
    }

    public List<String> classes() {
        return classes;
    }

    public int leads() {
        return nLeads;
    }

    public boolean multilabel() {
        return multilabel;
    }

    public int windowLength() {
        return segmenter.length();
    }

    public Routing routing() {
        return routing;
    }

    /** The run's decision rule (the config's "decision"; {@link Decision#NONE} when absent). */
    public Decision decision() {
        return decision;
    }

    public PanTompkins detector() {
        return detector;
    }

    public PriorMap priorMap() {
        return prior;
    }

    /** True when the model takes the "rr" input (the config has an "rr" section). */
    public boolean hasRr() {
        return rr != null;
    }

    /** The RR-feature calculator, or null for models without the "rr" input. */
    public RRFeatures rrFeatures() {
        return rr;
    }

    /** True when the model takes the "morph" input (the config has a "morph" section). */
    public boolean hasMorph() {
        return morph != null;
    }

    /** The beat-template calculator, or null for models without the "morph" input. */
    public TemplateFeatures templateFeatures() {
        return morph;
    }

    /** Stage 1: baseline removal of one lead (Kalman smoother, high-pass or none). */
    public double[] removeBaseline(double[] x) {
        if (kalman != null) {
            return kalman.remove(x);
        }
        return highpass != null ? highpass.filtfilt(x) : x.clone();
    }

    /** Stage 2 (optional): mains notch of one lead; identity when the config has none. */
    public double[] notch(double[] x) {
        return notch != null ? notch.filtfilt(x, notchPad) : x.clone();
    }

    /** Stage 3: zero-phase Butterworth band-pass of one lead; identity when the config has none. */
    public double[] bandpass(double[] x) {
        return band != null ? band.filtfilt(x) : x.clone();
    }

    /** Stage 4: resampling of one lead to the model rate, then float32 (as preprocess_signal returns). */
    public float[] resample(double[] x) {
        return Signals.toFloat(resampler != null ? resampler.resample(x) : x);
    }

    /** Stage 5: R peaks on the configured lead of the resampled record [C][m]. */
    public int[] detectRpeaks(float[][] resampled) {
        return detector.detect(Signals.toDouble(resampled[rpeakLead]));
    }

    /**
     * Stage 6: model windows (z-scored, with prior maps) of the resampled record, with sorted R peaks
     * {@code rpeaks} (samples at the model rate). For models with the "rr" input every (beat) window
     * also gets the RR row of its centre beat, computed over all {@code rpeaks} as Python's
     * {@code rr_features(rpeaks)[kept]}. For models with the "morph" input every (beat) window gets
     * the template features of its lead 0 (not z-scored) against the previous windows of this call, as
     * Python's {@code template_features(windows, fs)}.
     */
    public List<ModelWindow> windows(float[][] resampled, int[] rpeaks) {
        List<ModelWindow> out = new ArrayList<>();
        float[][] rows = rr != null ? rr.compute(rpeaks) : null;
        TemplateFeatures tracker = morph != null ? morph.fresh() : null;
        int half = segmenter.length() / 2;
        int beat = 0;  // beat windows come in R-peak order: the next window's centre beat is at or after this
        for (Segmenter.Window w : segmenter.cut(resampled, rpeaks)) {
            int n = w.x[0].length;
            float[] p = segmenter.beatMode() ? prior.map(null, n) : prior.map(w.rpeaks, n);
            float[] row = null;
            if (rows != null) {
                while (rpeaks[beat] - half != w.start) {
                    beat++;
                }
                row = rows[beat++];
            }
            float[] shape = tracker != null ? tracker.push(tracker.segment(w.x[0])) : null;
            out.add(new ModelWindow(w.start, w.rpeaks, zscore.transform(w.x), p, row, shape));
        }
        return out;
    }

    /** Preprocesses one lead-major recording [C][n] in mV sampled at {@code fs} Hz. */
    public Result run(double[][] leads, double fs) {
        long t0 = System.nanoTime();
        if (Math.abs(fs - fsIn) > 1e-9 * fsIn) {
            throw new IllegalArgumentException("this pipeline config is for " + fsIn + " Hz input, got " + fs
                    + " Hz (regenerate it with python -m export.golden --fs " + fs + ")");
        }
        if (leads.length != nLeads) {
            throw new IllegalArgumentException("expected " + nLeads + " leads, got " + leads.length);
        }
        Result res = new Result();
        int c = leads.length;
        res.afterBaseline = new double[c][];
        res.afterNotch = notch != null ? new double[c][] : null;
        res.afterBandpass = new double[c][];
        res.resampled = new float[c][];
        for (int l = 0; l < c; l++) {
            double[] x = removeBaseline(leads[l]);
            res.afterBaseline[l] = x;
            if (notch != null) {
                x = notch(x);
                res.afterNotch[l] = x;
            }
            x = bandpass(x);
            res.afterBandpass[l] = x;
            res.resampled[l] = resample(x);
        }
        res.rpeaks = detectRpeaks(res.resampled);
        res.windows = windows(res.resampled, res.rpeaks);
        res.millis = (System.nanoTime() - t0) / 1e6;
        return res;
    }
}
