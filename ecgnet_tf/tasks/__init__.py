"""Tasks: what is classified (spec), which records (catalogue and audited split), and how a record
becomes model inputs (one function, :func:`record_inputs`, used by training, evaluation, explain,
the golden vectors and the monitor)."""
from .inputs import (ModelInputs, WindowLayout, beat_inputs, prior_maps, record_inputs, round_prior, rr_feature_names,
                     segment_inputs)
from .records import Catalog, TaskRecords, catalog, reduce_training_records, task_records
from .spec import TASKS, TaskSpec, get_task
from .windows import RecordWindows, Windows, iter_windows, load_windows, signal_windows, task_record_windows

__all__ = [
    "TASKS", "Catalog", "ModelInputs", "RecordWindows", "TaskRecords", "TaskSpec", "WindowLayout", "Windows",
    "beat_inputs", "catalog", "get_task", "iter_windows", "load_windows", "prior_maps", "record_inputs",
    "reduce_training_records", "round_prior", "rr_feature_names", "segment_inputs", "signal_windows",
    "task_record_windows", "task_records",
]
