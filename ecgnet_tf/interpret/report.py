"""Region / lead attribution over many windows, the overlap metric, and the JSON / Markdown report.

Per window (pure numpy):

* *Region shares*: the non-negative attribution map resampled to the input length (Grad-CAM by
  default), summed inside each zone of :mod:`ecgnet_tf.interpret.zones` and divided by its total
  (un-normalised map, so the shares are shares of attribution mass). Windows whose map is all zero
  carry no attribution and are left out (counted as ``n_empty``).
* *Lead shares* (multi-lead tasks): gradient x input, ``|dS/dx_c(t) * x_c(t)|`` with S the target
  class logit and x the z-scored input, summed over time per lead and divided by the sum over all
  leads. (Grad-CAM itself has no lead axis: the stem convolution mixes the leads.)

Partition figures are the means of the per-window shares (each window weighs the same), so they
sum to 1. ``per_class`` groups windows by the *explained* class (the predicted class, or
``--class``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..claims import PAPER_CLAIMS
from .overlap import chance_hit, region_hits, top_region
from .zones import ZONES, ZoneConfig

#: Reference zone of the overlap metric per task database.
REFERENCE_ZONE: dict[str, str] = {"mitdb": "qrs", "ptbxl": "st_t", "cinc2017": "st_t"}
LEAD_GROUPS: dict[str, tuple[str, ...]] = {"V4-V6": ("V4", "V5", "V6"), "V1-V3": ("V1", "V2", "V3"),
                                           "II/III/aVF": ("II", "III", "AVF"), "I/aVL": ("I", "AVL")}


@dataclass
class WindowAttribution:
    """Per-window results accumulated over records (n windows)."""

    regions: list[np.ndarray] = field(default_factory=list)  # (len(ZONES),) shares
    leads: list[np.ndarray] = field(default_factory=list)  # (C,) shares
    explained: list[int] = field(default_factory=list)
    hits: list[bool] = field(default_factory=list)
    chance: list[float] = field(default_factory=list)
    profile: list[np.ndarray] = field(default_factory=list)  # (len(PROFILE_EDGES_MS) - 1,) shares
    n_empty: int = 0

    def add(self, regions: np.ndarray | None, leads: np.ndarray | None, explained: int, hit: bool | None,
            chance: float | None, profile: np.ndarray | None = None) -> None:
        """Add one window (``regions`` None: empty map, counted in ``n_empty``)."""
        if regions is None:
            self.n_empty += 1
            return
        if profile is not None:
            self.profile.append(np.asarray(profile, dtype=np.float64))
        self.regions.append(np.asarray(regions, dtype=np.float64))
        if leads is not None:
            self.leads.append(np.asarray(leads, dtype=np.float64))
        self.explained.append(int(explained))
        if hit is not None:
            self.hits.append(bool(hit))
            self.chance.append(float(chance))


PROFILE_EDGES_MS: tuple[float, ...] = tuple(float(v) for v in range(-400, 401, 20))
"""Bins (ms from the nearest R peak) of the attribution-vs-time profile."""


def offset_profile(weights: np.ndarray, offsets_s: np.ndarray) -> np.ndarray | None:
    """Share of the non-negative ``weights`` (T,) per bin of signed offset to the nearest R peak.

    Bins: :data:`PROFILE_EDGES_MS`; mass beyond +/-400 ms is not counted, so the shares of one
    window sum to <= 1. None without R peaks or attribution.
    """
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    off = np.asarray(offsets_s, dtype=np.float64) * 1000.0
    tot = w.sum()
    if tot <= 0 or np.all(np.isnan(off)):
        return None
    h, _ = np.histogram(off[~np.isnan(off)], bins=np.asarray(PROFILE_EDGES_MS), weights=w[~np.isnan(off)])
    return h / tot


def lead_shares(gx: np.ndarray) -> np.ndarray | None:
    """Per-lead shares (C,) of a gradient x input map (T, C); None when it is all zero."""
    s = np.abs(np.asarray(gx, dtype=np.float64)).sum(axis=0)
    tot = s.sum()
    return s / tot if tot > 0 and np.isfinite(tot) else None


def window_overlap(heat: np.ndarray, labels: np.ndarray, zone: str, top_fraction: float) -> tuple[bool, float]:
    """(hit, chance) of one window, see :mod:`ecgnet_tf.interpret.overlap`."""
    ref = np.asarray(labels) == ZONES.index(zone)
    if not ref.any():
        return False, 0.0
    region = top_region(heat, top_fraction)
    return region_hits(region, ref), chance_hit(region[1] - region[0], ref)


def _shares(vectors: list[np.ndarray], names) -> dict[str, float]:
    if not vectors:
        return {}
    m = np.mean(np.stack(vectors), axis=0)
    return {str(k): float(v) for k, v in zip(names, m)}


def _groups(leads: dict[str, float]) -> dict[str, float]:
    up = {k.upper(): v for k, v in leads.items()}
    return {g: float(sum(up[m] for m in members)) for g, members in LEAD_GROUPS.items()
            if all(m in up for m in members)}


def summarise(acc: WindowAttribution, class_names: tuple[str, ...], lead_names: tuple[str, ...], method: str,
              task: str, database: str, zone_cfg: ZoneConfig, top_fraction: float, layer: str,
              rpeak_source: str, scope: str) -> dict:
    """The attribution.json content (see the module docstring for the definitions)."""
    if not acc.regions:
        raise ValueError("no window with a non-zero attribution map to summarise")
    leads = _shares(acc.leads, lead_names)
    per_class = {}
    expl = np.asarray(acc.explained)
    for k, name in enumerate(class_names):
        idx = np.flatnonzero(expl == k)
        if not len(idx):
            continue
        pc_leads = _shares([acc.leads[i] for i in idx], lead_names) if acc.leads else {}
        per_class[name] = {"n_windows": int(len(idx)), "regions": _shares([acc.regions[i] for i in idx], ZONES),
                           "leads": pc_leads, "lead_groups": _groups(pc_leads)}
        if acc.hits:
            per_class[name]["overlap"] = float(np.mean([acc.hits[i] for i in idx]))
    ref = REFERENCE_ZONE[database]
    return {
        "task": task,
        "scope": scope,
        "method": method,
        "layer": layer,
        "n_windows": len(acc.regions),
        "n_empty_maps": acc.n_empty,
        "regions": _shares(acc.regions, ZONES),
        "leads": leads,
        "lead_groups": _groups(leads),
        "per_class": per_class,
        "overlap": {"value": float(np.mean(acc.hits)) if acc.hits else None,
                    "chance": float(np.mean(acc.chance)) if acc.chance else None,
                    "n_windows": len(acc.hits), "reference_zone": ref, "top_fraction": top_fraction,
                    "rpeaks": rpeak_source},
        "profile_ms": {"bin_edges_ms": list(PROFILE_EDGES_MS),
                       "share": [float(v) for v in np.mean(np.stack(acc.profile), axis=0)] if acc.profile else []},
        "definitions": definitions(zone_cfg, top_fraction, ref, rpeak_source, method),
        "paper_claims": {k: v for k, v in PAPER_CLAIMS["interpretability"].items()},
    }


def definitions(zone_cfg: ZoneConfig, top_fraction: float, ref: str, rpeak_source: str, method: str) -> dict:
    """Text definitions stored next to the numbers."""
    return {
        "zones": zone_cfg.describe(),
        "rpeaks": f"{rpeak_source} R peaks (" + ("MIT-BIH reference beat annotations" if rpeak_source == "reference"
                                                 else "Pan-Tompkins on the preprocessed record") + ")",
        "region_share": f"{method} map (ReLU, un-normalised) resampled to the input length, summed per zone / total; "
                        "mean over windows (each window weighs the same); all-zero maps left out",
        "lead_share": "gradient x input |dS/dx_c(t) x_c(t)| (S: target class logit, x: z-scored input) summed over "
                      "time per lead / sum over leads; mean over windows",
        "overlap": f"fraction of windows whose top-attention region (contiguous run of samples >= the "
                   f"{1 - top_fraction:.2f} quantile of the map, containing its argmax) intersects the {ref} zone; "
                   "chance = probability that a span of the same length placed uniformly in the window does",
        "profile_ms": "attribution share per 20-ms bin of signed time to the nearest R peak (-400..+400 ms), "
                      "mean over windows; shows where the map sits relative to R independently of the zone edges",
        "explained_class": "the predicted class (argmax of the output) unless --class is given",
        "windows": "windows failing the training quality gate are left out (unless a record has no other); at "
                   "most --max-windows, spread evenly over the records (one beat of each class first, then seeded "
                   "random ones)",
    }


_CLAIM_KEYS = {"qrs": "qrs_share", "st_t": "st_t_share", "pr": "pr_share", "baseline": "baseline_share"}


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def markdown(summary: dict) -> str:
    """attribution.md: measured values next to the paper's claims (labelled as claims)."""
    c = summary["paper_claims"]
    lines = [f"# Attribution: {summary['task']} ({summary['scope']})", "",
             f"Method: {summary['method']} on layer `{summary['layer']}`; {summary['n_windows']} windows "
             f"({summary['n_empty_maps']} all-zero maps left out). Paper values are **claims** quoted from the "
             "paper, not results of this project.", "",
             "| region | measured | paper claim |", "|---|---|---|"]
    for z in ZONES:
        lines.append(f"| {z} | {_pct(summary['regions'].get(z))} | {_pct(c.get(_CLAIM_KEYS[z]))} (claim) |")
    ov = summary["overlap"]
    lines += ["", "| metric | measured | chance level | paper claim |", "|---|---|---|---|",
              f"| top-attention overlap with {ov['reference_zone']} zone | {_pct(ov['value'])} | "
              f"{_pct(ov['chance'])} | "
              f"{_pct(c.get('top_attention_overlap'))} (claim) |"]
    if summary["lead_groups"]:
        mi = summary["per_class"].get("MI", {}).get("lead_groups", {}).get("V4-V6")
        lines += ["", "| lead group | measured (all windows) | measured (explained class MI) | paper claim (MI) |",
                  "|---|---|---|---|"]
        for g, v in summary["lead_groups"].items():
            claim = f"{_pct(c.get('v4_v6_share_mi'))} (claim)" if g == "V4-V6" else "-"
            lines.append(f"| {g} | {_pct(v)} | {_pct(mi) if g == 'V4-V6' else '-'} | {claim} |")
    if summary["leads"] and len(summary["leads"]) > 1:
        lines += ["", "Per-lead shares: " + ", ".join(f"{k} {_pct(v)}" for k, v in summary["leads"].items())]
    prof = summary.get("profile_ms", {}).get("share") or []
    if prof:
        edges = summary["profile_ms"]["bin_edges_ms"]
        top = np.argsort(prof)[::-1][:5]
        lines += ["", "Attribution vs time from the nearest R peak (largest 20-ms bins): " + ", ".join(
            f"{edges[i]:+.0f}..{edges[i + 1]:+.0f} ms {_pct(prof[i])}" for i in sorted(top))]
    lines += ["", "## Per explained class", "", "| class | windows | " + " | ".join(ZONES) + " | overlap |",
              "|---|---|" + "---|" * len(ZONES) + "---|"]
    for name, pc in summary["per_class"].items():
        lines.append(f"| {name} | {pc['n_windows']} | " + " | ".join(_pct(pc["regions"].get(z)) for z in ZONES)
                     + f" | {_pct(pc.get('overlap'))} |")
    lines += ["", "## Definitions", ""]
    for k, v in summary["definitions"].items():
        if isinstance(v, dict):
            lines.append(f"- **{k}**: " + "; ".join(f"{a}: {b}" for a, b in v.items()))
        else:
            lines.append(f"- **{k}**: {v}")
    return "\n".join(lines) + "\n"


def write_attribution(out_dir: Path, summary: dict) -> tuple[Path, Path]:
    """Write ``attribution.json`` and ``attribution.md`` under ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    j = out_dir / "attribution.json"
    j.write_text(json.dumps(summary, indent=2))
    m = out_dir / "attribution.md"
    m.write_text(markdown(summary))
    return j, m
