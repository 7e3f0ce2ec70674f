"""Batch analysis of a recording file: the streaming Monitor fed chunk by chunk from a source."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .classifiers import WindowClassifier
from .config import MonitorConfig
from .monitor import Monitor
from .reference import read_reference
from .report import build_report, write_json, write_tables
from .sources import SignalSource

#: Samples read per chunk from a file (bounded memory; the Monitor keeps one block + margins).
READ_CHUNK = 65_536


def run_source(source: SignalSource, classifier: WindowClassifier, cfg: MonitorConfig,
               beat_classifier: WindowClassifier | None = None, chunk_samples: int = READ_CHUNK) -> Monitor:
    """Push every chunk of ``source`` through a Monitor (``cfg.fs`` is replaced by the source's rate)."""
    mon = Monitor(classifier, replace(cfg, fs=source.info.fs), beat_classifier)
    for block in source.chunks(chunk_samples):
        mon.push(block)
    mon.finish()
    return mon


def analyze(source: SignalSource, classifier: WindowClassifier, cfg: MonitorConfig, out: Path,
            beat_classifier: WindowClassifier | None = None, reference_ext: str | None = None,
            model_source: str = "", html: bool = True) -> dict:
    """Analyse ``source`` and write report.json, episodes.csv, windows.csv (beats.csv), report.html."""
    ref = None
    if reference_ext:
        ref, _ = read_reference(source.info.path, reference_ext)
    mon = run_source(source, classifier, cfg, beat_classifier)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep = build_report(mon, source.info, model_source, ref)
    write_json(rep, out / "report.json")
    write_tables(mon, rep, out)
    if html:
        from .html import render

        (out / "report.html").write_text(render(rep, mon), encoding="utf-8")
    return rep
