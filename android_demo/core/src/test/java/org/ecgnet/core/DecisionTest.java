package org.ecgnet.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotSame;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.ecgnet.core.Refusals.assertRefused;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.List;

import org.junit.Test;

/** The decision rule (port of Decision.rescale) on hand-computed cases; golden rows in GoldenStagesTest. */
public class DecisionTest {
    static final List<String> AAMI = Arrays.asList("N", "S", "V", "F", "Q");
    static final double[] P = {0.5, 0.1, 0.2, 0.15, 0.05};
    static final int[] F_TO_N = {0, 1, 2, 0, 4};

    /** The shipped beat model's sidecar, trimmed to what the rule reads. */
    static final String SIDECAR = "{\"mode\": \"int8\", \"metadata\": {\"task\": \"mitdb-aami\", \"classes\": "
            + "[\"N\", \"S\", \"V\", \"F\", \"Q\"], \"decision\": {\"aggregation\": \"none\", \"noise_class\": null, "
            + "\"class_scale\": [1.0, 1.0, 1.259921, 1.0, 1.0], \"class_merge\": [0, 1, 2, 0, 4]}, "
            + "\"inputs\": [\"ecg\", \"prior\", \"rr\", \"morph\"]}}";

    @Test
    public void mergeOnlyAddsAndZeroes() {
        Decision d = new Decision("none", null, null, F_TO_N);
        assertTrue(d.changesProbs());
        // merged sums without renormalisation (the row already sums to 1)
        assertArrayEquals(new double[] {0.5 + 0.15, 0.1, 0.2, 0.0, 0.05}, d.apply(P), 0.0);
    }

    @Test
    public void scaleOnlyMultipliesAndRenormalises() {
        Decision d = new Decision("none", null, new double[] {1, 1, 2, 1, 1}, null);
        double s = 0.5 + 0.1 + 0.4 + 0.15 + 0.05;
        assertArrayEquals(new double[] {0.5 / s, 0.1 / s, 0.4 / s, 0.15 / s, 0.05 / s}, d.apply(P), 0.0);
        // an all-zero row stays zero (the sum is floored at 1e-12, no NaN)
        assertArrayEquals(new double[5], d.apply(new double[5]), 0.0);
    }

    @Test
    public void mergeThenScale() {
        Decision d = new Decision("none", null, new double[] {1, 1, 2, 4, 1}, F_TO_N);
        // merge first: F's 0.15 goes to N, then F's factor 4 multiplies 0
        double s = 0.65 + 0.1 + 0.4 + 0.0 + 0.05;
        double[] got = d.apply(new float[] {0.5f, 0.1f, 0.2f, 0.15f, 0.05f});
        double n = (double) 0.5f + (double) 0.15f;
        assertArrayEquals(new double[] {n / s, 0.1 / s, 0.4 / s, 0, 0.05 / s}, got, 1e-7);
        assertEquals(1.0, got[0] + got[1] + got[2] + got[3] + got[4], 1e-15);
        assertEquals(0.0, got[3], 0.0);
    }

    @Test
    public void neitherLeavesProbabilitiesUnchanged() {
        Decision d = new Decision("mean", "~", null, null);
        assertFalse(d.changesProbs());
        double[] got = d.apply(P);
        assertArrayEquals(P, got, 0.0);
        assertNotSame(P, got);
        assertArrayEquals(new double[] {0.25, 0.75}, Decision.NONE.apply(new float[] {0.25f, 0.75f}), 0.0);
        assertEquals("none", d.describe(AAMI));
        assertSame(Decision.NONE, Decision.fromJson(null));
    }

    @Test
    public void wrongLengthsAreRefused() {
        assertRefused("class_merge has 5 entries for 4 classes",
                () -> new Decision("none", null, null, F_TO_N).apply(new double[4]));
        assertRefused("class_scale has 5 values for 3 classes",
                () -> new Decision("none", null, new double[] {1, 1, 2, 1, 1}, null).apply(new double[3]));
        assertRefused("class_merge has 5 entries but class_scale 4",
                () -> new Decision("none", null, new double[] {1, 1, 1, 1}, F_TO_N));
    }

    @Test
    public void badRulesAreRefused() {
        assertRefused("class_scale must be positive finite numbers",
                () -> new Decision("none", null, new double[] {1, 0, 1}, null));
        assertRefused("class_scale must be positive finite numbers",
                () -> new Decision("none", null, new double[] {1, Double.NaN}, null));
        // F into S, but S is itself merged into N
        assertRefused("class_merge must give, per class, a class index that is kept itself",
                () -> new Decision("none", null, null, new int[] {0, 0, 2, 1, 4}));
        assertRefused("class_merge must give", () -> new Decision("none", null, null, new int[] {0, 5}));
        assertRefused("class_merge must hold class indices",
                () -> Decision.fromJson(Json.parse("{\"class_merge\": [0, 1.5]}")));
    }

    @Test
    public void readsTheSidecarFormat() {
        Decision d = Decision.fromSidecar(SIDECAR);
        assertArrayEquals(new double[] {1.0, 1.0, 1.259921, 1.0, 1.0}, d.classScale(), 0.0);
        assertArrayEquals(F_TO_N, d.classMerge());
        assertEquals("none", d.aggregation());
        assertNull(d.noiseClass());
        assertEquals("F -> N, V x 1.26", d.describe(AAMI));
        // an older sidecar without class_merge (the rhythm model's)
        Decision r = Decision.fromJson(Json.parse(
                "{\"aggregation\": \"mean\", \"noise_class\": \"~\", \"class_scale\": null}"));
        assertFalse(r.changesProbs());
        assertEquals("~", r.noiseClass());
        assertRefused("not a model sidecar JSON", () -> Decision.fromSidecar("{\"decision\": {}}"));
    }

    @Test
    public void forModelPrefersTheSidecarAndSkipsMultilabel() {
        Decision config = new Decision("none", null, new double[] {1, 2, 1, 1, 1}, null);
        assertSame(config, Decision.forModel(AAMI, false, config, null));
        assertArrayEquals(F_TO_N, Decision.forModel(AAMI, false, config, SIDECAR).classMerge());
        assertSame(Decision.NONE, Decision.forModel(AAMI, true, config, SIDECAR));
        assertRefused("the model sidecar's classes [N, S, V, F, Q] are not pipeline_config.json's [N, A, O, ~]",
                () -> Decision.forModel(Arrays.asList("N", "A", "O", "~"), false, Decision.NONE, SIDECAR));
    }
}
