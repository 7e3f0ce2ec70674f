package org.ecgnet.core;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Loads the golden vectors (directory from -Decgnet.golden=DIR or $ECGNET_GOLDEN_DIR) once. */
final class Golden {
    static final File DIR;
    static final Object CONFIG;
    static final Object GOLDEN;
    static final Object STAGES;
    /** Max abs difference per stage, printed by {@link GoldenReport}. */
    static final Map<String, Double> REPORT = new LinkedHashMap<>();

    static {
        String d = System.getProperty("ecgnet.golden");
        if (d == null || d.isEmpty()) {
            d = System.getenv("ECGNET_GOLDEN_DIR");
        }
        if (d == null || d.isEmpty()) {
            throw new IllegalStateException("golden directory not set: pass -Decgnet.golden=DIR or set "
                    + "ECGNET_GOLDEN_DIR (make one with python -m export.golden RUN --out DIR)");
        }
        DIR = new File(d);
        CONFIG = Json.parse(read("pipeline_config.json"));
        GOLDEN = Json.parse(read("golden.json"));
        STAGES = Json.get(GOLDEN, "stages");
    }

    private Golden() {
    }

    static String read(String name) {
        File f = new File(DIR, name);
        if (!f.isFile()) {
            throw new IllegalStateException(f + " is missing (make it with python -m export.golden RUN --out " + DIR + ")");
        }
        try {
            return new String(Files.readAllBytes(f.toPath()), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + f, e);
        }
    }

    static double fsIn() {
        return Json.num(GOLDEN, "fs_in");
    }

    /** A lead-major stage [C][n]. */
    static double[][] stage(String name) {
        Object v = Json.get(STAGES, name);
        if (v == null) {
            throw new IllegalStateException("golden.json has no stage '" + name + "'");
        }
        return Json.matrix(v);
    }

    static boolean hasStage(String name) {
        return Json.get(STAGES, name) != null;
    }

    static int[] rpeaks() {
        return Json.ints(Json.get(STAGES, "rpeaks"));
    }

    static float[][] toFloat(double[][] x) {
        float[][] out = new float[x.length][];
        for (int c = 0; c < x.length; c++) {
            out[c] = Signals.toFloat(x[c]);
        }
        return out;
    }

    static double[][] toDouble(float[][] x) {
        double[][] out = new double[x.length][];
        for (int c = 0; c < x.length; c++) {
            out[c] = Signals.toDouble(x[c]);
        }
        return out;
    }

    static List<Object> list(Object o) {
        return Json.list(o);
    }

    /** Max |a - b| over all leads; throws AssertionError (with the worst position) above {@code tol}. */
    static double assertClose(String what, double[][] expected, double[][] actual, double tol) {
        if (expected.length != actual.length) {
            throw new AssertionError(what + ": " + expected.length + " leads expected, got " + actual.length);
        }
        double worst = 0.0;
        int wc = -1, wt = -1;
        for (int c = 0; c < expected.length; c++) {
            if (expected[c].length != actual[c].length) {
                throw new AssertionError(what + ": lead " + c + " has " + actual[c].length + " samples, expected "
                        + expected[c].length);
            }
            for (int t = 0; t < expected[c].length; t++) {
                double d = Math.abs(expected[c][t] - actual[c][t]);
                if (!(d <= worst)) {  // also catches NaN
                    worst = d;
                    wc = c;
                    wt = t;
                }
            }
        }
        if (!(worst <= tol)) {
            throw new AssertionError(String.format("%s: max |diff| %.3g > %.1g at lead %d sample %d (expected %.9g, got %.9g)",
                    what, worst, tol, wc, wt, expected[wc][wt], actual[wc][wt]));
        }
        return worst;
    }

    static void record(String stage, double maxAbs) {
        synchronized (REPORT) {
            REPORT.put(stage, maxAbs);
        }
    }
}
