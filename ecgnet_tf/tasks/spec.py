"""The product tasks: which database, which classes, how a record is cut into windows."""
from __future__ import annotations

from dataclasses import dataclass

from ..data import cinc2017, mitdb


@dataclass(frozen=True)
class TaskSpec:
    """What one task classifies and how it cuts records into windows."""

    name: str
    database: str
    classes: tuple[str, ...]
    window_s: float  # 2.5 (beats centred on R) or 10.0 (segments)
    n_leads: int
    prior_kind: str  # kind passed to preprocess.prior_map
    multilabel: bool = False
    record_level: bool = False  # windows are aggregated to one decision per record
    smote: bool = False  # SMOTE-Tomek on the training windows
    segment_overlap: float = 0.5
    description: str = ""


TASKS: dict[str, TaskSpec] = {
    "mitdb-aami": TaskSpec(
        "mitdb-aami", "mitdb", mitdb.AAMI_CLASSES, 2.5, 1, "beat", smote=True,
        description="AAMI beat classes on MIT-BIH lead MLII, inter-patient (de Chazal DS1 -> DS2)"),
    "ptbxl-mi": TaskSpec(
        "ptbxl-mi", "ptbxl", ("NORM", "MI"), 10.0, 12, "mi", record_level=True,
        description="MI vs normal on 12-lead 10-s PTB-XL records, strat_fold split by patient"),
    "ptbxl-mi-loc": TaskSpec(
        "ptbxl-mi-loc", "ptbxl", ("AMI", "IMI", "LMI"), 10.0, 12, "mi", multilabel=True, record_level=True,
        description="MI localisation (multi-label AMI / IMI / LMI) on PTB-XL MI records"),
    "cinc2017": TaskSpec(
        "cinc2017", "cinc2017", cinc2017.CLASSES, 10.0, 1, "af", record_level=True,
        description="AF / normal / other / noisy on single-lead CinC 2017, 10-s segments, record-level"),
}


def get_task(name: str) -> TaskSpec:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name]
