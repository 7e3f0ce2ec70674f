"""Corrupt inputs are refused with a DataError naming the file and the problem (issue "Nothing lost,
nothing silently wrong"); real records still load under the same checks."""
from __future__ import annotations

import os
import re
import shutil
import struct

import numpy as np
import pandas as pd
import pytest
import wfdb

from ecgnet_tf import preprocess as pp
from ecgnet_tf.data import DataError, cinc2017, mitdb, ptbxl
from ecgnet_tf.data.records import FLAT_MAX_FRACTION, FLAT_MAX_S, MAX_ROBUST_MV, validate_records
from ecgnet_tf.synthetic import synth_ecg
from ecgnet_tf.tasks import get_task
from ecgnet_tf.tasks import windows as tw
from ecgnet_tf.tasks.records import TaskRecords
from fake_databases import write_cinc_mat_record, write_mitdb


def raised(fn, *args, **kwargs) -> str:
    """The DataError message ``fn(*args, **kwargs)`` raises."""
    with pytest.raises(DataError) as exc:
        fn(*args, **kwargs)
    return str(exc.value)


@pytest.fixture()
def mit(tmp_path):
    """A data folder with one 20-s fake MIT-BIH record 100 (MLII + V1, format 212, 7200 samples)."""
    write_mitdb(tmp_path, duration_s=20.0, records={"100": ({"N": 1.0}, 1)})
    return tmp_path


def edit_header(hea, fn) -> None:
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join(fn(lines)) + "\n")


def rewrite_mitdb_signal(root, record, fn) -> None:
    """Rewrite record ``record`` under root/mitdb with its physical signal passed through ``fn``."""
    d = root / "mitdb"
    rec = wfdb.rdrecord(str(d / record))
    wfdb.wrsamp(record, fs=360, units=["mV", "mV"], sig_name=rec.sig_name, p_signal=fn(rec.p_signal.copy()),
                fmt=["212", "212"], adc_gain=[200.0, 200.0], baseline=[1024, 1024], write_dir=str(d))


@pytest.fixture()
def ptb(fake_data, tmp_path):
    """A writable copy of the fake PTB-XL (40 records, 10 s at 100 Hz)."""
    shutil.copytree(fake_data / "ptbxl", tmp_path / "ptbxl")
    return tmp_path


@pytest.fixture()
def cinc(fake_data, tmp_path):
    """A writable copy of the fake CinC 2017 (24 records)."""
    shutil.copytree(fake_data / "cinc2017", tmp_path / "cinc2017")
    return tmp_path


# ---- 1. annotations -------------------------------------------------------------------------------

def test_random_bytes_atr_is_refused(mit):
    atr = mit / "mitdb" / "100.atr"
    atr.write_bytes(np.random.default_rng(0).bytes(2000))  # wfdb decodes these into ~500 "beats"
    msg = raised(mitdb.load_record, mit, "100")
    assert re.fullmatch(
        re.escape(f"{atr}: ") + r"\d+ of \d+ annotations lie outside the signal \(first: annotation \d+ at sample "
        r"-?\d+; the record has samples 0\.\.7199\): corrupt annotation file", msg), msg
    assert raised(mitdb.read_beats, mit, "100") == msg  # the catalogue reads beats the same way


def test_atr_outside_the_signal(mit):
    atr = mit / "mitdb" / "100.atr"
    wfdb.wrann("100", "atr", np.array([10, 500, 10**7]), symbol=["N"] * 3, write_dir=str(mit / "mitdb"))
    assert raised(mitdb.load_record, mit, "100") == (
        f"{atr}: 1 of 3 annotations lie outside the signal (first: annotation 2 at sample 10000000; "
        f"the record has samples 0..7199): corrupt annotation file")


def test_atr_positions_decreasing(mit):
    atr = mit / "mitdb" / "100.atr"

    def word(code, diff):
        return struct.pack("<H", (code << 10) | diff)

    back = -60 & 0xFFFFFFFF  # SKIP annotation (code 59) 60 samples backwards, PDP-11 long word order
    atr.write_bytes(word(1, 100) + word(59, 0) + struct.pack("<HH", back >> 16, back & 0xFFFF) + word(1, 0)
                    + word(1, 30) + b"\x00\x00")
    assert raised(mitdb.load_record, mit, "100") == (
        f"{atr}: annotation sample positions decrease (1 time(s); first: annotation 1 at sample 40 after 100): "
        f"corrupt annotation file")


def test_atr_wfdb_read_error_names_the_file(mit):
    atr = mit / "mitdb" / "100.atr"
    atr.write_bytes(np.random.default_rng(3).bytes(2000))  # makes wfdb.rdann itself fail
    msg = raised(mitdb.load_record, mit, "100")
    assert msg.startswith(f"{atr}: unreadable annotation file ("), msg


# ---- 2. headers against the signal -----------------------------------------------------------------

def test_header_n_sig_1_over_two_lead_file(mit):
    hea, dat = mit / "mitdb" / "100.hea", mit / "mitdb" / "100.dat"
    edit_header(hea, lambda ls: [ls[0].replace("100 2 ", "100 1 "), ls[1]])  # V1 line dropped too
    assert raised(mitdb.load_record, mit, "100") == (
        f"{dat}: 21600 bytes, but the header describes 10800 (1 signal(s) x 7200 samples in format 212); "
        f"check n_sig, sig_len and format in 100.hea")


def test_header_n_sig_disagrees_with_signal_lines(mit):
    hea = mit / "mitdb" / "100.hea"
    edit_header(hea, lambda ls: [ls[0].replace("100 2 ", "100 1 ")] + ls[1:])
    assert raised(mitdb.load_record, mit, "100") == f"{hea}: header declares n_sig 1 but has 2 signal line(s) (sig_name)"


def test_header_gain_100_times_too_small(mit):
    hea = mit / "mitdb" / "100.hea"
    edit_header(hea, lambda ls: [ls[0]] + [ln.replace(" 200.0(1024)/mV ", " 2(1024)/mV ") for ln in ls[1:]])
    msg = raised(mitdb.load_record, mit, "100")
    m = re.fullmatch(re.escape(f"{hea}: lead MLII has values up to ") + r"(\d+)" + re.escape(
        " mV (99.9th percentile of |x - median|; ECG stays below 20 mV): check the header's gain "
        "(ADC units per mV) or units"), msg)
    assert m and int(m.group(1)) > 50, msg


def test_header_units_not_mv(mit):
    hea = mit / "mitdb" / "100.hea"
    edit_header(hea, lambda ls: [ls[0]] + [ln.replace("/mV ", "/uV ") for ln in ls[1:]])
    assert raised(mitdb.load_record, mit, "100") == f"{hea}: lead MLII is in 'uV'; the loaders expect mV"


def test_mitdb_lead_names(mit):
    hea = mit / "mitdb" / "100.hea"
    text = hea.read_text()
    hea.write_text(text.replace(" MLII\n", " ML2\n"))
    assert raised(mitdb.load_record, mit, "100") == (
        f"{hea}: lead name(s) ['ML2'] are not MIT-BIH leads ['MLII', 'V1', 'V2', 'V4', 'V5']")
    hea.write_text(text.replace(" MLII\n", " V2\n"))  # a valid lead name, but record 100 must have MLII
    assert raised(mitdb.load_record, mit, "100") == (
        f"{hea}: MIT-BIH record 100 has no lead MLII (leads ['V2', 'V1']); only records 102, 104 lack it")


def test_mitdb_documented_fallback_only(mit):
    d = mit / "mitdb"
    s = synth_ecg(20.0, 360.0, 70.0, "sinus", n_leads=2, noise_mv=0.02, seed=3)
    wfdb.wrsamp("102", fs=360, units=["mV", "mV"], sig_name=["V5", "V2"], p_signal=s.signal.astype(np.float64),
                fmt=["212", "212"], adc_gain=[200.0, 200.0], baseline=[1024, 1024], write_dir=str(d))
    wfdb.wrann("102", "atr", s.rpeaks, symbol=list(s.beat_classes), write_dir=str(d))
    assert mitdb.load_record(mit, "102").lead_names == ("V5",)  # documented: 102 and 104 use V5
    with pytest.raises(DataError, match=re.escape(f"{d / '102.hea'}: MIT-BIH record 102: no lead MLII")):
        mitdb.load_record(mit, "102", fallback=False)
    assert raised(mitdb.load_record, mit, "100", lead="V4") == (
        f"{d / '100.hea'}: MIT-BIH record 100: no lead V4; record has ['MLII', 'V1'] (no documented substitute)")


def test_ptbxl_needs_the_12_standard_leads(ptb):
    entry = ptbxl.read_metadata(ptb)[0]
    hea = ptb / "ptbxl" / f"{entry.filename}.hea"
    hea.write_text(hea.read_text().replace(" V6\n", " V7\n"))
    names = list(ptbxl.LEADS[:-1]) + ["V7"]
    assert raised(ptbxl.load_record, ptb, entry) == f"{hea}: missing lead(s) ['V6']; record has {names}"


# ---- 3. flat-line stretches ------------------------------------------------------------------------

def test_half_zeroed_record_is_refused(mit):
    def zero_second_half(x):
        x[3600:] = 0.0
        return x

    rewrite_mitdb_signal(mit, "100", zero_second_half)
    base = mit / "mitdb" / "100"
    assert raised(mitdb.load_record, mit, "100") == (
        f"{base}: lead MLII is flat (constant) for 10.0 s of 20.0 s (from 10.0 s); records with a flat stretch "
        f"of 5 s or 25% of the record are refused (zeroed or disconnected signal)")
    assert (FLAT_MAX_S, FLAT_MAX_FRACTION, MAX_ROBUST_MV) == (5.0, 0.25, 20.0)  # the documented rule


def test_short_flat_stretch_is_kept(mit):
    def zero_one_second(x):
        x[3600:3960] = 0.0
        return x

    rewrite_mitdb_signal(mit, "100", zero_one_second)
    assert mitdb.load_record(mit, "100").signal.shape == (7200, 1)


def test_flat_fraction_rule_on_a_10_s_record(ptb):
    entry = ptbxl.read_metadata(ptb)[0]
    base = ptb / "ptbxl" / entry.filename
    rec = wfdb.rdrecord(str(base))
    x = rec.p_signal.copy()
    x[500:800, 0] = 0.0  # lead I flat for 3 s of 10 s: under 5 s but over 25 % of the record
    wfdb.wrsamp(base.name, fs=100, units=["mV"] * 12, sig_name=rec.sig_name, p_signal=x, fmt=["16"] * 12,
                adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(base.parent))
    assert raised(ptbxl.load_record, ptb, entry) == (
        f"{base}: lead I is flat (constant) for 3.0 s of 10.0 s (from 5.0 s); records with a flat stretch "
        f"of 5 s or 25% of the record are refused (zeroed or disconnected signal)")


# ---- 4. window cache key covers every file of the record ----------------------------------------

def test_truncated_dat_after_cached_load_is_not_served(mit, tmp_path, monkeypatch):
    task = get_task("mitdb-aami")
    records = TaskRecords(task, None, {"100": "N"}, {})
    cfg, cache = pp.PreprocessConfig(), tmp_path / "cache"
    first = tw.load_windows(records, mit, ["100"], cfg, cache_dir=cache)
    assert len(first) > 10 and len(list(cache.rglob("*.npz"))) == 1

    calls = []
    compute = tw.record_windows
    monkeypatch.setattr(tw, "record_windows", lambda *a, **k: calls.append(a) or compute(*a, **k))
    again = tw.load_windows(records, mit, ["100"], cfg, cache_dir=cache)
    assert calls == [] and np.array_equal(again.x, first.x)  # unchanged files: served from the cache

    dat = mit / "mitdb" / "100.dat"
    st = dat.stat()
    dat.write_bytes(dat.read_bytes()[:15000])
    os.utime(dat, ns=(st.st_atime_ns, st.st_mtime_ns))  # even with the old mtime, the size changed
    assert raised(tw.load_windows, records, mit, ["100"], cfg, cache_dir=cache) == (
        f"{dat}: truncated (15000 bytes, header promises 21600 for 7200 samples: "
        f"2 signal(s) x 7200 samples in format 212)")
    assert len(calls) == 1  # recomputed (and refused), not served


def test_cache_key_covers_dat_atr_mat_and_labels(mit, ptb, tmp_path):
    cache, cfg = tmp_path / "c", "cfg"
    mtask = get_task("mitdb-aami")
    key = tw._cache_path(cache, mtask, cfg, mit, "100", None)
    files = {f.name for f in tw._record_files(mtask, mit, "100", None)}
    assert files == {"100.hea", "100.dat", "100.atr"}
    atr = mit / "mitdb" / "100.atr"
    st = atr.stat()
    os.utime(atr, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert tw._cache_path(cache, mtask, cfg, mit, "100", None) != key  # edited annotations
    key = tw._cache_path(cache, mtask, cfg, mit, "100", None)
    assert tw._cache_path(cache, mtask, cfg, mit, "100", None, label="N") != key
    # a change of a cached format (e.g. the definition of record features) gives another file
    assert tw._cache_path(cache, mtask, cfg, mit, "100", None, fmt="features/2") != key

    ctask = get_task("cinc2017")
    base = write_cinc_mat_record(tmp_path / "cinc2017" / "training2017", "A00001",
                                 synth_ecg(20.0, 300.0, 70.0, "sinus", seed=1).signal)
    assert {f.name for f in tw._record_files(ctask, tmp_path, "A00001", None)} == {"A00001.hea", "A00001.mat"}
    key = tw._cache_path(cache, ctask, cfg, tmp_path, "A00001", None)
    mat = base.with_suffix(".mat")
    mat.write_bytes(mat.read_bytes()[:-100])
    assert tw._cache_path(cache, ctask, cfg, tmp_path, "A00001", None) != key

    ptask = get_task("ptbxl-mi")
    entry = ptbxl.read_metadata(ptb)[0]
    assert {f.name for f in tw._record_files(ptask, ptb, entry.record_id, entry)} == {
        f"{entry.record_id}.hea", f"{entry.record_id}.dat"}


# ---- 5. CinC .mat files ------------------------------------------------------------------------------

@pytest.fixture()
def cinc_mat(tmp_path):
    """A CinC-style data folder with one 30-s record A00001 stored as PhysioNet does (.mat + .hea)."""
    d = tmp_path / "cinc2017"
    (d / "training2017").mkdir(parents=True)
    (d / "REFERENCE.csv").write_text("A00001,N\n")
    sig = synth_ecg(30.0, 300.0, 70.0, "sinus", seed=1).signal
    return tmp_path, d / "training2017", sig


def test_cinc_mat_v4_loads(cinc_mat):
    root, d, sig = cinc_mat
    write_cinc_mat_record(d, "A00001", sig)
    rec = cinc2017.load_record(root, "A00001")
    assert rec.signal.shape == (9000, 1) and rec.label == "N"
    np.testing.assert_allclose(rec.signal[:, 0], sig[:, 0], atol=1e-3)


def test_cinc_mat_v5_is_refused(cinc_mat):
    root, d, sig = cinc_mat
    write_cinc_mat_record(d, "A00001", sig, variable="ecg", mat_format="5")
    assert raised(cinc2017.load_record, root, "A00001") == (
        f"{d / 'A00001.mat'}: MAT v5/v7 file; WFDB expects a MAT v4 file holding one variable `val` "
        f"(save it with scipy.io.savemat(..., format='4') or MATLAB -v4)")


def test_cinc_mat_v4_wrong_variable_or_length(cinc_mat):
    root, d, sig = cinc_mat
    write_cinc_mat_record(d, "A00001", sig, variable="ecg")
    assert raised(cinc2017.load_record, root, "A00001") == (
        f"{d / 'A00001.mat'}: not the MAT v4 layout the header describes (one variable `val`): "
        f"variable 'ecg' instead of 'val'")
    write_cinc_mat_record(d, "A00001", sig)
    hea = d / "A00001.hea"
    hea.write_text(hea.read_text().replace(" 9000\n", " 8000\n", 1))
    assert raised(cinc2017.load_record, root, "A00001") == (
        f"{d / 'A00001.mat'}: not the MAT v4 layout the header describes (one variable `val`): "
        f"a 1 x 9000 matrix, header describes 1 x 8000")


def test_cinc_lead_must_be_ecg(cinc):
    hea = cinc / "cinc2017" / "training2017" / "A00001.hea"
    hea.write_text(hea.read_text().replace(" ECG\n", " II\n"))
    assert raised(cinc2017.load_record, cinc, "A00001") == (
        f"{hea}: CinC 2017 records have one lead named ECG; header has ['II']")


# ---- 6./7. REFERENCE.csv ------------------------------------------------------------------------------

def test_reference_conflicting_duplicate(cinc):
    ref = cinc / "cinc2017" / "REFERENCE.csv"
    before = cinc2017.read_reference(cinc)
    with open(ref, "a") as fh:
        fh.write("A00001,N\n")  # identical repeat: tolerated
    assert cinc2017.read_reference(cinc) == before
    with open(ref, "a") as fh:
        fh.write("A00001,A\n")
    assert raised(cinc2017.read_reference, cinc) == (
        f"{ref}: record A00001 is listed twice with different labels: line 1 says 'N', line 26 says 'A'")


@pytest.mark.parametrize("name", ["../A00001", "/etc/passwd", "sub/A00001", "..", "A00001\\..\\x", ".hidden"])
def test_reference_record_names_stay_in_the_folder(cinc, name):
    ref = cinc / "cinc2017" / "REFERENCE.csv"
    with open(ref, "a") as fh:
        fh.write(f"{name},N\n")
    assert raised(cinc2017.read_reference, cinc) == (
        f"{ref}: line 25: record name {name!r} is not a plain record name (letters, digits, '_', '-'); "
        f"path separators, '..' or absolute paths would leave the database folder")
    d = cinc / "cinc2017" / "training2017"
    assert raised(cinc2017.load_record, cinc, name) == (
        f"{d}: record name {name!r} is not a plain record name (letters, digits, '_', '-'); "
        f"path separators, '..' or absolute paths would leave the database folder")


def rewrite_db(root, fn) -> None:
    f = root / "ptbxl" / "ptbxl_database.csv"
    df = pd.read_csv(f)
    fn(df)
    df.to_csv(f, index=False)


@pytest.mark.parametrize("fname", ["../../outside/00001_lr", "/tmp/00001_lr", "records100\\..\\..\\00001_lr",
                                   "records100/../../00001_lr"])
def test_ptbxl_filename_stays_in_the_folder(ptb, fname):
    rewrite_db(ptb, lambda df: df.__setitem__("filename_lr", df["filename_lr"].where(df.index != 0, fname)))
    csv_ = ptb / "ptbxl" / "ptbxl_database.csv"
    assert raised(ptbxl.read_metadata, ptb) == (
        f"{csv_}: row 1 (ecg_id 1): record path {fname!r} would leave the database folder "
        f"(absolute paths, '..' and backslashes are refused)")


# ---- 8. PTB-XL CSVs -------------------------------------------------------------------------------------

@pytest.mark.parametrize("column", ["strat_fold", "scp_codes", "filename_lr", "patient_id"])
def test_ptbxl_missing_column(ptb, column):
    rewrite_db(ptb, lambda df: df.drop(columns=[column], inplace=True))
    f = ptb / "ptbxl" / "ptbxl_database.csv"
    msg = raised(ptbxl.read_metadata, ptb)
    assert msg.startswith(f"{f}: missing column(s) ['{column}']; the file has ['ecg_id'"), msg


def test_ptbxl_empty_and_header_only_csv(ptb):
    f = ptb / "ptbxl" / "ptbxl_database.csv"
    header = f.read_text().splitlines()[0]
    f.write_text("")
    assert raised(ptbxl.read_metadata, ptb) == f"{f}: empty file (no header row, no records)"
    f.write_text(header + "\n")
    assert raised(ptbxl.read_metadata, ptb) == f"{f}: no rows (header only)"


@pytest.mark.parametrize("codes", ["NORM: 100", "[('NORM', 100.0)]", "__import__('os').getcwd()",
                                   "{'NORM': 'high'}", "{1: 100.0}", "{'NORM': True}"])
def test_ptbxl_malformed_scp_codes(ptb, codes):
    rewrite_db(ptb, lambda df: df.__setitem__("scp_codes", df["scp_codes"].where(df.index != 2, codes)))
    f = ptb / "ptbxl" / "ptbxl_database.csv"
    assert raised(ptbxl.read_metadata, ptb) == (
        f"{f}: row 3 (ecg_id 3): scp_codes is not a dict of code -> likelihood: {codes!r}")


def test_ptbxl_nan_patient_id(ptb):
    rewrite_db(ptb, lambda df: df.__setitem__("patient_id", df["patient_id"].where(df.index != 4)))
    f = ptb / "ptbxl" / "ptbxl_database.csv"
    assert raised(ptbxl.read_metadata, ptb) == f"{f}: row 5 (ecg_id 5): patient_id is missing or not an integer (nan)"


def test_ptbxl_duplicate_record(ptb):
    rewrite_db(ptb, lambda df: df.__setitem__("filename_lr", df["filename_lr"].where(df.index != 1,
                                                                                     df.at[0, "filename_lr"])))
    f = ptb / "ptbxl" / "ptbxl_database.csv"
    assert raised(ptbxl.read_metadata, ptb) == (
        f"{f}: row 2 (ecg_id 2) and row 1 (ecg_id 1) both name record '00001_lr' (filename_lr)")


def test_ptbxl_scp_statements_without_diagnostic_class(ptb):
    f = ptb / "ptbxl" / "scp_statements.csv"
    table = pd.read_csv(f, index_col=0)
    table.drop(columns=["diagnostic_class"]).to_csv(f)
    msg = raised(ptbxl.read_metadata, ptb)
    assert msg.startswith(f"{f}: missing column(s) ['diagnostic_class']; the file has ["), msg
    table.loc["IMI", "diagnostic_class"] = np.nan
    table.to_csv(f)
    assert raised(ptbxl.read_metadata, ptb) == f"{f}: diagnostic code 'IMI' has no diagnostic_class"


# ---- 9. validating records before training --------------------------------------------------------------

def test_validate_records(fake_data, tmp_path):
    shutil.copytree(fake_data / "mitdb", tmp_path / "mitdb")
    ids = sorted(p.stem for p in (tmp_path / "mitdb").glob("*.hea"))
    assert validate_records("mitdb", tmp_path, ids) == len(ids) == 11
    assert validate_records("mitdb", tmp_path, ids, signals=False) == 11
    dat, atr = tmp_path / "mitdb" / "101.dat", tmp_path / "mitdb" / "106.atr"
    dat.write_bytes(dat.read_bytes()[:1000])
    atr.write_bytes(np.random.default_rng(0).bytes(2000))
    for signals in (True, False):
        msg = raised(validate_records, "mitdb", tmp_path, ids, signals=signals)
        assert msg.startswith(f"2 of 11 mitdb record(s) failed validation: {dat}: truncated (1000 bytes"), msg
        assert f"; {atr}: " in msg and "annotations lie outside the signal" in msg

    entries = {e.record_id: e for e in ptbxl.read_metadata(fake_data)}
    assert validate_records("ptbxl", fake_data, list(entries), entries) == 40
    assert validate_records("ptbxl", fake_data, list(entries)[:5], signals=False) == 5
    assert validate_records("cinc2017", fake_data, list(cinc2017.read_reference(fake_data))) == 24
    msg = raised(validate_records, "cinc2017", fake_data, ["A00001", "A99999"], signals=False)
    assert msg == f"1 of 2 cinc2017 record(s) failed validation: {fake_data / 'cinc2017' / 'training2017' / 'A99999.hea'}: file missing"


# ---- real data: the checks accept every real record -------------------------------------------------------

@pytest.mark.realdata
@pytest.mark.slow
def test_real_records_pass_the_checks(shared_data):
    assert validate_records("mitdb", shared_data, mitdb.RECORDS) == 48
    for r in mitdb.RECORDS:  # both leads of every record, not only MLII
        assert mitdb.load_record(shared_data, r, lead=None).signal.shape == (650000, 2)
    entries = {e.record_id: e for e in ptbxl.read_metadata(shared_data)}
    assert validate_records("ptbxl", shared_data, list(entries), entries) == len(entries) == 987
    refs = list(cinc2017.read_reference(shared_data))
    sample = sorted(np.random.default_rng(0).choice(refs, 300, replace=False).tolist())
    assert validate_records("cinc2017", shared_data, sample) == 300
    assert validate_records("cinc2017", shared_data, refs, signals=False) == len(refs) > 5000
