"""The synthetic sample recording shipped with the package (for the README's first command), in
``ecgnet_tf/pretrained/sample/``.

``synthetic_af`` is a 5-minute single-lead WFDB record at 250 Hz made by :mod:`ecgnet_tf.synthetic`:
sinus rhythm with ectopic beats (S and V), two AF episodes (60-150 s and 210-270 s), with beat and
rhythm annotations (``.atr``). It is SYNTHETIC (Gaussian-wave beats, no patient), labelled so in its
header, and only shows what the tools do. It is written by :func:`write_sample` (``python -m
ecgnet_tf.reproduce --publish``); a test checks the shipped files equal a fresh one.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..synthetic import synth_ecg

#: shipped next to the pretrained models (the only place the repository keeps generated binary files)
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "pretrained" / "sample"
SAMPLE_NAME = "synthetic_af"
SAMPLE_PATH = SAMPLE_DIR / SAMPLE_NAME
SAMPLE_FS = 250.0
#: (rhythm, seconds, beat mix) of the sample's parts
PLAN: tuple[tuple[str, float, dict], ...] = (
    ("sinus", 60.0, {"N": 0.88, "S": 0.06, "V": 0.06}),
    ("af", 90.0, {"N": 0.92, "V": 0.08}),
    ("sinus", 60.0, {"N": 0.85, "V": 0.15}),
    ("af", 60.0, {"N": 1.0}),
    ("sinus", 30.0, {"N": 0.9, "S": 0.1}),
)
SYMBOL = {"N": "N", "S": "A", "V": "V", "F": "F", "Q": "/"}


def sample_signal() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """(signal (n,) mV, R peaks, beat classes, rhythm changes [(sample, "(AFIB" | "(N")])."""
    parts, peaks, classes, rhythm = [], [], [], []
    offset = 0
    for i, (kind, seconds, mix) in enumerate(PLAN):
        s = synth_ecg(seconds, SAMPLE_FS, 95.0 if kind == "af" else 72.0, kind, mix, noise_mv=0.015, seed=100 + i)
        parts.append(s.signal[:, 0].astype(np.float64))
        peaks.append(s.rpeaks + offset)
        classes.append(s.beat_classes)
        rhythm.append((offset, "(AFIB" if kind == "af" else "(N"))
        offset += s.signal.shape[0]
    return np.concatenate(parts), np.concatenate(peaks), np.concatenate(classes), rhythm


def write_sample(folder: Path = SAMPLE_DIR, name: str = SAMPLE_NAME) -> Path:
    """Write the sample record (``.hea``, ``.dat``, ``.atr``) into ``folder``; returns its base path."""
    import wfdb

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    x, peaks, classes, rhythm = sample_signal()
    wfdb.wrsamp(name, fs=SAMPLE_FS, units=["mV"], sig_name=["ECG"], p_signal=x[:, None], fmt=["16"],
                adc_gain=[1000.0], baseline=[0], write_dir=str(folder),
                comments=["SYNTHETIC recording made by ecgnet_tf.synthetic (no patient data): "
                          "sinus rhythm with S and V beats, AF at 60-150 s and 210-270 s"])
    # rhythm notes sit on the first beat of each part (a '+' annotation), as in MIT-BIH
    samples = [int(s) for s, _ in rhythm] + peaks.tolist()
    symbols = ["+"] * len(rhythm) + [SYMBOL[c] for c in classes]
    aux = [note for _, note in rhythm] + [""] * len(peaks)
    order = np.argsort(np.asarray(samples), kind="stable")
    wfdb.wrann(name, "atr", np.asarray(samples)[order], symbol=[symbols[i] for i in order],
               aux_note=[aux[i] for i in order], write_dir=str(folder))
    return folder / name
