package org.ecgnet.core;

/**
 * Per-lead z-score with the training statistics (normalization.json), in float32 arithmetic as
 * {@code ZScore.transform}: (x - float32(mean)) / float32(max(std, eps)).
 */
public final class ZScore {
    private final float[] mean;
    private final float[] std;

    public ZScore(double[] mean, double[] std, double eps) {
        if (mean.length != std.length) {
            throw new IllegalArgumentException("mean and std need one value per lead");
        }
        this.mean = new float[mean.length];
        this.std = new float[std.length];
        for (int c = 0; c < mean.length; c++) {
            this.mean[c] = (float) mean[c];
            this.std[c] = (float) Math.max(std[c], eps);
        }
    }

    public static ZScore fromConfig(Object spec) {
        Object eps = Json.get(spec, "eps");
        return new ZScore(Json.doubles(Json.get(spec, "mean")), Json.doubles(Json.get(spec, "std")),
                eps == null ? 1e-6 : (Double) eps);
    }

    public int leads() {
        return mean.length;
    }

    /** Transforms a lead-major window [C][W] (float32 values) into a new array. */
    public float[][] transform(float[][] x) {
        if (x.length != mean.length) {
            throw new IllegalArgumentException("expected " + mean.length + " leads, got " + x.length);
        }
        float[][] out = new float[x.length][];
        for (int c = 0; c < x.length; c++) {
            out[c] = new float[x[c].length];
            for (int t = 0; t < x[c].length; t++) {
                out[c][t] = (x[c][t] - mean[c]) / std[c];
            }
        }
        return out;
    }
}
