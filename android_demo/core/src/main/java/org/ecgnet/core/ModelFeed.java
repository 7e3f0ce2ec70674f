package org.ecgnet.core;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * The named model inputs the app makes for one {@link Pipeline.ModelWindow}, as flat float32 values in
 * the input tensor's row-major order: "ecg" [1, W, C] (z-scored, time-major), "prior" [1, W, 1], and for
 * beat models "rr" [1, 8] (RR features of the window's centre beat, {@link RRFeatures}; [1, 10] with the
 * recent rhythm's irregularity, {@link RRContext}, for models with a rhythm gate) and "morph"
 * [1, 8] (its beat-template features against the previous beat windows, {@link TemplateFeatures}).
 * Both beat rows are causal, as the Python monitor makes them: RR features use the beats up to the next
 * one, the template the previous beats only. A model input is matched by its TFLite signature key
 * ("rr") or tensor name ("serving_default_rr:0").
 */
public final class ModelFeed {
    /** The inputs the app can make. */
    public static final List<String> NAMES = Collections.unmodifiableList(Arrays.asList("ecg", "prior", "rr", "morph"));

    private ModelFeed() {
    }

    /**
     * The input name ({@link #NAMES}) of a model input's signature key or tensor name: the name itself, or a
     * tensor name ending in "_name" or "/name" (an ":index" suffix aside).
     *
     * @throws IllegalArgumentException naming the input when it is none the app can make
     */
    public static String nameOf(String key) {
        String base = key.replaceFirst(":\\d+$", "");
        for (String n : NAMES) {
            if (base.equals(n) || base.endsWith("_" + n) || base.endsWith("/" + n)) {
                return n;
            }
        }
        throw new IllegalArgumentException("the model has an input '" + key + "' that the app cannot make (it makes "
                + String.join(", ", NAMES) + ")");
    }

    /**
     * Checks that {@code pipeline} makes every one of a model's inputs ({@link #NAMES} entries).
     *
     * @throws IllegalArgumentException naming the first input it cannot make, e.g. "rr" when
     *     pipeline_config.json has no "rr" section
     */
    public static void check(Pipeline pipeline, List<String> names) {
        check(pipeline.hasRr(), pipeline.hasMorph(), names);
    }

    static void check(boolean hasRr, boolean hasMorph, List<String> names) {
        for (String n : names) {
            if (!NAMES.contains(n)) {
                nameOf(n);  // throws naming it
            }
            if (("rr".equals(n) && !hasRr) || ("morph".equals(n) && !hasMorph)) {
                throw missing(n);
            }
        }
    }

    private static IllegalArgumentException missing(String name) {
        String what = "rr".equals(name) ? "RR-interval features" : "beat-template features";
        return new IllegalArgumentException("the model has a '" + name + "' input (" + what + "), but "
                + "pipeline_config.json has no \"" + name + "\" section; the app makes it for beat models only "
                + "(make the assets with prepare_assets.sh from this model's run)");
    }

    /** The values of input {@code name} for {@code w} (a new array). */
    public static float[] values(Pipeline.ModelWindow w, String name) {
        switch (name) {
            case "ecg": {
                int c = w.ecg.length, n = w.ecg[0].length;
                float[] out = new float[n * c];
                for (int t = 0; t < n; t++) {
                    for (int l = 0; l < c; l++) {
                        out[t * c + l] = w.ecg[l][t];  // time-major
                    }
                }
                return out;
            }
            case "prior":
                return w.prior.clone();
            case "rr":
                if (w.rr == null) {
                    throw missing(name);
                }
                return w.rr.clone();
            case "morph":
                if (w.morph == null) {
                    throw missing(name);
                }
                return w.morph.clone();
            default:
                nameOf(name);  // throws naming it
                throw new IllegalArgumentException("'" + name + "' is a tensor name: pass nameOf(name)");
        }
    }

    /**
     * {@link #values(Pipeline.ModelWindow, String)} for an input tensor of {@code size} elements.
     *
     * @throws IllegalArgumentException naming the input when the pipeline makes another number of values
     */
    public static float[] values(Pipeline.ModelWindow w, String name, int size) {
        float[] v = values(w, name);
        if (v.length != size) {
            throw new IllegalArgumentException("the model's '" + name + "' input takes " + size + " values, the "
                    + "pipeline makes " + v.length + " (pipeline_config.json from another run than the model?)");
        }
        return v;
    }
}
