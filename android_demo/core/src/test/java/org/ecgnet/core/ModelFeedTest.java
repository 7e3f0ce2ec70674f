package org.ecgnet.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.ecgnet.core.Refusals.assertRefused;

import java.util.Arrays;

import org.junit.Test;

/** Which model inputs the app feeds, by name, and the errors naming an input it cannot make. */
public class ModelFeedTest {
    static final float[] RR = {0.8f, 0.9f, 0.85f, 0.84f, 0.94f, 1.125f, 0.95f, 1.01f};
    static final float[] MORPH = {1f, 0.99f, 0.05f, 1f, 1f, 0.1f, 0f, 0.01f};

    private static Pipeline.ModelWindow window(float[] rr, float[] morph) {
        float[][] ecg = {{1, 2, 3}, {4, 5, 6}};  // 2 leads, 3 samples
        return new Pipeline.ModelWindow(10, new int[] {1}, ecg, new float[] {0, 1, 0}, rr, morph);
    }

    @Test
    public void namesOfSignatureKeysAndTensorNames() {
        for (String n : ModelFeed.NAMES) {
            assertEquals(n, ModelFeed.nameOf(n));
            assertEquals(n, ModelFeed.nameOf("serving_default_" + n + ":0"));
        }
        assertEquals("prior", ModelFeed.nameOf("model/prior"));
        // "error" contains "rr" but is no RR input; "ecg_mask" is an unknown input
        assertRefused("the model has an input 'serving_default_error:0' that the app cannot make (it makes ecg, "
                + "prior, rr, morph)", () -> ModelFeed.nameOf("serving_default_error:0"));
        assertRefused("input 'ecg_mask'", () -> ModelFeed.nameOf("ecg_mask"));
    }

    @Test
    public void valuesInTensorOrder() {
        Pipeline.ModelWindow w = window(RR, MORPH);
        assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, ModelFeed.values(w, "ecg", 6), 0f);  // [1, W, C]
        assertArrayEquals(new float[] {0, 1, 0}, ModelFeed.values(w, "prior", 3), 0f);
        assertArrayEquals(RR, ModelFeed.values(w, "rr", 8), 0f);
        assertArrayEquals(MORPH, ModelFeed.values(w, "morph", 8), 0f);
        // the same rows as the window's rrInput() / morphInput() tensors
        assertArrayEquals(w.rrInput()[0], ModelFeed.values(w, "rr"), 0f);
        assertArrayEquals(w.morphInput()[0], ModelFeed.values(w, "morph"), 0f);
    }

    @Test
    public void modelsWithoutBeatInputsNeedNoBeatRows() {
        Pipeline.ModelWindow w = window(null, null);  // a rhythm (segment) model's window
        ModelFeed.check(false, false, Arrays.asList("ecg", "prior"));
        assertEquals(6, ModelFeed.values(w, "ecg").length);
        assertEquals(3, ModelFeed.values(w, "prior").length);
    }

    @Test
    public void missingInputsAreNamed() {
        assertRefused("the model has a 'rr' input (RR-interval features), but pipeline_config.json has "
                + "no \"rr\" section; the app makes it for beat models only",
                () -> ModelFeed.check(false, true, Arrays.asList("ecg", "prior", "rr")));
        assertRefused("the model has a 'morph' input", () -> ModelFeed.check(true, false,
                Arrays.asList("ecg", "prior", "rr", "morph")));
        assertRefused("input 'attention'", () -> ModelFeed.check(true, true, Arrays.asList("ecg", "attention")));
        ModelFeed.check(true, true, ModelFeed.NAMES);
        Pipeline.ModelWindow w = window(null, null);
        assertRefused("no \"rr\" section", () -> ModelFeed.values(w, "rr"));
        assertRefused("no \"morph\" section", () -> ModelFeed.values(w, "morph"));
        // e.g. a rhythm model's 13 rhythm features against the beat pipeline's 8
        assertRefused("the model's 'rr' input takes 13 values, the pipeline makes 8",
                () -> ModelFeed.values(window(RR, MORPH), "rr", 13));
    }
}
