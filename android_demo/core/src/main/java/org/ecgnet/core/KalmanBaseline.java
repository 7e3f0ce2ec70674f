package org.ecgnet.core;

import java.util.List;

/**
 * Baseline removal with the steady-state Kalman/RTS smoother of ecgnet_tf/preprocess/baseline.py:
 * odd-extend by min(n - 1, padlen), run each forward transfer function (steady-state start) to get
 * the filtered state components, run each backward transfer function on the time-reversed
 * component, sum the contributions to the baseline and subtract it. Coefficients come from Python.
 */
public final class KalmanBaseline {
    private final Lfilter[] forward;
    private final Lfilter[] backward;
    private final int padlen;

    public KalmanBaseline(Lfilter[] forward, Lfilter[] backward, int padlen) {
        if (forward.length != backward.length || forward.length == 0) {
            throw new IllegalArgumentException("need as many backward as forward filters");
        }
        this.forward = forward;
        this.backward = backward;
        this.padlen = padlen;
    }

    public static KalmanBaseline fromConfig(Object spec) {
        return new KalmanBaseline(filters(Json.get(spec, "forward")), filters(Json.get(spec, "backward")),
                Json.integer(spec, "padlen"));
    }

    private static Lfilter[] filters(Object arr) {
        List<Object> l = Json.list(arr);
        Lfilter[] out = new Lfilter[l.size()];
        for (int k = 0; k < out.length; k++) {
            Object o = l.get(k);
            out[k] = new Lfilter(Json.doubles(Json.get(o, "b")), Json.doubles(Json.get(o, "a")),
                    Json.doubles(Json.get(o, "zi")));
        }
        return out;
    }

    /** The smoothed baseline of one lead. */
    public double[] baseline(double[] x) {
        int n = x.length;
        if (n < 2) {
            return x.clone();
        }
        int pad = Math.min(n - 1, padlen);
        double[] xp = pad > 0 ? Signals.oddExtend(x, pad) : x;
        double[] b = new double[xp.length];
        for (int j = 0; j < forward.length; j++) {
            double[] state = forward[j].filterSteadyState(xp);
            double[] contrib = Signals.reverse(backward[j].filterSteadyState(Signals.reverse(state)));
            for (int t = 0; t < b.length; t++) {
                b[t] += contrib[t];
            }
        }
        return pad > 0 ? Signals.slice(b, pad, pad + n) : b;
    }

    /** x minus its baseline. */
    public double[] remove(double[] x) {
        double[] b = baseline(x);
        double[] out = new double[x.length];
        for (int t = 0; t < x.length; t++) {
            out[t] = x[t] - b[t];
        }
        return out;
    }
}
