"""Figures like the paper's Figure 1: the ECG with a 0..1 heatmap overlaid (blue -> yellow -> red,
with a colour bar), the attention curves over time (ms) below, QRS marks at the R peaks.

P and T waves are not annotated in the data (only R peaks: MIT-BIH reference beats or detections),
so they are not marked; the PR and ST-T *zones* used by the attribution are shaded on the curve
axis instead. Uses matplotlib's object API (no pyplot state).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from .zones import ZONES

HEAT_COLOURS: tuple[str, ...] = ("#2b4cc4", "#f7e846", "#d7191c")  # blue -> yellow -> red
ZONE_COLOURS: dict[str, str] = {"qrs": "#9e9e9e", "st_t": "#80cbc4", "pr": "#ce93d8"}
CURVE_COLOURS: dict[str, str] = {"gradcam": "#d7191c", "gradcam++": "#d7191c", "scorecam": "#d7191c",
                                 "guided_mask": "#1b7837", "spatial_attention": "#2b4cc4", "mhsa": "#ff7f00"}


def heat_cmap() -> LinearSegmentedColormap:
    """The 0..1 heatmap colour scale: blue (0) -> yellow (0.5) -> red (1)."""
    return LinearSegmentedColormap.from_list("ecgnet_heat", list(HEAT_COLOURS))


@dataclass(frozen=True)
class FigureConfig:
    """dpi; width_in / lead_height_in / curve_height_in in inches; heat_alpha: overlay opacity;
    grid: (rows, cols) of the 12-lead layout."""

    dpi: int = 110
    width_in: float = 13.0
    lead_height_in: float = 1.25
    curve_height_in: float = 2.2
    heat_alpha: float = 0.55
    grid: tuple[int, int] = (6, 2)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.flatnonzero(np.diff(m.astype(np.int8)))
    return list(zip(d[0::2], d[1::2]))


def _draw_lead(ax, t_ms, sig, heat, rpeaks_ms, name, cmap, alpha):
    lo, hi = float(np.min(sig)), float(np.max(sig))
    pad = 0.1 * (hi - lo + 1e-6)
    ax.imshow(heat[None, :], extent=(t_ms[0], t_ms[-1], lo - pad, hi + pad), aspect="auto", cmap=cmap,
              vmin=0.0, vmax=1.0, alpha=alpha, interpolation="bilinear", origin="lower")
    ax.plot(t_ms, sig, color="black", lw=0.7)
    ax.set_xlim(t_ms[0], t_ms[-1])
    ax.set_ylim(lo - pad, hi + pad)
    for r in rpeaks_ms:
        ax.annotate("QRS", (r, hi + pad), xytext=(0, -1), textcoords="offset points", ha="center", va="top",
                    fontsize=6, color="#333333")
    ax.text(0.005, 0.95, name, transform=ax.transAxes, va="top", fontsize=8, weight="bold",
            bbox={"facecolor": "white", "alpha": 0.7, "lw": 0})
    ax.tick_params(labelsize=6)


def plot_explanation(path: Path, ecg: np.ndarray, fs: float, heat: np.ndarray, curves: dict[str, np.ndarray],
                     rpeaks: np.ndarray, lead_names: tuple[str, ...], title: str = "",
                     zones: np.ndarray | None = None, heat_label: str = "Grad-CAM",
                     cfg: FigureConfig = FigureConfig()) -> Path:
    """Write the figure for one window to ``path`` (PNG) and return it.

    ecg: (T, C) mV (not z-scored); fs: Hz; heat: (T,) 0..1 overlay; curves: name -> (T,) 0..1
    drawn below against time in ms; rpeaks: R-peak sample indices in the window; zones: (T,) zone
    labels (indices into ``ZONES``) shaded on the curve axis.
    """
    ecg = np.asarray(ecg, dtype=np.float64)
    ecg = ecg[:, None] if ecg.ndim == 1 else ecg
    n, c = ecg.shape
    heat = np.clip(np.asarray(heat, dtype=np.float64), 0.0, 1.0)
    if heat.shape != (n,):
        raise ValueError(f"heat has shape {heat.shape}, expected ({n},)")
    t_ms = np.arange(n) / fs * 1000.0
    r_ms = np.asarray(rpeaks, dtype=np.float64) / fs * 1000.0
    rows, cols = cfg.grid if c > 1 else (1, 1)
    rows = max(rows, int(np.ceil(c / cols)))
    fig = Figure(figsize=(cfg.width_in, rows * cfg.lead_height_in * (1 if c > 1 else 2) + cfg.curve_height_in + 0.6),
                 dpi=cfg.dpi)
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(rows + 1, cols, height_ratios=[cfg.lead_height_in * (1 if c > 1 else 2)] * rows
                          + [cfg.curve_height_in], hspace=0.35, wspace=0.06, left=0.05, right=0.9, top=0.93,
                          bottom=0.07)
    cmap = heat_cmap()
    for i in range(c):
        ax = fig.add_subplot(gs[i % rows, i // rows])
        _draw_lead(ax, t_ms, ecg[:, i], heat, r_ms, lead_names[i] if i < len(lead_names) else f"lead {i}",
                   cmap, cfg.heat_alpha)
        if i % rows != rows - 1:
            ax.set_xticklabels([])
    ax_c = fig.add_subplot(gs[rows, :])
    if zones is not None:
        for z, colour in ZONE_COLOURS.items():
            for a, b in _runs(np.asarray(zones) == ZONES.index(z)):
                ax_c.axvspan(t_ms[a], t_ms[min(b, n - 1)], color=colour, alpha=0.25, lw=0)
    for name, v in curves.items():
        ax_c.plot(t_ms, v, lw=1.2, label=name, color=CURVE_COLOURS.get(name.lower()))
    for r in r_ms:
        ax_c.axvline(r, color="#555555", lw=0.5, ls=":")
    ax_c.set_xlim(t_ms[0], t_ms[-1])
    ax_c.set_ylim(-0.02, 1.05)
    ax_c.set_xlabel("time (ms)")
    ax_c.set_ylabel("attention (0..1)")
    handles, labels = ax_c.get_legend_handles_labels()
    if zones is not None:
        from matplotlib.patches import Patch

        handles += [Patch(color=col, alpha=0.35) for col in ZONE_COLOURS.values()]
        labels += [f"{z} zone" for z in ZONE_COLOURS]
    ax_c.legend(handles, labels, fontsize=7, ncol=4, loc="upper right", framealpha=0.8)
    ax_c.tick_params(labelsize=7)
    cax = fig.add_axes((0.915, 0.35, 0.012, 0.5))
    sm = fig.colorbar(_mappable(cmap), cax=cax)
    sm.set_label(f"{heat_label} (0..1)", fontsize=8)
    sm.ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _mappable(cmap):
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    return ScalarMappable(norm=Normalize(0.0, 1.0), cmap=cmap)
