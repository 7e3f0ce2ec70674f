"""Latency, throughput, memory and a battery proxy of .tflite models on the LiteRT interpreter (XNNPACK).

    python -m export.benchmark MODEL.tflite [--profile host|snapdragon865|a13] [--threads N] [--runs N]
                               [--warmup N] [--json OUT.json] [--markdown OUT.md] [--plot OUT.png]
    python -m export.benchmark --compare A.tflite B.tflite ... [--runs N] [--json OUT.json] ...

Host figures are MEASURED on this machine. Device-profile figures are ESTIMATES: host latency
scaled by the ratio of public Geekbench 5 single-core scores (host score / device score), with an
ASSUMED active CPU power for the energy proxy. ``--compare`` runs the models interleaved
(round-robin per iteration) in one process, so their ratios share the machine's noise.

TensorFlow is never imported here (only ai_edge_litert), so memory figures are the interpreter's.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .tflite import ModelFileError, TFLiteRunner, check_flatbuffer, read_tflite

FS_HZ = 360.0  # model input rate (samples per second)
BATTERY_V = 3.85  # nominal Li-ion cell voltage of a phone
INFERENCES_PER_HOUR = 720  # continuous monitoring: one 10-s window every 5 s (50 % overlap)
BEATS_PER_MINUTE = 75  # beat models: one inference per beat at an assumed 75 bpm
PAPER_MAH_PER_HOUR = 2.3  # the paper's claim (ecgnet_tf.claims), shown as a claim only

# Geekbench 5 single-core score assumed for the host when --host-single-core-score is not given.
# The host here is a virtualised "AMD EPYC" (generation not exposed); ~1200 is a typical GB5
# single-core score for a recent EPYC core, an ASSUMPTION, not a measurement. Pass the host's own
# score to make the device estimates meaningful.
DEFAULT_HOST_SINGLE_CORE_SCORE = 1200.0


@dataclass(frozen=True)
class DeviceProfile:
    """A target the host measurement is scaled to (all non-host numbers are documented estimates)."""

    name: str
    description: str
    threads: int  # threads the deployment would use on the device
    single_core_score: float | None  # Geekbench 5 single-core (None: the host's own, configurable)
    active_power_w: float  # ASSUMED active CPU power while inferring
    source: str

    def scale(self, host_score: float) -> float:
        """Host-to-device latency factor (> 1: the device is slower than the host)."""
        if self.single_core_score is None:
            return 1.0
        return host_score / self.single_core_score


PROFILES: dict[str, DeviceProfile] = {
    "host": DeviceProfile(
        "host", "this machine, as measured", 1, None, 2.0,
        "latency measured; power 2 W ASSUMED (same as a mobile big-core cluster, for a like-for-like "
        "battery proxy; the host's real power is not measured)"),
    "snapdragon865": DeviceProfile(
        "snapdragon865", "Snapdragon 865: 1x Cortex-A77 @2.84 GHz + 3x A77 @2.42 GHz (performance cores)", 4,
        900.0, 2.0,
        "Geekbench 5 single-core ~900 (public results); ~2 W active big-core cluster under light load ASSUMED"),
    "a13": DeviceProfile(
        "a13", "Apple A13: 2 performance 'Lightning' cores @2.65 GHz", 2, 1330.0, 2.0,
        "Geekbench 5 single-core ~1330 (public results); ~2 W active performance cluster ASSUMED"),
}


# ---------------------------------------------------------------------------------------------- measuring
def _rss_mb() -> float:
    """Current resident set size of this process (MB)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:  # non-Linux: fall back to the peak
        return _peak_rss_mb()


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3  # bytes on macOS, KiB on Linux


def _random_inputs(runner: TFLiteRunner, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Seeded inputs of one window in the tensors' own dtypes (random int8 codes for integer inputs)."""
    names = {d["index"]: name for name, d in runner.inputs.items()}
    out = {}
    for d in runner.interp.get_input_details():
        name = names.get(d["index"])
        if name is None:
            continue
        dtype = np.dtype(d["dtype"])
        shape = tuple(int(v) for v in d["shape"])
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            x = rng.integers(max(info.min, -128), min(info.max, 127) + 1, size=shape).astype(dtype)
        elif name == "prior":
            x = rng.random(shape).astype(dtype)
        elif name == "rr":  # RR-interval features: seconds and ratios, all positive
            x = rng.uniform(0.4, 1.6, size=shape).astype(dtype)
        elif name == "morph":  # beat-template features: correlations near 1, ratios near 1, deviations near 0
            x = np.clip(rng.normal(0.5, 0.5, size=shape), -1.0, 2.0).astype(dtype)
        else:
            x = rng.standard_normal(shape).astype(dtype)
        out[name] = x
    return out


def _segment_samples(runner: TFLiteRunner) -> int:
    shape = runner.input_shape("ecg")
    return int(shape[1]) if len(shape) >= 2 else int(shape[0])


class _Loaded:
    def __init__(self, path: Path, threads: int, seed: int):
        data = read_tflite(path)
        rss0 = _rss_mb()
        t0 = time.perf_counter()
        try:
            self.runner = TFLiteRunner(data, num_threads=threads)
        except Exception as exc:  # the runtime rejects a damaged model
            raise ModelFileError(f"{path}: cannot be loaded by LiteRT ({str(exc).splitlines()[0][:200]})") from None
        self.interp = self.runner.interp
        self.load_ms = (time.perf_counter() - t0) * 1e3
        self.rss_delta_mb = _rss_mb() - rss0
        self.path = path
        self.size_bytes = len(data)
        self.inputs = _random_inputs(self.runner, np.random.default_rng(seed))
        self.samples = _segment_samples(self.runner)
        self.times_ms: list[float] = []

    def once(self) -> float:
        self.runner.set_inputs(self.inputs)
        t0 = time.perf_counter_ns()
        self.runner.invoke()  # as in deployment: each window starts from zero LSTM state (reset included)
        return (time.perf_counter_ns() - t0) / 1e6


def summarize(times_ms: list[float] | np.ndarray, samples: int, profile: DeviceProfile, host_score: float,
              threads: int, fs: float = FS_HZ) -> dict:
    """Latency percentiles, throughput, and the (estimated) device figures and battery proxy."""
    t = np.asarray(times_ms, dtype=np.float64)
    p50, p90, p99 = (float(np.percentile(t, q)) for q in (50, 90, 99))
    seg_s = samples / fs
    scale = profile.scale(host_score)
    est_p50 = p50 * scale
    energy_j = est_p50 / 1e3 * profile.active_power_w
    joules_per_mah = BATTERY_V * 3.6
    res = {
        "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "mean_ms": float(t.mean()), "min_ms": float(t.min()),
        "runs": int(len(t)), "threads": int(threads), "profile": profile.name,
        "segment_samples": int(samples), "segment_seconds": seg_s,
        "segments_per_s": 1e3 / p50, "ecg_seconds_per_s": seg_s * 1e3 / p50,
        "measured_on": "host",
        "profile_estimate": {
            "is_estimate": profile.name != "host",
            "latency_scale_vs_host": scale, "p50_ms": est_p50, "p90_ms": p90 * scale, "p99_ms": p99 * scale,
            "host_single_core_score": host_score, "device_single_core_score": profile.single_core_score,
            "device_threads_nominal": profile.threads,
            "note": ("host latency at the measured thread count scaled by the Geekbench 5 single-core ratio; "
                     "the device's extra threads are not modelled" if profile.name != "host" else "measured"),
            "active_power_w_assumed": profile.active_power_w, "source": profile.source},
        "energy_per_inference_mj": energy_j * 1e3,
        "inferences_per_hour": INFERENCES_PER_HOUR,
        "mah_per_hour": INFERENCES_PER_HOUR * energy_j / joules_per_mah,
        "battery_note": (f"CPU-inference energy only: p50 ({'estimated' if profile.name != 'host' else 'measured'}) x "
                         f"{profile.active_power_w} W (assumed) x {INFERENCES_PER_HOUR} windows/h (10-s window every 5 s)"
                         f" / {BATTERY_V} V; excludes sensing, radio, display and idle power"),
        "paper_claim_mah_per_hour": PAPER_MAH_PER_HOUR,
    }
    if seg_s < 5.0:  # beat model: one inference per beat
        per_hour = BEATS_PER_MINUTE * 60
        res["per_beat"] = {"assumed_bpm": BEATS_PER_MINUTE, "inferences_per_hour": per_hour,
                           "mah_per_hour": per_hour * energy_j / joules_per_mah,
                           "note": "beat model: one inference per beat at an ASSUMED 75 bpm"}
    return res


def _model_result(m: _Loaded, profile: DeviceProfile, host_score: float, threads: int, fs: float) -> dict:
    r = summarize(m.times_ms, m.samples, profile, host_score, threads, fs)
    r.update({"model": str(m.path), "size_bytes": m.size_bytes, "load_ms": m.load_ms,
              "rss_delta_after_load_mb": m.rss_delta_mb, "peak_rss_mb": _peak_rss_mb(),
              "inputs": [{"name": d["name"], "shape": [int(v) for v in d["shape"]],
                          "dtype": np.dtype(d["dtype"]).name} for d in m.interp.get_input_details()]})
    return r


def run_benchmark(models: list[Path], profile: str = "host", threads: int = 1, runs: int = 50, warmup: int = 5,
                  host_score: float = DEFAULT_HOST_SINGLE_CORE_SCORE, seed: int = 0, fs: float = FS_HZ) -> dict:
    """Benchmark one model (its result dict) or several interleaved (``{"models", "ratios"}``)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if runs < 1 or warmup < 0 or threads < 1:
        raise ValueError("--runs and --threads must be >= 1 and --warmup >= 0")
    prof = PROFILES[profile]
    for p in models:  # validate every file before loading any
        check_flatbuffer(read_tflite(p), name=str(p))
    loaded = [_Loaded(Path(p), threads, seed) for p in models]
    for _ in range(warmup):
        for m in loaded:
            m.once()
    for _ in range(runs):  # round-robin: every model sees the same machine state
        for m in loaded:
            m.times_ms.append(m.once())
    results = {str(m.path): _model_result(m, prof, host_score, threads, fs) for m in loaded}
    env = {"host_cpu": _cpu_name(), "cpu_count": os.cpu_count(), "interleaved": len(loaded) > 1,
           "xnnpack": True, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if len(loaded) == 1:
        res = next(iter(results.values()))
        res["environment"] = env
        res["_times_ms"] = loaded[0].times_ms
        return res
    keys = list(results)
    first = results[keys[0]]["p50_ms"]
    ratios = {"baseline": keys[0],
              "p50_vs_first": {k: results[k]["p50_ms"] / first for k in keys},
              "speedup": {f"{Path(a).name} vs {Path(b).name}": results[b]["p50_ms"] / results[a]["p50_ms"]
                          for a in keys for b in keys if a != b},
              "note": "speedup 'A vs B' = p50(B) / p50(A), measured interleaved in one process"}
    return {"models": results, "ratios": ratios, "profile": profile, "threads": threads, "runs": runs,
            "warmup": warmup, "environment": env, "_times_ms": {str(m.path): m.times_ms for m in loaded}}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


# ---------------------------------------------------------------------------------------------- reports
def _row(name: str, r: dict) -> str:
    est = r["profile_estimate"]
    return (f"| {name} | {r['size_bytes'] / 1e6:.2f} | {r['threads']} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['segments_per_s']:.1f} | {r['ecg_seconds_per_s']:.0f} | {r['load_ms']:.0f} | "
            f"{r['peak_rss_mb']:.0f} | {r['rss_delta_after_load_mb']:.1f} | {est['p50_ms']:.2f} | "
            f"{r['mah_per_hour']:.4f} |")


def to_markdown(res: dict) -> str:
    models = res["models"] if "models" in res else {res["model"]: res}
    first = next(iter(models.values()))
    prof = PROFILES[first["profile"]]
    est = first["profile_estimate"]
    lines = [
        "# ecgnet TFLite benchmark", "",
        f"LiteRT interpreter with XNNPACK, random inputs, {first['runs']} timed runs after warm-up; host CPU "
        f"`{res['environment']['host_cpu']}` ({res['environment']['cpu_count']} cores, shared with other jobs).",
        f"Profile **{prof.name}** ({prof.description}).", "",
        "Host columns are **measured**. `est. p50` is an **estimate** for the profile: host p50 x "
        f"{est['latency_scale_vs_host']:.3f} (host Geekbench 5 single-core {est['host_single_core_score']:g}, "
        f"an assumed constant (`--host-single-core-score`), / device {est['device_single_core_score']}); "
        f"mAh/h uses an **assumed** {prof.active_power_w} W active CPU power, {INFERENCES_PER_HOUR} windows/h, "
        f"{BATTERY_V} V. Paper claim (not a measurement): {PAPER_MAH_PER_HOUR} mAh/h.", "",
        "| model | MB | threads | p50 ms | p90 ms | p99 ms | segments/s | ECG s/s | load ms | peak RSS MB | "
        "RSS after load MB | est. p50 ms | mAh/h (est.) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(Path(k).name, r) for k, r in models.items()]
    beat = [(Path(k).name, r["per_beat"]) for k, r in models.items() if "per_beat" in r]
    if beat:
        lines += ["", "Beat models (per beat at an assumed 75 bpm): " + ", ".join(
            f"{n}: {b['mah_per_hour']:.4f} mAh/h" for n, b in beat)]
    if "ratios" in res:
        lines += ["", "## Ratios (interleaved in one process)", "", "| pair | speedup |", "|---|---|"]
        lines += [f"| {k} | {v:.2f}x |" for k, v in res["ratios"]["speedup"].items()]
    if len(models) > 1:
        lines += ["", "Peak RSS is of the whole process (all models loaded); `RSS after load` is per model."]
    lines += ["", f"Profile source: {prof.source}.", ""]
    return "\n".join(lines)


def plot(res: dict, times: dict | list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = times if isinstance(times, dict) else {res["model"]: times}
    fig, ax = plt.subplots(figsize=(7, 3.5))
    data = [series[k] for k in series]
    try:
        ax.boxplot(data, orientation="horizontal", showfliers=True)
    except TypeError:  # matplotlib < 3.10
        ax.boxplot(data, vert=False, showfliers=True)
    ax.set_yticks(range(1, len(series) + 1), [Path(k).name for k in series])
    ax.set_xscale("log")
    ax.set_xlabel("latency per inference (ms, host, measured)")
    ax.set_title("ecgnet TFLite latency distribution (LiteRT + XNNPACK)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(res: dict, json_path: Path | None, md_path: Path | None, png_path: Path | None) -> dict:
    times = res.pop("_times_ms")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(res, indent=2))
    if md_path:
        Path(md_path).parent.mkdir(parents=True, exist_ok=True)
        Path(md_path).write_text(to_markdown(res))
    if png_path:
        Path(png_path).parent.mkdir(parents=True, exist_ok=True)
        plot(res, times, Path(png_path))
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.benchmark", description=__doc__.splitlines()[0])
    p.add_argument("model", nargs="?", type=Path, help=".tflite model, or a pretrained name (beats, rhythm, mi)")
    p.add_argument("--compare", nargs="+", type=Path, default=None, metavar="MODEL",
                   help="benchmark several models interleaved and report ratios vs the first")
    p.add_argument("--profile", default="host", choices=tuple(PROFILES))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--host-single-core-score", type=float, default=DEFAULT_HOST_SINGLE_CORE_SCORE,
                   help="the host's Geekbench 5 single-core score (default %(default)s, an assumption)")
    p.add_argument("--fs", type=float, default=FS_HZ, help="input sampling rate for ECG-seconds/s")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--markdown", type=Path, default=None)
    p.add_argument("--plot", type=Path, default=None)
    a = p.parse_args(argv)
    models = list(a.compare or []) if a.compare else ([a.model] if a.model else [])
    if a.compare and a.model:
        models = [a.model] + models
    if not models:
        p.error("give a MODEL.tflite or --compare A.tflite B.tflite ...")
    from ..data.errors import DataError
    from ..pretrained.registry import analysis_model

    try:
        # a pretrained name (beats, rhythm, mi) stands for its verified int8 file
        models = [analysis_model(m)[0] for m in models]
        res = run_benchmark(models, a.profile, a.threads, a.runs, a.warmup, a.host_single_core_score, a.seed, a.fs)
    except (ModelFileError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    res = write_outputs(res, a.json, a.markdown, a.plot)
    print(to_markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
