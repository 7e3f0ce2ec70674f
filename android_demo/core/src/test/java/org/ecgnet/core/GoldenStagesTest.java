package org.ecgnet.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.List;

import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * Each stage of the Java pipeline against the Python golden vectors. Stage tests feed the golden
 * output of the previous stage (so a failure points at one stage); {@link #endToEnd()} chains the
 * whole pipeline from the raw input. Tolerances: filters 1e-4 mV abs, R peaks exact (reported: the
 * Java port follows the same arithmetic, so no +-1 sample slack is needed), z-scored window 1e-3,
 * prior maps 1e-5, RR features (beat models with the "rr" input) exact at float32, beat-template
 * features (beat models with the "morph" input) 1e-5 (dot products are summed in another order than BLAS),
 * the decision rule on the golden model outputs (models with a class merge or class factors) exact.
 */
public class GoldenStagesTest {
    static final double FILTER_TOL = 1e-4;
    static final double Z_TOL = 1e-3;
    static final double PRIOR_TOL = 1e-5;
    static final double RR_TOL = 0.0;
    static final double MORPH_TOL = 1e-5;
    static final double DECISION_TOL = 0.0;
    static Pipeline pipeline;

    @BeforeClass
    public static void load() {
        pipeline = new Pipeline(Golden.CONFIG);
    }

    @AfterClass
    public static void report() {
        synchronized (Golden.REPORT) {
            for (java.util.Map.Entry<String, Double> e : Golden.REPORT.entrySet()) {
                System.out.printf("GOLDEN %-24s max_abs_diff %.3e%n", e.getKey(), e.getValue());
            }
        }
    }

    private static double[][] apply(double[][] in, java.util.function.UnaryOperator<double[]> f) {
        double[][] out = new double[in.length][];
        for (int c = 0; c < in.length; c++) {
            out[c] = f.apply(in[c]);
        }
        return out;
    }

    @Test
    public void configMatchesGolden() {
        assertEquals(Json.num(Golden.GOLDEN, "fs_in"), pipeline.inputRate(), 0.0);
        assertEquals(Json.num(Golden.GOLDEN, "fs_out"), pipeline.outputRate(), 0.0);
        assertEquals(Json.integer(Golden.GOLDEN, "n_leads"), pipeline.leads());
    }

    @Test
    public void baselineRemoval() {
        double[][] got = apply(Golden.stage("input"), pipeline::removeBaseline);
        Golden.record("after_baseline", Golden.assertClose("after_baseline", Golden.stage("after_baseline"), got, FILTER_TOL));
    }

    @Test
    public void notch() {
        if (!Golden.hasStage("after_notch")) {
            return;  // the run has no notch filter
        }
        double[][] got = apply(Golden.stage("after_baseline"), pipeline::notch);
        Golden.record("after_notch", Golden.assertClose("after_notch", Golden.stage("after_notch"), got, FILTER_TOL));
    }

    @Test
    public void bandpass() {
        double[][] in = Golden.stage(Golden.hasStage("after_notch") ? "after_notch" : "after_baseline");
        double[][] got = apply(in, pipeline::bandpass);
        Golden.record("after_bandpass", Golden.assertClose("after_bandpass", Golden.stage("after_bandpass"), got, FILTER_TOL));
    }

    @Test
    public void resampling() {
        double[][] in = Golden.stage("after_bandpass");
        double[][] got = apply(in, x -> Signals.toDouble(pipeline.resample(x)));
        Golden.record("resampled", Golden.assertClose("resampled", Golden.stage("resampled"), got, FILTER_TOL));
    }

    @Test
    public void rpeaks() {
        int[] got = pipeline.detectRpeaks(Golden.toFloat(Golden.stage("resampled")));
        int[] want = Golden.rpeaks();
        assertRpeaks("rpeaks", want, got);
    }

    static void assertRpeaks(String what, int[] want, int[] got) {
        if (want.length != got.length) {
            fail(what + ": " + got.length + " R peaks, expected " + want.length + "\n got " + java.util.Arrays.toString(got)
                    + "\nwant " + java.util.Arrays.toString(want));
        }
        int worst = 0;
        for (int k = 0; k < want.length; k++) {
            worst = Math.max(worst, Math.abs(want[k] - got[k]));
        }
        Golden.record(what + " (samples)", worst);
        assertArrayEquals(what + ": R peak indices differ", want, got);
    }

    @Test
    public void windowsAndPriors() {
        float[][] xr = Golden.toFloat(Golden.stage("resampled"));
        List<Pipeline.ModelWindow> ws = pipeline.windows(xr, Golden.rpeaks());
        Object meta = Json.get(Golden.STAGES, "windows");
        int[] starts = Json.ints(Json.get(meta, "starts"));
        assertEquals("window count", starts.length, ws.size());
        List<Object> rel = Json.list(Json.get(meta, "rpeaks"));
        double[][] priors = Json.matrix(Json.get(Golden.STAGES, "priors"));
        double worst = 0.0;
        for (int k = 0; k < ws.size(); k++) {
            assertEquals("window " + k + " start", starts[k], ws.get(k).start);
            assertArrayEquals("window " + k + " R peaks", Json.ints(rel.get(k)), ws.get(k).rpeaks);
            worst = Math.max(worst, Golden.assertClose("prior map " + k, new double[][] {priors[k]},
                    new double[][] {Signals.toDouble(ws.get(k).prior)}, PRIOR_TOL));
        }
        Golden.record("prior_maps", worst);
        double[][] z = Golden.stage("zscored_first");
        Golden.record("zscored_first", Golden.assertClose("zscored_first", z, Golden.toDouble(ws.get(0).ecg), Z_TOL));
    }

    /** Rows [k][F] as float64 for {@link Golden#assertClose}; a null row fails. */
    private static double[][] rrRows(List<Pipeline.ModelWindow> ws) {
        double[][] out = new double[ws.size()][];
        for (int k = 0; k < ws.size(); k++) {
            assertTrue("window " + k + " has no RR features", ws.get(k).rr != null);
            out[k] = Signals.toDouble(ws.get(k).rr);
        }
        return out;
    }

    @Test
    public void rrFeatures() {
        boolean golden = Golden.hasStage("rr");
        assertEquals("pipeline_config has an \"rr\" section exactly when golden.json has the rr stage", golden,
                pipeline.hasRr());
        float[][] xr = Golden.toFloat(Golden.stage("resampled"));
        List<Pipeline.ModelWindow> ws = pipeline.windows(xr, Golden.rpeaks());
        if (!golden) {
            for (Pipeline.ModelWindow w : ws) {
                assertTrue("a model without the rr input gets no RR row", w.rr == null && w.rrInput() == null);
            }
            return;  // rhythm models and beat models without the RR input
        }
        double[][] want = Golden.stage("rr");
        // the stage alone: rr_features(all R peaks) at the windows' centre beats
        int[] peaks = Golden.rpeaks();
        int[] starts = Json.ints(Json.get(Json.get(Golden.STAGES, "windows"), "starts"));
        float[][] all = pipeline.rrFeatures().compute(peaks);
        assertEquals(peaks.length, all.length);
        double[][] atWindows = new double[starts.length][];
        int half = pipeline.windowLength() / 2;
        for (int k = 0, b = 0; k < starts.length; k++, b++) {
            while (peaks[b] - half != starts[k]) {
                b++;
            }
            assertEquals(pipeline.rrFeatures().width(), all[b].length);
            atWindows[k] = Signals.toDouble(all[b]);
        }
        Golden.record("rr", Golden.assertClose("rr", want, atWindows, RR_TOL));
        // the same rows carried by the pipeline's windows
        Golden.record("rr (windows)", Golden.assertClose("rr (windows)", want, rrRows(ws), RR_TOL));
        assertEquals(1, ws.get(0).rrInput().length);
        assertArrayEquals(ws.get(0).rr, ws.get(0).rrInput()[0], 0f);
    }

    /** Beat-template rows [k][F] as float64; a null row fails. */
    private static double[][] morphRows(List<Pipeline.ModelWindow> ws) {
        double[][] out = new double[ws.size()][];
        for (int k = 0; k < ws.size(); k++) {
            assertTrue("window " + k + " has no template features", ws.get(k).morph != null);
            out[k] = Signals.toDouble(ws.get(k).morph);
        }
        return out;
    }

    @Test
    public void templateFeatures() {
        boolean golden = Golden.hasStage("morph");
        assertEquals("pipeline_config has a \"morph\" section exactly when golden.json has the morph stage", golden,
                pipeline.hasMorph());
        float[][] xr = Golden.toFloat(Golden.stage("resampled"));
        List<Pipeline.ModelWindow> ws = pipeline.windows(xr, Golden.rpeaks());
        if (!golden) {
            for (Pipeline.ModelWindow w : ws) {
                assertTrue("a model without the morph input gets no template row",
                        w.morph == null && w.morphInput() == null);
            }
            return;
        }
        double[][] want = Golden.stage("morph");
        // the stage alone: template_features over lead 0 of the golden windows, in order
        int[] starts = Json.ints(Json.get(Json.get(Golden.STAGES, "windows"), "starts"));
        int w = pipeline.windowLength();
        float[][] lead0 = new float[starts.length][];
        for (int k = 0; k < starts.length; k++) {
            lead0[k] = java.util.Arrays.copyOfRange(xr[0], starts[k], starts[k] + w);
        }
        TemplateFeatures tf = pipeline.templateFeatures();
        float[][] rows = tf.compute(lead0);
        double[][] got = new double[rows.length][];
        for (int k = 0; k < rows.length; k++) {
            assertEquals(TemplateFeatures.F, rows[k].length);
            got[k] = Signals.toDouble(rows[k]);
        }
        Golden.record("morph", Golden.assertClose("morph", want, got, MORPH_TOL));
        // streaming: push one segment at a time, the history holds at most history_beats beats
        TemplateFeatures stream = tf.fresh();
        for (int k = 0; k < lead0.length; k++) {
            assertArrayEquals("streamed row " + k, rows[k], stream.push(stream.segment(lead0[k])), 0f);
        }
        assertEquals(Math.min(lead0.length, Json.integer(Json.get(Golden.CONFIG, "morph"), "history_beats")),
                stream.historySize());
        // the same rows carried by the pipeline's windows
        Golden.record("morph (windows)", Golden.assertClose("morph (windows)", want, morphRows(ws), MORPH_TOL));
        assertEquals(1, ws.get(0).morphInput().length);
        assertArrayEquals(ws.get(0).morph, ws.get(0).morphInput()[0], 0f);
    }

    @Test
    public void endToEnd() {
        Pipeline.Result r = pipeline.run(Golden.stage("input"), Golden.fsIn());
        Golden.assertClose("e2e after_baseline", Golden.stage("after_baseline"), r.afterBaseline, FILTER_TOL);
        Golden.assertClose("e2e after_bandpass", Golden.stage("after_bandpass"), r.afterBandpass, FILTER_TOL);
        Golden.record("e2e resampled", Golden.assertClose("e2e resampled", Golden.stage("resampled"),
                Golden.toDouble(r.resampled), FILTER_TOL));
        assertRpeaks("e2e rpeaks", Golden.rpeaks(), r.rpeaks);
        Golden.record("e2e zscored_first", Golden.assertClose("e2e zscored_first", Golden.stage("zscored_first"),
                Golden.toDouble(r.windows.get(0).ecg), Z_TOL));
        double[][] priors = Json.matrix(Json.get(Golden.STAGES, "priors"));
        assertEquals(priors.length, r.windows.size());
        Golden.assertClose("e2e prior 0", new double[][] {priors[0]}, new double[][] {Signals.toDouble(r.windows.get(0).prior)},
                PRIOR_TOL);
        if (Golden.hasStage("rr")) {
            Golden.record("e2e rr", Golden.assertClose("e2e rr", Golden.stage("rr"), rrRows(r.windows), RR_TOL));
        }
        if (Golden.hasStage("morph")) {
            Golden.record("e2e morph", Golden.assertClose("e2e morph", Golden.stage("morph"), morphRows(r.windows),
                    MORPH_TOL));
        }
        float[][][] in = r.windows.get(0).ecgInput();
        assertEquals(pipeline.windowLength(), in[0].length);
        assertEquals(pipeline.leads(), in[0][0].length);
        assertTrue("preprocessing time measured", r.millis > 0);
    }

    @Test
    public void routingOfGoldenModelOutput() {
        Object model = Json.get(Golden.GOLDEN, "model");
        double[] p = Json.doubles(Json.get(model, "keras_record_probs"));
        double mx = p[Routing.argmax(p)];
        String want = Json.str(model, "keras_routing");
        String got = pipeline.routing().decide(mx).name().toLowerCase(java.util.Locale.ROOT);
        assertEquals(want, got);
        assertEquals(Json.str(model, "keras_top"), pipeline.classes().get(Routing.argmax(p)));
        if (Json.has(model, "tflite_probs")) {
            // the TFLite model (what the phone runs) must agree with Keras on the golden windows
            double[][] k = Json.matrix(Json.get(model, "keras_probs"));
            double[][] t = Json.matrix(Json.get(model, "tflite_probs"));
            Golden.record("tflite_vs_keras (python)", Golden.assertClose("tflite vs keras", k, t, 0.1));
        }
    }

    @Test
    public void modelFeedCoversEveryDeclaredInput() {
        // the inputs the config declares for the model, with their shapes [1, ...]
        java.util.Map<String, Object> declared = Json.obj(Json.get(Golden.CONFIG, "model"), "inputs");
        List<String> names = new java.util.ArrayList<>(declared.keySet());
        ModelFeed.check(pipeline, names);
        List<Pipeline.ModelWindow> ws = pipeline.windows(Golden.toFloat(Golden.stage("resampled")), Golden.rpeaks());
        for (String name : names) {
            int size = 1;
            for (int d : Json.ints(declared.get(name))) {
                size *= d;
            }
            for (int k = 0; k < ws.size(); k++) {
                float[] v = ModelFeed.values(ws.get(k), name, size);
                if ("rr".equals(name) || "morph".equals(name)) {
                    // the golden rows the Python models were fed (tolerances as rrFeatures / templateFeatures)
                    assertArrayEquals(name + " of window " + k, Signals.toFloat(Golden.stage(name)[k]), v,
                            (float) ("rr".equals(name) ? RR_TOL : MORPH_TOL));
                }
            }
        }
        assertArrayEquals(flatten(ws.get(0).ecgInput()[0]), ModelFeed.values(ws.get(0), "ecg"), 0f);
    }

    private static float[] flatten(float[][] x) {
        float[] out = new float[x.length * x[0].length];
        for (int t = 0; t < x.length; t++) {
            System.arraycopy(x[t], 0, out, t * x[0].length, x[0].length);
        }
        return out;
    }

    /** Rows of {@code probs} [n][K] after {@code d}. */
    private static double[][] decide(Decision d, double[][] probs) {
        double[][] out = new double[probs.length][];
        for (int k = 0; k < probs.length; k++) {
            out[k] = d.apply(probs[k]);
        }
        return out;
    }

    @Test
    public void decisionRule() {
        Decision d = pipeline.decision();
        boolean golden = Golden.hasStage("decision");
        assertEquals("pipeline_config's decision changes probabilities exactly when golden.json has the decision stage",
                golden, d.changesProbs() && !pipeline.multilabel());
        assertTrue("without a sidecar the app applies the config's rule",
                Decision.forModel(pipeline, null) == (pipeline.multilabel() ? Decision.NONE : d));
        Object model = Json.get(Golden.GOLDEN, "model");
        double[][] keras = Json.matrix(Json.get(model, "keras_probs"));
        if (!golden) {
            assertArrayEquals("no rule: probabilities unchanged", keras[0], d.apply(keras[0]), 0.0);
            assertTrue(!Json.has(model, "tflite_decided"));
            return;
        }
        // Decision.rescale of the Keras probabilities (float32 values), bit for bit, and of the TFLite
        // model's (what the phone runs); both are checked before a failure is reported
        StringBuilder failures = new StringBuilder();
        try {
            Golden.record("decision", Golden.assertClose("decision", Golden.stage("decision"), decide(d, keras),
                    DECISION_TOL));
        } catch (AssertionError e) {
            failures.append(e.getMessage()).append('\n');
        }
        if (Json.has(model, "tflite_probs")) {
            double[][] t = Json.matrix(Json.get(model, "tflite_probs"));
            try {
                Golden.record("decision (tflite)", Golden.assertClose("decision (tflite)",
                        Json.matrix(Json.get(model, "tflite_decided")), decide(d, t), DECISION_TOL));
            } catch (AssertionError e) {
                failures.append(e.getMessage()).append('\n');
            }
        }
        if (failures.length() > 0) {
            fail(failures.toString());
        }
    }

    /** The comparisons can fail: a perturbed golden value must be detected at every tolerance used. */
    @Test
    public void perturbedGoldenIsDetected() {
        double[][][] stages = {Golden.stage("after_bandpass"), Golden.stage("zscored_first")};
        double[] tols = {FILTER_TOL, Z_TOL};
        for (int s = 0; s < stages.length; s++) {
            double[][] want = stages[s];
            double[][] bad = new double[want.length][];
            for (int c = 0; c < want.length; c++) {
                bad[c] = want[c].clone();
            }
            bad[0][bad[0].length / 2] += 10 * tols[s];
            try {
                Golden.assertClose("perturbed", want, bad, tols[s]);
            } catch (AssertionError expected) {
                continue;
            }
            fail("a perturbation of 10x the tolerance went unnoticed");
        }
        int[] peaks = Golden.rpeaks();
        if (peaks.length > 0) {
            int[] bad = peaks.clone();
            bad[0] += 1;
            try {
                assertArrayEquals(peaks, bad);
            } catch (AssertionError expected) {
                return;
            }
            fail("a moved R peak went unnoticed");
        }
    }
}
