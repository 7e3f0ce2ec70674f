"""Loaders: typed records, AAMI mapping, lead choice, clear errors, and real-data totals."""
from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import wfdb

from ecgnet_tf import datasets
from ecgnet_tf.data import DataError, MissingDatabaseError, cinc2017, mitdb, ptbxl
from fake_databases import write_mitdb


def test_mitdb_record_is_typed_and_mapped(fake_data):
    rec = mitdb.load_record(fake_data, "101")
    assert rec.signal.dtype == np.float32 and rec.signal.shape == (21600, 1)
    assert rec.fs == 360.0 and rec.lead_names == ("MLII",)
    assert set(np.unique(rec.beat_classes)) <= set(mitdb.AAMI_CLASSES)
    assert len(rec.beat_samples) == len(rec.beat_classes) > 50
    assert np.all(np.diff(rec.beat_samples) > 0)
    # signal is in mV: R peaks of the synthetic beats are about 1 mV high
    assert 0.7 < float(np.median(rec.signal[rec.beat_samples, 0])) < 2.0


def test_mitdb_picks_mlii_by_name(fake_data):
    rec = mitdb.load_record(fake_data, "114")  # MLII is the second channel there
    raw = wfdb.rdrecord(str(fake_data / "mitdb" / "114")).p_signal
    np.testing.assert_allclose(rec.signal[:, 0], raw[:, 1], atol=1e-6)
    assert rec.lead_names == ("MLII",)


def test_aami_map_covers_the_standard_symbols():
    assert {s for s, c in mitdb.AAMI_MAP.items() if c == "N"} == set("NLRej")
    assert {s for s, c in mitdb.AAMI_MAP.items() if c == "S"} == set("AaJS")
    assert {s for s, c in mitdb.AAMI_MAP.items() if c == "V"} == set("VE")
    assert {s for s, c in mitdb.AAMI_MAP.items() if c == "Q"} == set("/fQ")
    assert "!" not in mitdb.AAMI_MAP and "+" not in mitdb.AAMI_MAP


def test_missing_database_names_the_fix(tmp_path):
    with pytest.raises(MissingDatabaseError) as exc:
        mitdb.available_records(tmp_path)
    msg = str(exc.value)
    assert "mitdb" in msg and "python -m data.download mitdb" in msg and str(tmp_path) in msg


@pytest.fixture()
def one_record(tmp_path):
    write_mitdb(tmp_path, duration_s=10.0, records={"100": ({"N": 1.0}, 1)})
    return tmp_path


def test_missing_dat_file(one_record):
    (one_record / "mitdb" / "100.dat").unlink()
    with pytest.raises(DataError, match=r"100\.dat: signal file missing"):
        mitdb.load_record(one_record, "100")


def test_truncated_dat_file(one_record):
    f = one_record / "mitdb" / "100.dat"
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(DataError, match=r"100\.dat: truncated"):
        mitdb.load_record(one_record, "100")


def test_wrong_sampling_rate(one_record):
    s = np.random.default_rng(0).standard_normal((2500, 2))
    wfdb.wrsamp("100", fs=250, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=s, fmt=["16", "16"],
                write_dir=str(one_record / "mitdb"))
    with pytest.raises(DataError, match=r"100\.hea: sampling rate 250"):
        mitdb.load_record(one_record, "100")


def test_unknown_lead(one_record):
    with pytest.raises(DataError, match="no lead V9"):
        mitdb.load_record(one_record, "100", lead="V9", fallback=False)


def test_empty_annotation_file(one_record):
    (one_record / "mitdb" / "100.atr").write_bytes(b"")
    with pytest.raises(DataError, match=r"100\.atr: empty annotation file"):
        mitdb.load_record(one_record, "100")


def test_nan_and_flat_signals_are_rejected(one_record):
    d = one_record / "mitdb"
    s = np.random.default_rng(0).standard_normal((3600, 2))
    s[100:120, 0] = np.nan
    wfdb.wrsamp("100", fs=360, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=s, fmt=["16", "16"],
                adc_gain=[200.0, 200.0], baseline=[0, 0], write_dir=str(d))
    with pytest.raises(DataError, match="NaN"):
        mitdb.load_record(one_record, "100")
    s = np.zeros((3600, 2))
    s[:, 1] = np.sin(np.arange(3600))
    wfdb.wrsamp("100", fs=360, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=s, fmt=["16", "16"],
                adc_gain=[200.0, 200.0], baseline=[0, 0], write_dir=str(d))
    with pytest.raises(DataError, match=r"flat-line lead\(s\) \['MLII'\]"):
        mitdb.load_record(one_record, "100")


def test_unknown_record_name(fake_data):
    with pytest.raises(DataError, match="unknown MIT-BIH record '999'"):
        mitdb.load_record(fake_data, "999")


def test_ptbxl_labels_and_record(fake_data):
    entries = ptbxl.read_metadata(fake_data)
    assert len(entries) == 40
    counts = ptbxl.label_counts(entries)
    assert counts["MI"] == 20 and counts["NORM"] == 10 and counts["OTHER"] == 10
    mi = next(e for e in entries if e.group == "MI")
    rec = ptbxl.load_record(fake_data, mi)
    assert rec.signal.shape == (1000, 12) and rec.fs == 100.0 and rec.lead_names == ptbxl.LEADS
    assert rec.label == "MI" and len(rec.labels) == 1 and rec.labels[0] in ptbxl.MI_SUBCLASSES


def test_ptbxl_tolerates_missing_files_and_checks_rate(fake_data, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(fake_data / "ptbxl", root / "ptbxl")
    for f in (root / "ptbxl" / "records100" / "00000").glob("0000[1-3]_lr.*"):
        f.unlink()
    assert len(ptbxl.read_metadata(root)) == 37
    assert len(ptbxl.read_metadata(root, present_only=False)) == 40
    assert ptbxl.read_metadata(root, sampling_rate=500) == []  # no 500 Hz files, reported as none
    with pytest.raises(DataError, match="100 or 500"):
        ptbxl.read_metadata(root, sampling_rate=250)


def test_ptbxl_likelihood_threshold(fake_data):
    assert ptbxl.label_counts(ptbxl.read_metadata(fake_data, min_likelihood=101))["MI"] == 0


def test_cinc_reference_and_record(fake_data):
    labels = cinc2017.read_reference(fake_data)
    assert cinc2017.label_counts(labels) == {"N": 6, "A": 6, "O": 6, "~": 6}
    rec = cinc2017.load_record(fake_data, "A00001")
    assert rec.fs == 300.0 and rec.signal.shape[1] == 1 and rec.label == "N"
    assert cinc2017.patient_id("A01176") == cinc2017.patient_id("A00227")


def test_datasets_cli_json(fake_data, capsys):
    assert datasets.main(["--data-dir", str(fake_data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cinc2017"] == {"records": 24, "labels": {"N": 6, "A": 6, "O": 6, "~": 6}}
    assert out["mitdb"]["records"] == 11 and sum(out["mitdb"]["beats"].values()) > 500


# ---- real PhysioNet data (../shared/data), skipped when absent ----

@pytest.mark.realdata
def test_real_mitdb_totals(shared_data):
    s = datasets.summarise(shared_data, include_paced=True)["mitdb"]
    assert s["records"] == 48
    assert s["beats"] == {"N": 90631, "S": 2781, "V": 7236, "F": 803, "Q": 8043}
    assert sum(s["beats"].values()) == 109494
    s44 = datasets.summarise(shared_data)["mitdb"]
    assert s44["records"] == 44 and s44["beats"] == {"N": 90125, "S": 2781, "V": 7009, "F": 803, "Q": 15}


@pytest.mark.realdata
def test_real_mitdb_leads(shared_data):
    assert mitdb.load_record(shared_data, "114").lead_names == ("MLII",)
    assert mitdb.load_record(shared_data, "102").lead_names == ("V5",)  # no MLII: documented fallback
    with pytest.raises(DataError, match="no lead MLII"):
        mitdb.load_record(shared_data, "104", fallback=False)


@pytest.mark.realdata
def test_real_ptbxl_and_cinc_counts(shared_data):
    out = datasets.summarise(shared_data)
    assert out["ptbxl"]["records"] == 987
    assert out["ptbxl"]["labels"]["MI"] == 183 and out["ptbxl"]["labels"]["NORM"] == 513
    # the shared CinC copy is a documented subset: its subset.csv lists exactly the records present
    with open(shared_data / "cinc2017" / "subset.csv", newline="") as fh:
        listed = {row["record"]: row["label"] for row in csv.DictReader(fh)}
    assert len(listed) > 1000
    assert out["cinc2017"] == {"records": len(listed), "labels": cinc2017.label_counts(listed)}
    assert cinc2017.read_reference(shared_data) == dict(sorted(listed.items()))
    rec = cinc2017.load_record(shared_data, "A00012")
    assert rec.fs == 300.0 and rec.label == "N" and 9 <= rec.duration_s <= 61


def test_database_registry(fake_data, tmp_path):
    from ecgnet_tf.data.download import DATABASES as DOWNLOADS
    from ecgnet_tf.data.registry import databases, get_database

    dbs = databases()
    assert set(dbs) == set(DOWNLOADS) == {"mitdb", "ptbxl", "cinc2017"}  # every database can be downloaded
    assert (dbs["mitdb"].fs_hz, dbs["cinc2017"].fs_hz) == (mitdb.FS_HZ, cinc2017.FS_HZ)
    assert all(db.is_present(fake_data) for db in dbs.values())
    assert not get_database("ptbxl").is_present(tmp_path)
    with pytest.raises(MissingDatabaseError, match="python -m data.download ptbxl"):
        get_database("ptbxl").require(tmp_path)
    with pytest.raises(ValueError, match="unknown database 'nope'"):
        get_database("nope")
