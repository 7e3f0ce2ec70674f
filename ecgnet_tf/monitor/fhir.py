"""FHIR-style (R4 shaped, not validated against a server) Observation objects for monitor findings.

``effectivePeriod`` holds ISO 8601 date-times when the recording start is known, otherwise the
offsets from the recording start in an ``extension`` (FHIR dateTime cannot express offsets).
"""
from __future__ import annotations

from datetime import datetime, timedelta

OFFSET_URL = "urn:ecgnet:monitor:offset-seconds"


def _period(start_s: float, end_s: float, t0: datetime | None) -> dict:
    if t0 is not None:
        return {"start": (t0 + timedelta(seconds=start_s)).isoformat(),
                "end": (t0 + timedelta(seconds=end_s)).isoformat()}
    return {"extension": [{"url": OFFSET_URL, "valueString": f"start={start_s:.3f}s;end={end_s:.3f}s"}],
            "_offset_s": {"start": round(start_s, 3), "end": round(end_s, 3)}}


def _prob(prob: float | None) -> dict:
    q = {"value": None if prob is None else round(float(prob), 4), "unit": "probability",
         "system": "http://unitsofmeasure.org", "code": "1"}
    return {"code": {"text": "model probability"}, "valueQuantity": q}


def episode_observation(ep: dict, subject: str, t0: datetime | None) -> dict:
    """One rhythm episode (keys of report.json's episodes) as an Observation."""
    return {
        "resourceType": "Observation", "status": "preliminary",
        "category": [{"text": "ECG rhythm monitoring"}],
        "code": {"text": f"ECG rhythm episode: {ep['label']}"},
        "subject": {"display": subject},
        "effectivePeriod": _period(ep["start_s"], ep["end_s"], t0),
        "valueCodeableConcept": {"text": ep["label"]},
        "component": [_prob(ep["mean_prob"]),
                      {"code": {"text": "duration"}, "valueQuantity": {
                          "value": round(ep["duration_s"], 3), "unit": "s", "system": "http://unitsofmeasure.org",
                          "code": "s"}},
                      {"code": {"text": "routing"}, "valueString": ep["routing"]}],
    }


def burden_observation(burden_pct: float | None, duration_s: float, subject: str, t0: datetime | None) -> dict:
    """AF burden (% of analysable time) over the whole recording as an Observation."""
    return {
        "resourceType": "Observation", "status": "preliminary",
        "category": [{"text": "ECG rhythm monitoring"}],
        "code": {"text": "Atrial fibrillation burden (% of analysable time)"},
        "subject": {"display": subject},
        "effectivePeriod": _period(0.0, duration_s, t0),
        "valueQuantity": {"value": None if burden_pct is None else round(burden_pct, 3), "unit": "%",
                          "system": "http://unitsofmeasure.org", "code": "%"},
    }


def summary_observation(overall: dict, duration_s: float, subject: str, t0: datetime | None) -> dict:
    """The recording-level decision with its confidence and routing."""
    return {
        "resourceType": "Observation", "status": "preliminary",
        "category": [{"text": "ECG rhythm monitoring"}],
        "code": {"text": "ECG monitoring summary"},
        "subject": {"display": subject},
        "effectivePeriod": _period(0.0, duration_s, t0),
        "valueCodeableConcept": {"text": overall["decision"]},
        "component": [_prob(overall["confidence"]), {"code": {"text": "routing"}, "valueString": overall["routing"]}],
    }
