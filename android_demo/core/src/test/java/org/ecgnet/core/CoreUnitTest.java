package org.ecgnet.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.Test;

/** Golden-independent checks of the building blocks (hand-computed scipy/numpy results). */
public class CoreUnitTest {
    @Test
    public void jsonParsesNestedValues() {
        Object o = Json.parse("{\"a\": [1, -2.5e-3, 0.1], \"b\": {\"c\": null, \"d\": true}, \"s\": \"x\\\"y\\u0041\"}");
        assertArrayEquals(new double[] {1, -2.5e-3, 0.1}, Json.doubles(Json.get(o, "a")), 0.0);
        Map<String, Object> b = Json.obj(o, "b");
        assertTrue(b.containsKey("c"));
        assertEquals(Boolean.TRUE, b.get("d"));
        assertEquals("x\"yA", Json.str(o, "s"));
    }

    @Test(expected = IllegalArgumentException.class)
    public void jsonRejectsGarbage() {
        Json.parse("{\"a\": [1, 2}");
    }

    @Test
    public void lfilterMatchesHandComputation() {
        // y[t] = x[t] + 0.5 y[t-1]
        Lfilter f = new Lfilter(new double[] {1}, new double[] {1, -0.5}, new double[] {1.0});
        assertArrayEquals(new double[] {1, 0.5, 0.25}, f.filter(new double[] {1, 0, 0}, null), 1e-15);
        // lfilter_zi([1], [1, -0.5]) == [1.0]: for a constant input the output stays at the DC gain (2) times it
        double[] y = f.filterSteadyState(new double[] {3, 3, 3});
        assertArrayEquals(new double[] {6, 6, 6}, y, 1e-12);
    }

    @Test
    public void oddExtension() {
        assertArrayEquals(new double[] {-2, 0, 1, 2, 4, 6, 7}, Signals.oddExtend(new double[] {1, 2, 4}, 2), 0.0);
    }

    @Test
    public void pairwiseSumAndMedian() {
        double[] a = new double[1000];
        for (int k = 0; k < a.length; k++) {
            a[k] = k;
        }
        assertEquals(499.5, Signals.mean(a, a.length), 0.0);
        assertEquals(2.5, Signals.median(new double[] {4, 1, 2, 3}), 0.0);
    }

    @Test
    public void uniformFilterNearestEvenSize() {
        // scipy.ndimage.uniform_filter1d([1, 2, 3, 4], 2, mode="nearest") == [1, 1.5, 2.5, 3.5]
        assertArrayEquals(new double[] {1, 1.5, 2.5, 3.5},
                PanTompkins.uniformFilterNearest(new double[] {1, 2, 3, 4}, 2), 1e-15);
    }

    @Test
    public void findPeaksWithPlateauAndDistance() {
        // scipy.signal.find_peaks([0, 2, 2, 2, 0, 1, 0, 3, 0]) -> [2, 5, 7]; distance=3 -> [2, 7]
        double[] x = {0, 2, 2, 2, 0, 1, 0, 3, 0};
        assertArrayEquals(new int[] {2, 5, 7}, PanTompkins.findPeaks(x, 1));
        assertArrayEquals(new int[] {2, 7}, PanTompkins.findPeaks(x, 3));
    }

    @Test
    public void priorMapHardZones() {
        PriorMap p = new PriorMap("af", new int[][] {{2, 3}}, null);
        float[] m = p.map(new int[] {1, 6}, 10);
        assertArrayEquals(new float[] {0, 0, 0, 1, 1, 0, 0, 0, 1, 1}, m, 0f);
        // np.convolve(a, v, "same") for odd and even kernel lengths
        assertArrayEquals(new double[] {1, 2.5, 4}, PriorMap.convolveSame(new double[] {1, 2, 3}, new double[] {1, 0.5}),
                0.0);
        assertArrayEquals(new double[] {2.5, 4.25, 6.1, 7.95, 3.8},
                PriorMap.convolveSame(new double[] {1, 2, 3, 4, 5}, new double[] {1, 0.5, 0.25, 0.1}), 1e-12);
    }

    @Test
    public void segmenterPadsShortRecords() {
        Segmenter s = new Segmenter(false, 4, 2);
        List<Segmenter.Window> w = s.cut(new float[][] {{1, 2, 3}}, new int[] {1});
        assertEquals(1, w.size());
        assertArrayEquals(new float[] {1, 2, 3, 0}, w.get(0).x[0], 0f);
        assertArrayEquals(new int[] {1}, w.get(0).rpeaks);
    }

    @Test
    public void routingThresholds() {
        Routing r = new Routing(0.95, 0.85);
        assertEquals(Routing.Decision.AUTO_REPORT, r.decide(0.95));
        assertEquals(Routing.Decision.REVIEW, r.decide(0.9));
        assertEquals(Routing.Decision.EXTENDED_MONITORING, r.decide(0.84));
    }
}
