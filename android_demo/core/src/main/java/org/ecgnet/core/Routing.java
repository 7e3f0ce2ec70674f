package org.ecgnet.core;

import java.util.List;

/**
 * Clinical routing of a record's top class probability: at least {@code autoReport} (0.95) goes to
 * the automatic report, at least {@code review} (0.85) to cardiologist review, anything lower to
 * extended monitoring. Record-level probabilities are the mean over the record's windows.
 */
public final class Routing {
    public enum Decision { AUTO_REPORT, REVIEW, EXTENDED_MONITORING }

    private final double autoReport;
    private final double review;

    public Routing(double autoReport, double review) {
        if (!(review <= autoReport)) {
            throw new IllegalArgumentException("review threshold must not exceed the auto-report threshold");
        }
        this.autoReport = autoReport;
        this.review = review;
    }

    public Decision decide(double pMax) {
        if (pMax >= autoReport) {
            return Decision.AUTO_REPORT;
        }
        if (pMax >= review) {
            return Decision.REVIEW;
        }
        return Decision.EXTENDED_MONITORING;
    }

    /** Mean of per-window probability vectors. */
    public static double[] mean(List<float[]> probs) {
        if (probs.isEmpty()) {
            throw new IllegalArgumentException("no window probabilities");
        }
        double[] m = new double[probs.get(0).length];
        for (float[] p : probs) {
            for (int k = 0; k < m.length; k++) {
                m[k] += p[k];
            }
        }
        for (int k = 0; k < m.length; k++) {
            m[k] /= probs.size();
        }
        return m;
    }

    public static int argmax(double[] p) {
        int best = 0;
        for (int k = 1; k < p.length; k++) {
            if (p[k] > p[best]) {
                best = k;
            }
        }
        return best;
    }
}
