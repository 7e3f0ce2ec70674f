"""Continuous ECG monitoring: stream a recording of any length through a window classifier and
merge the window decisions into rhythm episodes, AF burden, onset latency and confidence routing.

Modules: sources (chunked WFDB/CSV/NPY readers), classifiers (Keras run / LiteRT adapters behind
WindowClassifier), blocks (block geometry and block-wise preprocessing), episodes (merging),
monitor (the streaming Monitor), burden / reference / routing (pure arithmetic), report / fhir /
html (outputs), batch (file analysis), rule (a model-free RR-irregularity classifier),
af_benchmark (MIT-BIH AF figures).
"""
from .classifiers import KerasRunClassifier, ModelSpec, TfliteClassifier, WindowClassifier, load_classifier
from .config import DEFAULT_LABELS, MonitorConfig, RoutingConfig
from .episodes import Episode, EpisodeTracker, Event, merge_runs
from .monitor import BeatDecision, Monitor, WindowDecision
from .routing import route
from .sources import InputError, open_source

__all__ = [
    "BeatDecision", "DEFAULT_LABELS", "Episode", "EpisodeTracker", "Event", "InputError", "KerasRunClassifier",
    "ModelSpec", "Monitor", "MonitorConfig", "RoutingConfig", "TfliteClassifier", "WindowClassifier",
    "WindowDecision", "load_classifier", "merge_runs", "open_source", "route",
]
