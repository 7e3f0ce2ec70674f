"""A trained run: its folder (config, split, statistics, model) and the deployment spec derived from it."""
from .folder import RunConfig, load_split, load_zscore, read_json, save_split, save_zscore, versions
from .model_io import ModelFileError, check_model_file, load_model, load_run_model
from .spec import SIDECAR_KEYS, Decision, ModelSpec, sidecar_metadata, task_decision

__all__ = ["SIDECAR_KEYS", "Decision", "ModelFileError", "ModelSpec", "RunConfig", "check_model_file", "load_model",
           "load_run_model", "load_split", "load_zscore", "read_json", "save_split", "save_zscore", "sidecar_metadata", "task_decision", "versions"]
