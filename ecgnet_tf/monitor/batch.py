"""Batch analysis of a recording file: the streaming Monitor fed chunk by chunk from a source."""
from __future__ import annotations

from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class AnalyzeRequest:
    """One recording to analyse (the ``analyze`` command's options, same names).

    path: WFDB record, .csv or .npy. model: rhythm model (pretrained name, run folder, .tflite or
    "rr-rule"; None: the pretrained pair, rhythm + beats, when shipped). fs:
    sampling rate in Hz (csv / npy). out: output folder (default ``./<name>_monitor``). auto_report /
    review: routing probabilities. beat_model: a mitdb-aami run folder for the per-beat table.
    no_smoothing: ignore the run's validated AF smoothing (``af_smoothing.json``, see
    :func:`run_smoothing`).
    """

    path: Path
    model: Path | str | None = None
    run: Path | None = None
    out: Path | None = None
    fs: float | None = None
    format: str = "auto"
    lead: str | None = None
    reference_annotations: str | None = None
    auto_report: float = 0.95
    review: float = 0.85
    beat_model: Path | str | None = None
    max_gap_windows: int = 1
    min_episode_windows: int = 1
    no_html: bool = False
    no_smoothing: bool = False
    no_quality_gate: bool = False
    quality_gate: Path | None = None


def run_smoothing(model: Path | str, run: Path | None = None, network_only: bool = False):
    """The validated AF smoothing of the run behind ``model`` (a run folder, or ``run`` for a .tflite),
    or None when there is none (``network_only``: see :func:`~.smoothing.load_smoothing`)."""
    from .smoothing import load_smoothing

    folder = Path(model) if Path(model).is_dir() else run
    return load_smoothing(folder, network_only)


def run_context(model: Path | str, run: Path | None, smoothing):
    """The context model (:class:`~.context.ContextModel`: the run's record model on the last
    ``smoothing.context_s`` seconds) when the validated decisions use one, else None."""
    if smoothing is None or smoothing.context_s is None:
        return None
    from .context import ContextModel

    folder = Path(model) if Path(model).is_dir() else run
    if folder is None:
        raise ValueError(f"{model}: its AF decisions need the run's record model; pass the run folder (--run)")
    return ContextModel.from_run(folder, smoothing.context_s)


def analyze_recording(req: AnalyzeRequest) -> tuple[dict, Path]:
    """Analyse one recording file; returns (report, output folder). Raises DataError / ValueError on bad input."""
    from ..data.errors import DataError
    from .classifiers import load_classifier
    from .config import RoutingConfig
    from .sources import open_source
    from ..signal_quality import load_gate

    from ..pretrained import DEFAULT_ANALYZE
    from ..pretrained.registry import analysis_model

    routing = RoutingConfig(auto_report=req.auto_report, review=req.review)
    # validate the input before loading TensorFlow (fast, clear errors)
    probe = open_source(req.path, req.format, req.fs, req.lead, None)
    model_arg, beat_arg = req.model, req.beat_model
    if model_arg is None:  # the shipped pair
        model_arg = DEFAULT_ANALYZE[0]
        beat_arg = DEFAULT_ANALYZE[1] if beat_arg is None else beat_arg
    beat_arg = None if str(beat_arg) == "none" else beat_arg
    run = req.run
    if str(model_arg) == "rr-rule":
        from .rule import RRRuleClassifier, rule_spec

        clf = RRRuleClassifier(rule_spec())
        model_path = model_arg
    else:
        model_path, pre_run = analysis_model(model_arg)
        run = run or pre_run
        clf = load_classifier(model_path, run)
    beat = None
    if beat_arg is not None:
        beat_path, beat_run = analysis_model(beat_arg)
        beat = load_classifier(beat_path, beat_run)
    if beat is not None and beat.spec.prior_kind != "beat":
        raise DataError(f"{req.beat_model}: --beat-model needs a beat model (mitdb-aami), got {beat.spec.task}")
    source = open_source(req.path, req.format, req.fs, req.lead, clf.spec.n_leads)
    smoothing = None if req.no_smoothing or str(model_arg) == "rr-rule" else run_smoothing(model_path, run)
    cfg = MonitorConfig(fs=source.info.fs, routing=routing, max_gap_windows=req.max_gap_windows,
                        min_episode_windows=req.min_episode_windows, smoothing=smoothing,
                        context=run_context(model_path, run, smoothing),
                        use_quality_gate=not req.no_quality_gate,
                        quality_gate=load_gate(req.quality_gate) if req.quality_gate else None)
    out = Path(req.out or Path(f"{Path(probe.info.path).stem}_monitor"))
    rep = analyze(source, clf, cfg, out, beat, req.reference_annotations, str(model_arg), not req.no_html)
    return rep, out

