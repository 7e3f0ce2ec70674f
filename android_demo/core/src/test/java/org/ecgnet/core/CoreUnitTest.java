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
    public void rrContextWarmUpRegularAndIrregular() {
        RRContext c = new RRContext(10, 3);
        for (int k = 0; k < 3; k++) {
            assertArrayEquals("warm-up", new float[] {0f, 0f}, c.push(0.8), 0f);  // fewer than 3 beats known
        }
        assertArrayEquals("a steady rhythm", new float[] {0f, 0f}, c.push(0.8), 1e-6f);  // numpy: 1.4e-16
        RRContext d = new RRContext(10, 3);
        for (double r : new double[] {0.6, 1.0, 0.6}) {
            d.push(r);
        }
        // h = [0.6, 1.0, 0.6]: mean 0.7333, std 0.18856, mean |diff| 0.4
        float[] row = d.push(0.8);
        assertEquals(0.18856181 / 0.73333333, row[0], 1e-6);
        assertEquals(0.4 / 0.73333333, row[1], 1e-6);
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
    public void rrFeaturesOfAPrematureBeat() {
        // 100 Hz, regular 0.8-s rhythm with beat 6 early by 0.3 s (0.5 s after beat 5, 1.1 s before beat 7)
        int[] beats = {0, 80, 160, 240, 320, 400, 450, 560, 640, 720};
        RRFeatures f = new RRFeatures(100.0, 10, 0.15, 3.0, 0.8);
        float[][] rows = f.compute(beats);
        assertEquals(beats.length, rows.length);
        // regular beats before the early one: every interval 0.8 s, every ratio exactly 1 (beat 0 included)
        for (int i = 0; i < 5; i++) {
            assertArrayEquals("beat " + i, new float[] {0.8f, 0.8f, 0.8f, 0.8f, 1f, 1f, 1f, 1f}, rows[i], 0f);
        }
        float[] early = rows[6];
        assertEquals(0.5f, early[0], 0f);  // pre-RR (s)
        assertEquals(1.1f, early[1], 0f);  // compensatory pause
        assertEquals(0.8f, early[2], 0f);  // local mean: the beat's own interval is not in its baseline
        assertTrue("pre/local < 1 for the premature beat", early[4] < 1f);
        assertEquals((float) (0.5 / 0.8), early[4], 0f);
        assertTrue("post/pre > 1 for the premature beat", early[5] > 1f);
        assertEquals((float) (1.1 / 0.5), early[5], 1e-6f);
        assertTrue("pre/running < 1", early[6] < 1f);
        // the beat after: long pre-RR, and the early interval now lowers its local mean
        assertTrue(rows[7][4] > 1f);
        assertTrue(rows[7][2] < 0.8f);
        // the last beat has no next beat: post-RR = its local mean
        float[] last = rows[beats.length - 1];
        assertEquals(last[2], last[1], 0f);
    }

    @Test
    public void rrFeaturesClipImplausibleIntervalsAndWarmUp() {
        RRFeatures f = new RRFeatures(100.0, 2, 0.15, 3.0, 0.8);
        // a double detection 0.05 s after beat 0, then 0.6-s beats
        float[][] rows = f.compute(new int[] {0, 5, 65, 125, 185});
        assertEquals(0.15f, rows[0][1], 0f);  // post-RR clipped up to min_rr_s
        assertEquals(0.15f, rows[1][0], 0f);  // pre-RR clipped
        // warm-up: the first plausible interval (0.6 s, ending at beat 2) once it is within one beat of
        // look-ahead, the default 0.8 s before; beat 0's pre-RR is its local mean
        assertArrayEquals(new float[] {0.8f, 0.15f, 0.8f, 0.8f, 1f, 0.1875f, 1f, 1f}, rows[0], 0f);
        assertEquals(0.6f, rows[1][2], 0f);
        assertEquals(0.6f, rows[1][3], 0f);
        // the implausible interval never enters the baseline: beat 3's means are the one 0.6-s interval
        assertEquals(0.6f, rows[3][2], 0f);
        assertEquals(0.6f, rows[3][3], 0f);
        // nothing plausible: default RR everywhere
        float[][] pause = f.compute(new int[] {0, 1000});
        assertArrayEquals(new float[] {0.8f, 3.0f, 0.8f, 0.8f, 1f, 3.0f / 0.8f, 1f, 1f}, pause[0], 1e-6f);
        assertEquals(0, f.compute(new int[0]).length);
        assertArrayEquals(new float[] {0.8f, 0.8f, 0.8f, 0.8f, 1f, 1f, 1f, 1f}, f.compute(new int[] {7})[0], 0f);
    }

    /** A 200-sample beat window at 100 Hz: offset + a triangular R wave of the given height around sample 100. */
    private static float[] beat(double offset, double height, int halfWidth) {
        float[] w = new float[200];
        for (int k = 0; k < w.length; k++) {
            w[k] = (float) (offset + height * Math.max(0.0, 1.0 - Math.abs(k - 100) / (double) halfWidth));
        }
        return w;
    }

    @Test
    public void templateFeaturesOfATallWideBeat() {
        // 100 Hz: segment 25 + 45 samples, QRS zone +-10 samples, baseline 8 samples, history 2 beats
        TemplateFeatures f = new TemplateFeatures(100.0, 2, 0.25, 0.45, 0.10, 0.08, 0.05, 10.0);
        float[][] rows = f.compute(new float[][] {beat(0.3, 1.0, 4), beat(-0.2, 1.0, 4), beat(0.0, 2.0, 8)});
        // beat 0 is its own template; beat 1 equals it once its baseline is removed
        float[] same = {1f, 1f, 0f, 1f, 1f, 0f, 0f, 0f};
        assertArrayEquals(same, rows[0], 0f);
        assertArrayEquals(same, rows[1], 1e-6f);
        // beat 2: twice as tall, twice as wide (slopes > 30 % of the max: 16 samples against 8)
        assertEquals(2.0, rows[2][3], 1e-6);
        assertEquals(2.0, rows[2][4], 0.0);
        assertEquals(1.0, rows[2][5], 1e-6);  // largest deviation at the R peak: one template amplitude
        // values of Python's template_features(windows, 100.0, TemplateConfig(history_beats=2))
        assertEquals(0.86059493, rows[2][0], 1e-6);
        assertEquals(0.87003851, rows[2][1], 1e-6);
        assertEquals(0.39188191, rows[2][2], 1e-6);
        assertEquals(0.57142860, rows[2][6], 1e-6);
        assertEquals(0.0, rows[2][7], 0.0);  // nothing after the QRS zone
        // streaming gives the same rows and keeps at most 2 beats
        TemplateFeatures s = f.fresh();
        s.push(s.segment(beat(0.3, 1.0, 4)));
        s.push(s.segment(beat(-0.2, 1.0, 4)));
        assertArrayEquals(rows[2], s.push(s.segment(beat(0.0, 2.0, 8))), 0f);
        assertEquals(2, s.historySize());
        s.reset();
        assertEquals(0, s.historySize());
    }

    @Test(expected = IllegalArgumentException.class)
    public void templateFeaturesRejectShortWindows() {
        TemplateFeatures f = new TemplateFeatures(100.0, 32, 0.25, 0.45, 0.10, 0.08, 0.05, 10.0);
        f.segment(new float[80]);
    }

    @Test(expected = IllegalArgumentException.class)
    public void rrFeaturesRejectDecreasingBeats() {
        new RRFeatures(100.0, 10, 0.15, 3.0, 0.8).compute(new int[] {10, 5});
    }

    @Test
    public void routingThresholds() {
        Routing r = new Routing(0.95, 0.85);
        assertEquals(Routing.Decision.AUTO_REPORT, r.decide(0.95));
        assertEquals(Routing.Decision.REVIEW, r.decide(0.9));
        assertEquals(Routing.Decision.EXTENDED_MONITORING, r.decide(0.84));
    }
}
