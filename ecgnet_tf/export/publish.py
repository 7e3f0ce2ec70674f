"""Publishing a trained run as a shipped pretrained model (``python -m ecgnet_tf.reproduce --publish``).

From a run folder this writes ``ecgnet_tf/pretrained/<name>/`` (see :mod:`.registry`): the float
model re-saved without optimizer state, the int8 export with its whole-test-partition parity, the
normalisation, the validated AF smoothing (rhythm), the split's record lists, the model card and
the manifest of checksums. The folder is built next to the old one and swapped in at the end, so an
interrupted publish leaves the previous model intact.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..atomic import write_json, write_text
from ..claims import PUBLISHED_BEAT_BASELINES, PUBLISHED_RHYTHM_BASELINES
from ..data.errors import DataError
from ..results_report import git_state
from ..runs import ModelSpec, load_model
from ..pretrained.registry import MANIFEST, NAMES, PRETRAINED_DIR, folder_of, sha256

#: size budget of a shipped int8 file (the edge-model issue's target)
INT8_BUDGET_BYTES = 1_000_000
#: files of a run copied as they are
COPIED = ("normalization.json", "af_smoothing.json", "split.json")
#: run.json keys that name places on the publishing machine (dropped: a user's data is elsewhere)
LOCAL_KEYS = ("data_dir", "out", "cache_dir", "init_from")
INTENDED_USE = ("Research and engineering use: evaluating methods, building and testing software and devices. "
                "Not a medical device and not for diagnosis: outputs have not been clinically validated, and "
                "recordings unlike the training data (other devices, leads, sampling rates, populations, paced "
                "rhythms) can be classified wrongly without warning.")
LIMITS = {
    "beats": "MIT-BIH lead MLII (or modified limb lead) at 360 Hz after resampling; 48 records of 47 patients "
             "from 1975-79; S-beat precision is low (see metrics); paced records excluded from training.",
    "rhythm": "Single-lead handheld recordings (AliveCor, 300 Hz, 9-60 s) of CinC 2017; the network alone "
              "(the record-level trees of the study are not shipped); 60 % of the public records were available.",
    "mi": "12-lead PTB-XL (100 Hz), 987 of its records; MI vs normal only.",
}


def shipped_smoothing(d: dict) -> dict:
    """The AF decisions a shipped model can apply: the run's own, unless they need its record model
    (``context_s``: a 4 MB tree pickle that is not shipped); then the network's alternative, chosen on
    the same validation streams, with a note."""
    if not (d.get("smoothing") or {}).get("context_s"):
        return d
    net = (d.get("alternatives") or {}).get("network")
    if net is None:
        raise DataError("af_smoothing.json uses the record model (context_s) and has no network alternative; "
                        "refit it with python -m ecgnet_tf.rhythm_study --stages monitor")
    return {**net, "note": "the run's validated decisions use its record model on the recent past of the stream "
                           f"({d['smoothing']['context_s']:g} s), which is not shipped; this is the network's own "
                           "validated smoothing, chosen on the same validation streams"}


def _read(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def _headline(metrics: dict) -> dict:
    """The scalar test figures of a run's ``metrics.json`` (per class: sensitivity, ppv, f1)."""
    keep = {k: metrics[k] for k in ("n", "n_records", "accuracy", "challenge_f1", "auroc", "level", "partition",
                                    "split", "ds2_variant") if k in metrics}
    if isinstance(metrics.get("macro"), dict):
        keep["macro"] = {k: v for k, v in metrics["macro"].items() if isinstance(v, (int, float))}
    if isinstance(metrics.get("per_class"), dict):
        keep["per_class"] = {c: {k: v for k, v in d.items() if k in ("sensitivity", "ppv", "f1", "auroc", "support")}
                             for c, d in metrics["per_class"].items()}
    return keep


def deflate_zip(path: Path) -> None:
    """Rewrite a ``.keras`` zip with DEFLATE (Keras stores its members uncompressed; the HDF5 weights
    shrink by about a sixth) and fixed member dates, so the same weights give the same bytes."""
    import zipfile

    tmp = path.with_suffix(".deflating")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(member, src.read(info.filename))
    tmp.replace(path)


def model_card(name: str, run_dir: Path, spec: ModelSpec, parity: dict, size: dict, study: dict | None,
               commit: str | None) -> dict:
    run = _read(run_dir / "run.json")
    split = _read(run_dir / "split.json") if (run_dir / "split.json").is_file() else {}
    metrics = _read(run_dir / "metrics.json")
    baselines = {"beats": list(PUBLISHED_BEAT_BASELINES), "rhythm": list(PUBLISHED_RHYTHM_BASELINES)}.get(name, [])
    return {
        "name": name, "task": spec.task, "classes": list(spec.classes),
        "source_run": str(run_dir), "commit": commit, "config": run.get("config"), "seed": run.get("seed"),
        "training_data": {"split": split.get("name"), "records": {k: len(split.get(k, [])) for k in ("train", "val", "test")},
                          "notes": split.get("notes", [])},
        "metrics": {"test": _headline(metrics), "study": study},
        "int8": {"size_bytes": size["int8"], "parity": parity},
        "float_size_bytes": size["float"],
        "published_baselines": baselines,
        "input": {"leads": spec.n_leads, "fs_hz": spec.fs, "units": "mV", "window_s": spec.window_s,
                  "prior_kind": spec.prior_kind, "preprocess_hash": run.get("preprocess_hash"),
                  "inputs": list(spec.inputs)},
        "intended_use": INTENDED_USE, "limits": LIMITS.get(name, ""),
    }


def _fmt(v, d: int = 3) -> str:
    return f"{v:.{d}f}" if isinstance(v, (int, float)) else "n/a"


def card_markdown(card: dict) -> str:
    t = card["metrics"]["test"]
    L = [f"# Model card: `{card['name']}` ({card['task']})", "",
         "Generated by `python -m ecgnet_tf.reproduce --publish` from the card JSON; do not edit by hand.", "",
         f"- Source run: `{card['source_run']}` (config `{card['config']}`, seed {card['seed']}), commit "
         f"`{card['commit']}`",
         f"- Training data: split `{card['training_data']['split']}`, records {card['training_data']['records']}",
         f"- Input: {card['input']['leads']} lead(s), {card['input']['units']}, resampled to "
         f"{card['input']['fs_hz']:g} Hz, {card['input']['window_s']:g}-s windows, preprocessing hash "
         f"`{card['input']['preprocess_hash']}`",
         f"- Classes: {', '.join(card['classes'])}",
         f"- Files: int8 `model_int8.tflite` {card['int8']['size_bytes']:,} bytes; float `model.keras` "
         f"{card['float_size_bytes']:,} bytes (no optimizer state)", "",
         "## Test metrics of this run", "",
         f"Partition `{t.get('partition')}` ({t.get('level')} level, n = {t.get('n')}): accuracy {_fmt(t.get('accuracy'))}, "
         f"macro F1 {_fmt(t.get('macro', {}).get('f1'))}" + (f", challenge F1 {_fmt(t['challenge_f1'])}"
                                                               if 'challenge_f1' in t else ""), "",
         "| class | sensitivity | PPV | F1 |", "|---|---|---|---|"]
    for c, d in t.get("per_class", {}).items():
        L.append(f"| {c} | {_fmt(d.get('sensitivity'))} | {_fmt(d.get('ppv'))} | {_fmt(d.get('f1'))} |")
    if card["metrics"]["study"]:
        L += ["", "## The study's figures (all folds / seeds)", "", "```json",
              json.dumps(card["metrics"]["study"], indent=1), "```"]
    p = card["int8"]["parity"]
    L += ["", "## int8", "", f"Top-1 agreement with the float model {_fmt(p.get('top1_agreement'), 4)} over "
          f"{p.get('n')} test windows; max probability difference {_fmt(p.get('max_abs_diff'), 4)}."]
    if card["published_baselines"]:
        L += ["", "## Published figures (other methods, for comparison; not this model)", ""]
        L += [f"- {json.dumps(b)}" for b in card["published_baselines"]]
    L += ["", "## Intended use and limits", "", card["intended_use"], "", card["limits"], ""]
    return "\n".join(L)


def publish(name: str, run_dir: Path, quantize_run, data_dir: Path | None = None, study: dict | None = None,
            root: Path = PRETRAINED_DIR, cache_dir: Path | None = None, max_eval: int | None = None,
            log=print) -> Path:
    """Write ``root/<name>/`` from ``run_dir``; returns the folder. ``quantize_run``: the int8 exporter
    (:func:`ecgnet_tf.export.quantize.quantize_run`, passed in by the command: a library module does
    not import a command module)."""
    run_dir = Path(run_dir)
    if name not in NAMES:
        raise ValueError(f"unknown pretrained name {name!r}; choose one of {', '.join(NAMES)}")
    for f in ("run.json", "metrics.json", "normalization.json", "model.keras"):
        if not (run_dir / f).is_file():
            raise DataError(f"{run_dir}: not a finished run ({f} missing)")
    spec = ModelSpec.from_run(run_dir)
    if spec.task != NAMES[name]:
        raise DataError(f"{run_dir} is a {spec.task} run; {name!r} must be a {NAMES[name]} model")
    final = folder_of(name, root)
    tmp = final.with_name(f".{name}.publishing")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    run = _read(run_dir / "run.json")
    write_json(tmp / "run.json", {k: (None if k in LOCAL_KEYS else v) for k, v in run.items()}, indent=1)
    for f in COPIED:
        if (run_dir / f).is_file():
            shutil.copyfile(run_dir / f, tmp / f)
    if (tmp / "af_smoothing.json").is_file():
        write_json(tmp / "af_smoothing.json", shipped_smoothing(_read(tmp / "af_smoothing.json")))
    log(f"{name}: saving the float model without optimizer state")
    load_model(run_dir / "model.keras").save(tmp / "model.keras")
    deflate_zip(tmp / "model.keras")
    log(f"{name}: int8 export with parity on the whole test partition")
    from .fallback import FallbackConfig

    # the BiLSTMs, and the layers that bring the file closest to the float model (chosen on the run's
    # validation windows within the 1 MB budget), stay float with int8-stored weights (hybrid kernels:
    # faster than int8 LSTM kernels, no larger; export.fallback / export.hybrid_weights)
    fallback = FallbackConfig(mode="auto", max_bytes=INT8_BUDGET_BYTES, lstm=True, weights="int8")
    rep = quantize_run(run_dir, "int8", tmp / "model_int8.tflite", data_dir=data_dir, cache_dir=cache_dir,
                       max_eval=max_eval, fallback=fallback)
    sidecar = _read(tmp / "model_int8.json")
    sidecar.setdefault("metadata", {})["run_dir"] = None  # the sidecar must not point at the publisher's disk
    write_json(tmp / "model_int8.json", sidecar, indent=1)
    parity = {k: rep["parity"][k] for k in rep["parity"] if isinstance(rep["parity"][k], (int, float, str))}
    size = {"int8": (tmp / "model_int8.tflite").stat().st_size, "float": (tmp / "model.keras").stat().st_size}
    card = model_card(name, run_dir, spec, parity, size, study, git_state(PRETRAINED_DIR.parents[1])["commit"])
    write_json(tmp / f"{name}.json", card, indent=1)
    write_text(tmp / "MODEL_CARD.md", card_markdown(card))
    files = {p.name: sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
    write_json(tmp / MANIFEST, {"name": name, "files": files}, indent=1)
    old = final.with_name(f".{name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    log(f"{name}: published {final} ({sum(p.stat().st_size for p in final.iterdir()):,} bytes)")
    return final


#: the reference run of each accuracy issue (seed 0 / fold 0) and the study summary beside it
REFERENCE_RUNS: dict[str, tuple[str, str]] = {
    "beats": ("runs/beat-study/final-s0", "results/mitdb/summary.json"),
    "rhythm": ("runs/cinc-cv/f0", "results/cinc2017/summary.json"),
}


def study_figures(name: str, docs: Path) -> dict | None:
    """The study's multi-seed / cross-validated figures for a card (from the generated summary)."""
    path = Path(docs) / REFERENCE_RUNS[name][1]
    if not path.is_file():
        return None
    s = json.loads(path.read_text())
    if name == "beats":
        return {"source": str(path), "what": f"mean over seeds {s.get('seeds')} on DS2 ({s.get('ds2_variant')})",
                "mean": s["mean"], "std": s.get("std")}
    return {"source": str(path), "what": f"mean over {len(s.get('folds', []))} cross-validation test folds",
            "network_alone": s["network_alone"]["mean"], "record_model": s["mean"]}


def publish_references(names: list[str], docs: Path, data_dir: Path | None, quantize_run,
                       runs: dict[str, Path] | None = None, root: Path = PRETRAINED_DIR,
                       cache_dir: Path | None = None, log=print) -> list[Path]:
    """Publish each of ``names`` from its reference run (or ``runs[name]``), then the sample recording."""
    from ..samples import write_sample

    out = []
    for name in names:
        if name not in REFERENCE_RUNS:
            raise ValueError(f"no reference run for {name!r}; publishable: {', '.join(REFERENCE_RUNS)}")
        run = Path((runs or {}).get(name) or REFERENCE_RUNS[name][0])
        out.append(publish(name, run, quantize_run, data_dir, study_figures(name, docs), root, cache_dir, log=log))
    write_sample()
    return out
