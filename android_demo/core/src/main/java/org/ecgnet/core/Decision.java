package org.ecgnet.core;

import java.util.Arrays;
import java.util.List;

/**
 * A model's decision rule on single-label class probabilities: a port of
 * {@code ecgnet_tf.runs.spec.Decision.rescale}, read from the {@code "decision"} object of a TFLite
 * sidecar's {@code metadata} ({@code model_int8.json}) or of {@code pipeline_config.json} (same format).
 *
 * <p>First {@code class_merge}: entry k is the class whose probability class k's is added to (k itself =
 * kept; a merged class ends at 0 and is never decided), e.g. {@code [0, 1, 2, 0, 4]} reads F as N. Then
 * {@code class_scale}: each probability times its class factor, and the row renormalised to sum 1
 * (divided by {@code max(sum, 1e-12)}). Either may be null and is then skipped; with both null the
 * probabilities pass unchanged. Arithmetic in float64 in numpy's order (merge sums in class order, the
 * row sum as {@code np.sum}), so results equal Python's bit for bit.
 */
public final class Decision {
    /** No merge, no factors: probabilities pass unchanged. */
    public static final Decision NONE = new Decision("none", null, null, null);

    private final String aggregation;
    private final String noiseClass;
    private final double[] scale;
    private final int[] merge;

    /**
     * @param aggregation "mean" (record tasks average their windows) or "none" (one decision per window)
     * @param noiseClass class of a record whose windows all fail the quality gate, or null
     * @param classScale per-class factors (positive, finite), or null
     * @param classMerge per class, the index of the class its probability is added to (a class that is
     *     itself kept), or null
     * @throws IllegalArgumentException when the factors or merge targets are invalid or their lengths differ
     */
    public Decision(String aggregation, String noiseClass, double[] classScale, int[] classMerge) {
        if (classScale != null) {
            boolean ok = classScale.length > 0;
            for (double v : classScale) {
                ok &= Double.isFinite(v) && v > 0;
            }
            if (!ok) {
                throw new IllegalArgumentException("class_scale must be positive finite numbers, got "
                        + Arrays.toString(classScale));
            }
        }
        if (classMerge != null) {
            int k = classMerge.length;
            boolean ok = k > 0;
            for (int v : classMerge) {
                ok &= 0 <= v && v < k && classMerge[v] == v;
            }
            if (!ok) {
                throw new IllegalArgumentException("class_merge must give, per class, a class index that is kept "
                        + "itself; got " + Arrays.toString(classMerge));
            }
            if (classScale != null && classScale.length != k) {
                throw new IllegalArgumentException("class_merge has " + k + " entries but class_scale "
                        + classScale.length);
            }
        }
        this.aggregation = aggregation == null ? "none" : aggregation;
        this.noiseClass = noiseClass;
        this.scale = classScale == null ? null : classScale.clone();
        this.merge = classMerge == null ? null : classMerge.clone();
    }

    /** From a {@code "decision"} object (absent keys and JSON null = not set); null gives {@link #NONE}. */
    public static Decision fromJson(Object decision) {
        if (decision == null) {
            return NONE;
        }
        if (!(decision instanceof java.util.Map)) {
            throw new IllegalArgumentException("JSON: 'decision' is not an object");
        }
        Object s = Json.get(decision, "class_scale");
        Object m = Json.get(decision, "class_merge");
        int[] merge = null;
        if (m != null) {
            List<Object> l = Json.list(m);
            merge = new int[l.size()];
            for (int k = 0; k < merge.length; k++) {
                Object v = l.get(k);
                if (!(v instanceof Double) || (Double) v != Math.rint((Double) v)) {
                    throw new IllegalArgumentException("class_merge must hold class indices, got " + l);
                }
                merge[k] = (int) Math.rint((Double) v);
            }
        }
        return new Decision(Json.str(decision, "aggregation"), Json.str(decision, "noise_class"),
                s == null ? null : Json.doubles(s), merge);
    }

    /** The rule of a TFLite sidecar ({@code model_int8.json}): its {@code metadata.decision}. */
    public static Decision fromSidecar(String text) {
        return fromJson(Json.get(sidecarMetadata(text), "decision"));
    }

    private static Object sidecarMetadata(String text) {
        Object meta = Json.get(Json.parse(text), "metadata");
        if (!(meta instanceof java.util.Map)) {
            throw new IllegalArgumentException("not a model sidecar JSON (no \"metadata\" object)");
        }
        return meta;
    }

    /**
     * The rule the app applies to a model's outputs: none for multilabel models (Python's
     * {@code ModelSpec.decide} skips it for them too); else the sidecar's when {@code sidecarText} is given
     * (its classes must be the pipeline's), else {@code pipeline_config.json}'s.
     */
    public static Decision forModel(Pipeline pipeline, String sidecarText) {
        return forModel(pipeline.classes(), pipeline.multilabel(), pipeline.decision(), sidecarText);
    }

    /**
     * {@link #forModel(Pipeline, String)} from the pipeline's classes, multilabel flag and decision rule
     * ({@code configRule}).
     */
    public static Decision forModel(List<String> classes, boolean multilabel, Decision configRule, String sidecarText) {
        if (multilabel) {
            return NONE;
        }
        if (sidecarText == null) {
            return configRule;
        }
        Object meta = sidecarMetadata(sidecarText);
        Object sc = Json.get(meta, "classes");
        if (sc != null && !Json.strings(sc).equals(classes)) {
            throw new IllegalArgumentException("the model sidecar's classes " + Json.strings(sc)
                    + " are not pipeline_config.json's " + classes + " (assets from different runs?)");
        }
        return fromJson(Json.get(meta, "decision"));
    }

    /** True when {@link #apply} changes probabilities (a merge or class factors are set). */
    public boolean changesProbs() {
        return scale != null || merge != null;
    }

    public String aggregation() {
        return aggregation;
    }

    /** Class of a record whose windows all fail the quality gate, or null. */
    public String noiseClass() {
        return noiseClass;
    }

    /** Per-class factors, or null. */
    public double[] classScale() {
        return scale == null ? null : scale.clone();
    }

    /** Per class, the class its probability is added to, or null. */
    public int[] classMerge() {
        return merge == null ? null : merge.clone();
    }

    /**
     * One window's class probabilities [K] after the rule (float64, a new array): merged, then scaled and
     * renormalised; a copy when the rule changes nothing.
     *
     * @throws IllegalArgumentException when the merge or the factors are for another number of classes
     */
    public double[] apply(double[] probs) {
        double[] p = probs.clone();
        if (!changesProbs() || p.length == 0) {
            return p;
        }
        if (merge != null) {
            if (merge.length != p.length) {
                throw new IllegalArgumentException("class_merge has " + merge.length + " entries for " + p.length
                        + " classes");
            }
            double[] merged = new double[p.length];
            for (int src = 0; src < p.length; src++) {
                merged[merge[src]] += p[src];
            }
            p = merged;
        }
        if (scale == null) {
            return p;
        }
        if (scale.length != p.length) {
            throw new IllegalArgumentException("class_scale has " + scale.length + " values for " + p.length
                    + " classes");
        }
        for (int k = 0; k < p.length; k++) {
            p[k] *= scale[k];
        }
        double sum = Math.max(Signals.pairwiseSum(p, 0, p.length), 1e-12);
        for (int k = 0; k < p.length; k++) {
            p[k] /= sum;
        }
        return p;
    }

    /** {@link #apply(double[])} of a model's float32 output. */
    public double[] apply(float[] probs) {
        return apply(Signals.toDouble(probs));
    }

    /** A short description for the app, e.g. "F -> N, V x 1.26" (class names in output order), or "none". */
    public String describe(List<String> classes) {
        StringBuilder b = new StringBuilder();
        for (int k = 0; merge != null && k < merge.length; k++) {
            if (merge[k] != k) {
                b.append(b.length() > 0 ? ", " : "").append(name(classes, k)).append(" -> ")
                        .append(name(classes, merge[k]));
            }
        }
        for (int k = 0; scale != null && k < scale.length; k++) {
            if (scale[k] != 1.0) {
                b.append(b.length() > 0 ? ", " : "").append(name(classes, k)).append(" x ")
                        .append(String.format(java.util.Locale.ROOT, "%.3g", scale[k]));
            }
        }
        return b.length() > 0 ? b.toString() : "none";
    }

    private static String name(List<String> classes, int k) {
        return classes != null && k < classes.size() ? classes.get(k) : "class " + k;
    }
}
