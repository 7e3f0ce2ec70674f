"""python -m ecgnet_tf.quality on WFDB records the test writes: JSON interface, noisy vs clean, errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import wfdb

from ecgnet_tf import quality
from ecgnet_tf.signal_quality.noise import add_noise
from ecgnet_tf.synthetic import synth_ecg

FS = 360.0


def _write(folder, name: str, x: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(name, fs=FS, units=["mV"], sig_name=["MLII"], p_signal=x[:, None], fmt=["16"],
                adc_gain=[1000.0], baseline=[0], write_dir=str(folder))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("quality_records")
    x = synth_ecg(duration_s=120.0, fs=FS, hr_bpm=70.0, seed=0).signal[:, 0].astype(np.float64)
    _write(d, "clean", x)
    noisy = x.copy()
    noisy[int(30 * FS):int(90 * FS)] = add_noise(x[int(30 * FS):int(90 * FS)], FS, "motion", -6.0, 1)
    noisy[int(60 * FS):int(70 * FS)] = 0.0  # a flat stretch
    _write(d, "noisy", noisy)
    return d


def test_json_interface_and_noisy_record(folder, tmp_path):
    out = tmp_path / "q.json"
    assert quality.main([str(folder), "--json", str(out), "--windows-csv", str(tmp_path / "w.csv")]) == 0
    d = json.loads(out.read_text())
    assert isinstance(d["windows"], int) and isinstance(d["rejected"], int)
    assert isinstance(d["score_mean"], float) and all(isinstance(v, int) for v in d["reasons"].values())
    by = {r["record"].split("/")[-1]: r for r in d["records"]}
    assert by["clean"]["rejected"] == 0
    assert by["noisy"]["rejected"] >= 6 and "FLAT_LINE" in by["noisy"]["reasons"]
    assert d["windows"] == by["clean"]["windows"] + by["noisy"]["windows"] == 2 * 23
    assert d["rejected"] == sum(d["reasons"].values())
    rows = (tmp_path / "w.csv").read_text().splitlines()
    assert len(rows) == 1 + d["windows"] and rows[0].startswith("record,start_s,ok,score,reasons,bsqi")


def test_single_record_and_errors(folder, tmp_path, capsys):
    assert quality.main([str(folder / "clean.hea"), "--json", str(tmp_path / "one.json")]) == 0
    assert json.loads((tmp_path / "one.json").read_text())["windows"] == 23
    assert quality.main([str(tmp_path / "nothing")]) == 2
    assert "no such recording" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert quality.main([str(tmp_path / "empty")]) == 2
