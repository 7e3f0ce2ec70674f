package org.ecgnet.core;

import java.util.ArrayList;
import java.util.List;

/**
 * Cuts the preprocessed recording into model windows as training did: fixed segments of
 * {@code length} samples every {@code hop} samples (segment tasks; a short record is zero-padded to
 * one window) or beat windows of {@code length} samples centred on each R peak (beat tasks; windows
 * crossing the edges are dropped).
 */
public final class Segmenter {
    /** One window: lead-major samples [C][W], start in the record and R peaks relative to the start. */
    public static final class Window {
        public final int start;
        public final float[][] x;
        public final int[] rpeaks;

        Window(int start, float[][] x, int[] rpeaks) {
            this.start = start;
            this.x = x;
            this.rpeaks = rpeaks;
        }
    }

    private final boolean beats;
    private final int length;
    private final int hop;

    public Segmenter(boolean beats, int length, int hop) {
        if (length < 1 || (!beats && hop < 1)) {
            throw new IllegalArgumentException("window length and hop must be positive");
        }
        this.beats = beats;
        this.length = length;
        this.hop = hop;
    }

    public static Segmenter fromConfig(Object spec) {
        boolean beats = "beats".equals(Json.str(spec, "mode"));
        return new Segmenter(beats, Json.integer(spec, "length"), beats ? 0 : Json.integer(spec, "hop"));
    }

    public int length() {
        return length;
    }

    public boolean beatMode() {
        return beats;
    }

    /** Windows of the lead-major record x [C][n] with sorted R peaks (record sample indices). */
    public List<Window> cut(float[][] x, int[] rpeaks) {
        int n = x[0].length;
        List<Window> out = new ArrayList<>();
        if (beats) {
            int half = length / 2;
            for (int r : rpeaks) {
                int s = r - half;
                if (s >= 0 && s + length <= n) {
                    out.add(new Window(s, copy(x, s, n), new int[] {half}));
                }
            }
            return out;
        }
        int total = Math.max(n, length);  // zero padding of a short record
        for (int s = 0; s + length <= total; s += hop) {
            List<Integer> rel = new ArrayList<>();
            for (int r : rpeaks) {
                if (r >= s && r < s + length) {
                    rel.add(r - s);
                }
            }
            int[] rr = new int[rel.size()];
            for (int k = 0; k < rr.length; k++) {
                rr[k] = rel.get(k);
            }
            out.add(new Window(s, copy(x, s, n), rr));
        }
        return out;
    }

    private float[][] copy(float[][] x, int s, int n) {
        float[][] w = new float[x.length][length];
        for (int c = 0; c < x.length; c++) {
            int m = Math.min(length, n - s);
            if (m > 0) {
                System.arraycopy(x[c], s, w[c], 0, m);
            }
        }
        return w;
    }
}
