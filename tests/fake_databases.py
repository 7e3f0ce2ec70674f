"""Tiny WFDB databases written by the tests (never real data), laid out like the real ones."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import wfdb

from ecgnet_tf.synthetic import synth_ecg

MITDB_FAKE_RECORDS = {
    # record: (beat mix, seed); DS1 records first, then DS2
    "101": ({"N": 0.7, "V": 0.15, "S": 0.1, "F": 0.05}, 1),
    "106": ({"N": 0.6, "V": 0.3, "S": 0.1}, 2),
    "108": ({"N": 0.8, "V": 0.1, "S": 0.1}, 3),
    "109": ({"N": 0.7, "V": 0.2, "F": 0.1}, 4),
    "112": ({"N": 0.8, "S": 0.2}, 5),
    "114": ({"N": 0.7, "V": 0.2, "S": 0.1}, 6),
    "201": ({"N": 0.6, "V": 0.2, "S": 0.2}, 7),
    "100": ({"N": 0.8, "V": 0.1, "S": 0.1}, 8),
    "103": ({"N": 0.7, "V": 0.2, "F": 0.1}, 9),
    "202": ({"N": 0.8, "S": 0.2}, 10),
    "105": ({"N": 0.7, "V": 0.2, "S": 0.1}, 11),
}


def write_mitdb(root: Path, duration_s: float = 60.0, records: dict | None = None) -> Path:
    """Write fake MIT-BIH records (MLII + V1, 360 Hz, format 212, .atr beats) under root/mitdb."""
    d = root / "mitdb"
    d.mkdir(parents=True, exist_ok=True)
    for rec, (mix, seed) in (records or MITDB_FAKE_RECORDS).items():
        s = synth_ecg(duration_s, 360.0, 75.0, "sinus", mix, n_leads=2, noise_mv=0.02, seed=seed)
        names = ["V5", "MLII"] if rec == "114" else ["MLII", "V1"]
        wfdb.wrsamp(rec, fs=360, units=["mV", "mV"], sig_name=names, p_signal=s.signal.astype(np.float64),
                    fmt=["212", "212"], adc_gain=[200.0, 200.0], baseline=[1024, 1024], write_dir=str(d))
        wfdb.wrann(rec, "atr", s.rpeaks, symbol=list(s.beat_classes), write_dir=str(d))
    (d / "RECORDS").write_text("\n".join(records or MITDB_FAKE_RECORDS) + "\n")
    return d


SCP_ROWS = [
    # code, description, diagnostic, diagnostic_class, diagnostic_subclass
    ("NORM", "normal ECG", 1.0, "NORM", "NORM"),
    ("IMI", "inferior myocardial infarction", 1.0, "MI", "IMI"),
    ("ASMI", "anteroseptal myocardial infarction", 1.0, "MI", "AMI"),
    ("LMI", "lateral myocardial infarction", 1.0, "MI", "LMI"),
    ("NDT", "non-diagnostic T abnormalities", 1.0, "STTC", "STTC"),
    ("SR", "sinus rhythm", None, None, None),
]


def write_ptbxl(root: Path, n_per_fold: int = 4) -> Path:
    assert n_per_fold % 2 == 0, "patients are pairs of records inside one fold"
    """Write a fake PTB-XL (12 leads, 100 Hz, 10 s) with NORM / MI / OTHER rows over 10 folds."""
    d = root / "ptbxl"
    rec_dir = d / "records100" / "00000"
    rec_dir.mkdir(parents=True, exist_ok=True)
    with open(d / "scp_statements.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["", "description", "diagnostic", "form", "rhythm", "diagnostic_class", "diagnostic_subclass"])
        for code, desc, diag, cls, sub in SCP_ROWS:
            w.writerow([code, desc, diag if diag else "", "", "" if diag else 1.0, cls or "", sub or ""])
    rows = []
    ecg_id = 0
    mi_codes = ["IMI", "ASMI", "LMI"]
    for fold in range(1, 11):
        for j in range(n_per_fold):
            ecg_id += 1
            kind = ("NORM", "MI", "MI", "OTHER")[j % 4]
            codes = {"NORM": {"NORM": 100.0, "SR": 0.0}, "OTHER": {"NDT": 100.0}}.get(
                kind, {mi_codes[ecg_id % 3]: 100.0, "SR": 0.0})
            s = synth_ecg(10.0, 100.0, 70.0, "sinus", n_leads=12, noise_mv=0.01, seed=100 + ecg_id)
            sig = s.signal.astype(np.float64)
            if kind == "MI":  # ST elevation 60-160 ms after R on all leads
                for r in s.rpeaks:
                    sig[r + 6:min(r + 16, len(sig))] += 0.3
            name = f"{ecg_id:05d}_lr"
            wfdb.wrsamp(name, fs=100, units=["mV"] * 12, sig_name=["I", "II", "III", "AVR", "AVL", "AVF",
                        "V1", "V2", "V3", "V4", "V5", "V6"], p_signal=sig, fmt=["16"] * 12,
                        adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(rec_dir))
            # consecutive pairs of ecg_ids share a patient; n_per_fold is even, so pairs stay in one fold
            rows.append({"ecg_id": ecg_id, "patient_id": float(1000 + (ecg_id - 1) // 2),
                         "scp_codes": repr(codes), "strat_fold": fold,
                         "filename_lr": f"records100/00000/{name}", "filename_hr": f"records500/00000/{ecg_id:05d}_hr"})
    with open(d / "ptbxl_database.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return d


def write_cinc2017(root: Path, n_per_class: int = 6) -> Path:
    """Write a fake CinC 2017 set (300 Hz, single lead, 20-40 s) with N/A/O/~ records."""
    d = root / "cinc2017"
    t = d / "training2017"
    t.mkdir(parents=True, exist_ok=True)
    refs = []
    i = 0
    for label in ("N", "A", "O", "~"):
        for _ in range(n_per_class):
            i += 1
            name = f"A{i:05d}"
            dur = 20.0 + (i % 3) * 10
            if label == "N":
                s = synth_ecg(dur, 300.0, 70.0, "sinus", seed=i).signal
            elif label == "A":
                s = synth_ecg(dur, 300.0, 95.0, "af", seed=i).signal
            elif label == "O":
                s = synth_ecg(dur, 300.0, 75.0, "sinus", {"N": 0.6, "S": 0.2, "V": 0.2}, seed=i).signal
            else:
                rng = np.random.default_rng(i)
                s = (0.4 * rng.standard_normal((int(dur * 300), 1))).astype(np.float32)
            wfdb.wrsamp(name, fs=300, units=["mV"], sig_name=["ECG"], p_signal=s.astype(np.float64),
                        fmt=["16"], adc_gain=[1000.0], baseline=[0], write_dir=str(t))
            refs.append((name, label))
    with open(d / "REFERENCE.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(refs)
    return d


def write_all(root: Path) -> Path:
    write_mitdb(root)
    write_ptbxl(root)
    write_cinc2017(root)
    return root


def write_af_record(path: Path, fs: float = 250.0) -> np.ndarray:
    """A 420-s single-lead recording (sinus / AF / sinus / AF / sinus) with rhythm annotations (``.atr``)."""
    plan = [("sinus", 100), ("af", 120), ("sinus", 80), ("af", 60), ("sinus", 60)]
    parts = [synth_ecg(d, fs, 95 if r == "af" else 70, r, seed=i).signal for i, (r, d) in enumerate(plan)]
    x = np.concatenate(parts).astype(np.float64)
    wfdb.wrsamp(path.name, fs=fs, units=["mV"], sig_name=["MLII"], p_signal=x, fmt=["16"], adc_gain=[1000.0],
                baseline=[0], write_dir=str(path.parent))
    t = np.array([0, 100, 220, 300, 360]) * fs
    notes = ["(N", "(AFIB", "(N", "(AFIB", "(N"]
    wfdb.wrann(path.name, "atr", t.astype(np.int64), symbol=["+"] * 5, aux_note=notes, write_dir=str(path.parent))
    return x


def write_cinc_mat_record(directory: Path, name: str, signal_mv: np.ndarray, fs: float = 300.0,
                          variable: str = "val", mat_format: str = "4") -> Path:
    """Write a CinC-2017-style record as PhysioNet ships it: ``name.mat`` holding int16 ``val`` (1 x n,
    1000 ADC units per mV, MAT v4) and ``name.hea`` reading it as format 16 at byte offset 24.
    ``variable`` and ``mat_format`` ("5" = MATLAB v5) write the broken variants the loader must refuse.
    Returns the record path without extension."""
    from scipy.io import savemat

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    d = np.round(np.asarray(signal_mv, dtype=np.float64).ravel() * 1000.0).astype(np.int16)
    savemat(str(directory / f"{name}.mat"), {variable: d[None, :]}, format=mat_format)
    checksum = int(np.sum(d.astype(np.int64))) % 65536
    checksum = checksum - 65536 if checksum >= 32768 else checksum
    (directory / f"{name}.hea").write_text(
        f"{name} 1 {fs:g} {d.size}\n{name}.mat 16+24 1000/mV 16 0 {int(d[0])} {checksum} 0 ECG\n")
    return directory / name
