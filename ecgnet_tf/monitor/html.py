"""Self-contained HTML report: PNG figures embedded as base64, no external files."""
from __future__ import annotations

import base64
import html
import io

import numpy as np

from .monitor import ExampleStrip, Monitor

COLORS: dict[str, str] = {"AF": "#d62728", "other": "#ff7f0e", "noise": "#7f7f7f", "N": "#2ca02c"}


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _color(label: str) -> str:
    return COLORS.get(label, "#1f77b4")


def _scale(duration_s: float) -> tuple[float, str]:
    return (3600.0, "h") if duration_s > 2 * 3600 else (60.0, "min")


def timeline_png(rep: dict) -> str:
    """Episodes (one row per label), rejected windows and reference AF as horizontal bars."""
    import matplotlib.pyplot as plt

    dur = max(rep["duration_s"], 1e-9)
    div, unit = _scale(dur)
    labels = sorted({e["label"] for e in rep["episodes"]})
    rows = labels + (["reference AF"] if "reference" in rep else [])
    fig, ax = plt.subplots(figsize=(10, 0.5 + 0.45 * max(len(rows), 1)))
    for i, lab in enumerate(labels):
        bars = [(e["start_s"] / div, e["duration_s"] / div) for e in rep["episodes"] if e["label"] == lab]
        ax.broken_barh(bars, (i - 0.35, 0.7), color=_color(lab))
    if "reference" in rep:
        bars = [(a / div, (b - a) / div) for a, b in rep["reference"]["reference_af_intervals"]]
        ax.broken_barh(bars, (len(labels) - 0.35, 0.7), color="#9467bd")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlim(0, dur / div)
    ax.set_ylim(-0.6, max(len(rows), 1) - 0.4)
    ax.set_xlabel(f"time ({unit})")
    ax.set_title("Rhythm episodes (background: N)")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def hourly_png(rep: dict) -> str:
    """AF minutes per hour of recording, with the analysable minutes as a light bar behind."""
    import matplotlib.pyplot as plt

    af = np.asarray(rep["hourly_af_minutes"])
    ok = np.asarray(rep["hourly_analysable_minutes"])
    h = np.arange(len(af))
    fig, ax = plt.subplots(figsize=(10, 2.6))
    ax.bar(h, ok, color="#dddddd", label="analysable")
    ax.bar(h, af, color=COLORS["AF"], label="AF")
    ax.set_xlabel("hour of recording")
    ax.set_ylabel("minutes")
    ax.set_title("AF minutes per hour")
    ax.legend(loc="upper right", fontsize=8)
    return _png(fig)


def strip_png(s: ExampleStrip) -> str:
    """The ECG around one window, the window shaded in its label's colour."""
    import matplotlib.pyplot as plt

    t = s.t0_s + np.arange(len(s.signal)) / s.fs
    fig, ax = plt.subplots(figsize=(10, 1.8))
    ax.plot(t, s.signal, lw=0.6, color="k")
    a = s.t0_s + s.w0 / s.fs
    ax.axvspan(a, a + s.wlen / s.fs, color=_color(s.label), alpha=0.18)
    prob = "" if s.prob is None else f" p={s.prob:.2f}"
    why = f" rejected: {', '.join(s.reasons)}" if s.reasons else ""
    ax.set_title(f"{s.label}{prob}{why} at {a:.1f} s", fontsize=9)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mV")
    return _png(fig)


def _table(rows: list[dict], cols: list[str], limit: int = 200) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in cols) + "</tr>"
                   for r in rows[:limit])
    more = f"<p>{len(rows) - limit} more in episodes.csv</p>" if len(rows) > limit else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def render(rep: dict, mon: Monitor) -> str:
    """The HTML page for a report dict and its monitor (for the example strips)."""
    import matplotlib

    matplotlib.use("Agg")
    img = '<img alt="{}" src="data:image/png;base64,{}">'
    burden = rep["af_burden_pct"]
    rej = rep["rejected_windows"]
    ov = rep["routing"]["overall"]
    facts = [("duration", f"{rep['duration_s'] / 60:.1f} min"),
             ("AF burden (of analysable time)", "n/a" if burden is None else f"{burden:.1f} %"),
             ("AF episodes", rep["af_episode_count"]), ("longest AF episode", f"{rep['longest_af_episode_s']:.0f} s"),
             ("rejected windows", f"{rej['count']} ({(rej['fraction'] or 0) * 100:.1f} %) {rej['by_reason']}"),
             ("overall", f"{ov['decision']} (confidence {ov['confidence']}) -> {ov['routing']}")]
    if "reference" in rep:
        r = rep["reference"]
        facts += [("episode sensitivity / PPV", f"{r['episode_sensitivity']} / {r['episode_ppv']}"),
                  ("median onset latency", f"{r['onset_latency_s']['median_s']} s (paper claim: "
                                           f"{r['onset_latency_s']['paper_claim_median_s']} s)")]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>ECG monitoring report</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}img{max-width:100%}</style></head><body>",
        f"<h1>ECG monitoring report</h1><p>{html.escape(rep.get('input', {}).get('path', 'stream'))} - model "
        f"{html.escape(rep['model']['task'])} ({html.escape(rep['model']['source'])}). Research software, "
        "not a medical device.</p>",
        "<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts)
        + "</table>",
        "<h2>Timeline</h2>", img.format("timeline", timeline_png(rep)),
        "<h2>Hourly AF burden</h2>", img.format("hourly burden", hourly_png(rep)),
        "<h2>Episodes</h2>", _table(rep["episodes"], ["label", "start_s", "end_s", "duration_s", "mean_prob",
                                                      "routing"]),
        "<h2>Example strips</h2>",
    ]
    for key in sorted(mon.examples):
        parts.append(img.format(f"strip {key}", strip_png(mon.examples[key])))
    parts.append("</body></html>")
    return "\n".join(parts)
