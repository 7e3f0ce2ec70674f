"""Input readers, clear CLI errors, and the CLI end to end with the model-free rr-rule classifier."""
from __future__ import annotations

import json

import numpy as np
import pytest
import wfdb

import ecgnet_tf  # noqa: F401
from ecgnet_tf.analyze import main
from ecgnet_tf.monitor.sources import InputError, open_source
from ecgnet_tf.synthetic import synth_ecg
from cli_checks import one_error_line
from fake_databases import write_af_record


def _error(capsys, argv) -> str:
    return one_error_line(main, capsys, argv)


@pytest.fixture()
def sig() -> np.ndarray:
    return synth_ecg(30, 250, 70, seed=1, n_leads=2).signal.astype(np.float64)


def test_clear_errors(tmp_path, capsys, sig):
    csv = tmp_path / "a.csv"
    np.savetxt(csv, sig, delimiter=",")
    npy = tmp_path / "a.npy"
    np.save(npy, sig)
    (tmp_path / "a.xyz").write_text("1\n2\n")
    m = ["--model", "rr-rule", "--out", str(tmp_path / "o")]
    assert "unknown format" in _error(capsys, [str(tmp_path / "a.xyz")] + m)
    assert "unknown format" in _error(capsys, [str(csv), "--format", "edf", "--fs", "250"] + m)
    assert "--fs is required" in _error(capsys, [str(csv)] + m)
    assert "--fs is required" in _error(capsys, [str(npy)] + m)
    assert "implausible sampling rate 20 Hz" in _error(capsys, [str(npy), "--fs", "20"] + m)
    assert "implausible sampling rate 20000 Hz" in _error(capsys, [str(csv), "--fs", "20000"] + m)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty" in _error(capsys, [str(empty), "--fs", "250"] + m)
    header_only = tmp_path / "h.csv"
    header_only.write_text("I,II\n")
    assert "empty" in _error(capsys, [str(header_only), "--fs", "250"] + m)
    np.save(tmp_path / "e.npy", np.zeros((0, 1)))
    assert "empty" in _error(capsys, [str(tmp_path / "e.npy"), "--fs", "250"] + m)
    bad = sig.copy()
    bad[4321, 0] = np.nan
    np.savetxt(tmp_path / "nan.csv", bad, delimiter=",")
    msg = _error(capsys, [str(tmp_path / "nan.csv"), "--fs", "250"] + m)
    assert "nan.csv" in msg and "sample 4321" in msg and "17.284 s" in msg
    np.save(tmp_path / "nan.npy", bad)
    assert "sample 4321" in _error(capsys, [str(tmp_path / "nan.npy"), "--fs", "250"] + m)
    assert "no lead 'V9'" in _error(capsys, [str(csv), "--fs", "250", "--lead", "V9"] + m)
    wfdb.wrsamp("rec", fs=250, units=["mV"] * 2, sig_name=["I", "II"], p_signal=sig, fmt=["16"] * 2,
                write_dir=str(tmp_path))
    assert "conflicts" in _error(capsys, [str(tmp_path / "rec"), "--fs", "360"] + m)
    assert "no model.keras" in _error(capsys, [str(csv), "--fs", "250", "--model", str(tmp_path)])


def test_readers_agree_and_select_leads(tmp_path, sig):
    with open(tmp_path / "h.csv", "w") as fh:
        fh.write("I;II\n")
        np.savetxt(fh, sig, delimiter=";", fmt="%.6f")
    np.savetxt(tmp_path / "n.csv", sig, fmt="%.6f")  # whitespace, no header
    np.save(tmp_path / "t.npy", sig.T.copy())  # (C, n) is read transposed
    wfdb.wrsamp("rec", fs=250, units=["mV"] * 2, sig_name=["I", "II"], p_signal=sig, fmt=["16"] * 2,
                adc_gain=[1000.0] * 2, baseline=[0, 0], write_dir=str(tmp_path))
    srcs = {
        "csv": open_source(tmp_path / "h.csv", fs=250, n_model_leads=1),
        "csv-noheader": open_source(tmp_path / "n.csv", fs=250, lead="1"),
        "npy": open_source(tmp_path / "t.npy", fs=250, lead="1"),
        "wfdb": open_source(tmp_path / "rec.hea", n_model_leads=1),
    }
    assert srcs["csv"].info.selected_names == ("II",)  # preferred lead for single-lead models
    assert srcs["wfdb"].info.selected_names == ("II",) and srcs["wfdb"].info.fs == 250
    for name, src in srcs.items():
        x = np.concatenate(list(src.chunks(997)))
        assert x.shape == (len(sig), 1), name
        assert np.abs(x[:, 0] - sig[:, 1]).max() < 2e-3, name
    with pytest.raises(InputError, match="needs 12 leads"):
        open_source(tmp_path / "rec", n_model_leads=12)


def test_cli_rr_rule_with_reference(tmp_path, capsys):
    write_af_record(tmp_path / "af1")
    out = tmp_path / "out"
    rc = main([str(tmp_path / "af1"), "--model", "rr-rule", "--out", str(out), "--reference-annotations", "atr",
               "--auto-report", "0.96", "--review", "0.5"])
    assert rc == 0, capsys.readouterr().err
    rep = json.loads((out / "report.json").read_text())
    assert rep["reference"]["reference_af_intervals"] == [[100.0, 220.0], [300.0, 360.0]]
    assert rep["episode_sensitivity"] == 1.0 and rep["episode_ppv"] == 1.0
    lat = rep["onset_latency_s"]
    assert len(lat["latencies_s"]) == 2 and all(5 <= v <= 15 for v in lat["latencies_s"])
    assert lat["paper_claim_median_s"] == 8.2
    assert abs(rep["af_burden_pct"] - rep["reference"]["reference_af_burden_pct"]) < 5
    af = [e for e in rep["episodes"] if e["label"] == "AF"]
    assert [e["routing"] for e in af] == ["auto_report"] * 2  # rule gives p = 0.97 >= 0.96
    assert rep["routing"]["overall"]["decision"] == "AF"
    assert rep["rejected_windows"]["count"] == 0 and rep["rejected_windows"]["fraction"] == 0
    obs = rep["observations"]
    assert all(o["resourceType"] == "Observation" for o in obs) and len(obs) == len(rep["episodes"]) + 2
    assert obs[0]["effectivePeriod"]["_offset_s"]["start"] == rep["episodes"][0]["start_s"]
    assert (out / "episodes.csv").read_text().count("\n") == len(rep["episodes"]) + 1
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4 and "src=\"http" not in html


def test_quality_rejections_are_counted(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = synth_ecg(120, 250, 70, seed=2).signal[:, 0].astype(np.float64)
    x[250 * 40:250 * 60] = 0.0  # 20 s flat line
    x[250 * 80:250 * 95] += 2.0 * rng.standard_normal(250 * 15)  # 15 s of heavy noise
    np.save(tmp_path / "q.npy", x)
    rc = main([str(tmp_path / "q.npy"), "--fs", "250", "--model", "rr-rule", "--out", str(tmp_path / "o"),
               "--no-html"])
    assert rc == 0
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    rej = rep["rejected_windows"]
    assert rej["count"] >= 5 and "FLAT_LINE" in rej["by_reason"]
    assert rej["fraction"] == pytest.approx(rej["count"] / rep["windows"]["count"])
    noise = [e for e in rep["episodes"] if e["label"] == "noise"]
    assert noise and 35 <= noise[0]["start_s"] <= 45 and noise[0]["routing"] == "extended_monitoring"
