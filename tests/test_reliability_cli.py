"""What a user sees: clear input errors (units, too short) and no TensorFlow start-up noise on CPU machines."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecgnet_tf import quiet
from ecgnet_tf.analyze import main
from ecgnet_tf.monitor import sources
from ecgnet_tf.monitor.rule import rule_spec
from ecgnet_tf.monitor.sources import InputError, open_source
from ecgnet_tf.preprocess.quality import QualityConfig
from ecgnet_tf.synthetic import synth_ecg

from cli_checks import one_error_line

REPO = Path(__file__).resolve().parents[1]
UNITS = ("the input looks like microvolts or ADC counts; ecgnet expects millivolts "
         "(divide by 1000, or by the ADC gain)")
NEEDED = "at least 9 s are needed (the rhythm models analyse 10-s windows)"


def _error(capsys, argv) -> str:
    return one_error_line(main, capsys, argv)


@pytest.fixture(scope="module")
def ecg() -> np.ndarray:
    """60 s at 1000 Hz, one lead, mV; peak |x| is 1.117 mV."""
    return synth_ecg(60, 1000, 70, seed=1).signal.astype(np.float64)


def _args(path: Path, tmp_path: Path, fs: str | None = "1000") -> list[str]:
    return [str(path)] + (["--fs", fs] if fs else []) + ["--model", "rr-rule", "--out", str(tmp_path / "o"),
                                                        "--no-html"]


# ---------------------------------------------------------------- units
def test_microvolts_npy_csv_wfdb(tmp_path, capsys, ecg):
    uv = ecg * 1000.0
    top = np.abs(uv).max()
    np.save(tmp_path / "uv.npy", uv)
    assert _error(capsys, _args(tmp_path / "uv.npy", tmp_path)) == (
        f"error: {tmp_path / 'uv.npy'}: lead 'lead0' has values up to {top:.4g}: {UNITS}")
    np.savetxt(tmp_path / "uv.csv", uv, delimiter=",", header="II", comments="")
    assert _error(capsys, _args(tmp_path / "uv.csv", tmp_path)) == (
        f"error: {tmp_path / 'uv.csv'}: lead 'II' has values up to {top:.4g}: {UNITS}")
    wfdb.wrsamp("uv", fs=1000, units=["uV"], sig_name=["MLII"], p_signal=uv, fmt=["16"], adc_gain=[1.0],
                baseline=[0], write_dir=str(tmp_path))
    msg = _error(capsys, _args(tmp_path / "uv", tmp_path, fs=None))
    assert msg.startswith(f"error: {tmp_path / 'uv'}: lead 'MLII' has values up to ") and msg.endswith(UNITS)


def test_raw_adc_counts(tmp_path, capsys, ecg):
    counts = np.round(ecg * 200.0 + 1024.0)  # MIT-BIH style 11-bit ADC, 200 adu/mV, baseline 1024
    np.save(tmp_path / "adc.npy", counts)
    assert _error(capsys, _args(tmp_path / "adc.npy", tmp_path)) == (
        f"error: {tmp_path / 'adc.npy'}: lead 'lead0' has values up to {np.abs(counts).max():.4g}: {UNITS}")


def test_millivolts_with_artifacts_and_extra_channels_pass(tmp_path, capsys, ecg):
    x = ecg.copy()
    x[20_000:21_000] += 40.0  # 1 s electrode-pop artifact: robust statistics ignore it
    resp = 500.0 * np.sin(2 * np.pi * 0.25 * np.arange(len(x)) / 1000.0)  # a non-ECG channel
    np.save(tmp_path / "two.npy", np.stack([x[:, 0], resp], axis=1))
    rc = main(_args(tmp_path / "two.npy", tmp_path) + ["--lead", "0"])
    assert rc == 0, capsys.readouterr().err
    # probing all leads passes (one ECG-like lead is enough), choosing the odd lead does not
    assert open_source(tmp_path / "two.npy", fs=1000).info.leads == (0, 1)
    with pytest.raises(InputError, match="lead 'lead1' has values up to 500"):
        open_source(tmp_path / "two.npy", fs=1000, lead="1")


# ---------------------------------------------------------------- length
def test_min_duration_matches_window_and_flat_run():
    assert sources.MIN_DURATION_S == rule_spec().window_s - QualityConfig().flat_run_s
    assert sources.WINDOW_S == rule_spec().window_s


def test_short_recordings(tmp_path, capsys, ecg):
    np.save(tmp_path / "short.npy", ecg[:3300])
    assert _error(capsys, _args(tmp_path / "short.npy", tmp_path)) == (
        f"error: {tmp_path / 'short.npy'}: too short: the recording is 3.3 s long; {NEEDED}")
    np.savetxt(tmp_path / "short.csv", ecg[:3300], delimiter=",")
    assert _error(capsys, _args(tmp_path / "short.csv", tmp_path)) == (
        f"error: {tmp_path / 'short.csv'}: too short: the recording is 3.3 s long; {NEEDED}")
    wfdb.wrsamp("short", fs=1000, units=["mV"], sig_name=["II"], p_signal=ecg[:3300], fmt=["16"],
                adc_gain=[1000.0], baseline=[0], write_dir=str(tmp_path))
    assert _error(capsys, _args(tmp_path / "short", tmp_path, fs=None)) == (
        f"error: {tmp_path / 'short'}: too short: the recording is 3.3 s long; {NEEDED}")
    np.save(tmp_path / "almost.npy", ecg[:8999])  # rounded down, never "9 s long; at least 9 s"
    assert _error(capsys, _args(tmp_path / "almost.npy", tmp_path)) == (
        f"error: {tmp_path / 'almost.npy'}: too short: the recording is 8.9 s long; {NEEDED}")
    np.save(tmp_path / "nine.npy", ecg[:9000])
    assert main(_args(tmp_path / "nine.npy", tmp_path)) == 0


def test_one_sample_and_empty(tmp_path, capsys, ecg):
    np.save(tmp_path / "one.npy", ecg[:1])
    assert _error(capsys, _args(tmp_path / "one.npy", tmp_path)) == (
        f"error: {tmp_path / 'one.npy'}: too short: the recording is 1 sample (0.001 s) long; {NEEDED}")
    (tmp_path / "one.csv").write_text("0.12\n")
    assert _error(capsys, _args(tmp_path / "one.csv", tmp_path)) == (
        f"error: {tmp_path / 'one.csv'}: too short: the recording is 1 sample (0.001 s) long; {NEEDED}")
    (tmp_path / "hdr.csv").write_text("II\n")
    assert _error(capsys, _args(tmp_path / "hdr.csv", tmp_path)) == (
        f"error: {tmp_path / 'hdr.csv'}: empty recording (no samples)")
    np.save(tmp_path / "empty.npy", np.zeros((0, 1)))
    assert "empty recording" in _error(capsys, _args(tmp_path / "empty.npy", tmp_path))


def test_min_duration_can_be_lowered(tmp_path, ecg):
    np.save(tmp_path / "short.npy", ecg[:3300])
    src = open_source(tmp_path / "short.npy", fs=1000, min_duration_s=0)
    assert sum(len(c) for c in src.chunks()) == 3300


# ---------------------------------------------------------------- TensorFlow start-up noise
NOISE = ("cuInit", "cuda drivers", "oneDNN", "absl::InitializeLog")


def _clean_env(**extra: str) -> dict:
    env = dict(os.environ)
    for k in ("CUDA_VISIBLE_DEVICES", "TF_CPP_MIN_LOG_LEVEL", "ECGNET_QUIET_TF"):
        env.pop(k, None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _run(code: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_clean_env(**extra),
                          capture_output=True, text=True, timeout=120)


TF_CODE = ("import ecgnet_tf, tensorflow as tf, tf_keras; x = tf.constant(1) + 1; "
           "print('ok', int(x), tf.keras.__name__.split('.')[0])")


def test_importing_tensorflow_through_the_package_is_quiet():
    r = _run(TF_CODE)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ok", "2", "tf_keras"]
    assert not [n for n in NOISE if n in r.stderr], r.stderr


def test_a_command_that_loads_tensorflow_is_quiet():
    r = subprocess.run([sys.executable, "-m", "ecgnet_tf.train", "--help"], cwd=REPO, env=_clean_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "usage" in r.stdout
    assert not [n for n in NOISE if n in r.stderr], r.stderr


def test_environment_overrides_are_kept_and_the_filter_can_be_turned_off():
    code = ("import os, sys, ecgnet_tf\nfrom ecgnet_tf import quiet\n"
            "print(os.environ['TF_CPP_MIN_LOG_LEVEL'], os.environ['TF_USE_LEGACY_KERAS'], "
            "any(isinstance(f, quiet._QuietTensorFlowImport) for f in sys.meta_path))")
    assert _run(code).stdout.split() == ["2", "1", "True"]
    assert _run(code, TF_CPP_MIN_LOG_LEVEL="1").stdout.split() == ["1", "1", "True"]
    assert _run(code, TF_CPP_MIN_LOG_LEVEL="0").stdout.split() == ["0", "1", "False"]
    assert _run(code, ECGNET_QUIET_TF="0").stdout.split() == ["2", "1", "False"]


def test_filter_drops_only_the_known_lines(capfd):
    """C-level writes to fd 2: known noise is dropped, everything else (real errors) passes in order."""
    with quiet.filtered_stderr(quiet.NOISE + quiet.NO_DRIVER_NOISE):
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"I0000 00:00:1 123 port.cc:153] oneDNN custom operations are on. You may see ...\n")
        os.write(2, b"E0000 00:00:1 123 some_kernel.cc:1] real problem: out of memory\n")
        os.write(2, b"E0000 00:00:1 123 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n")
        os.write(2, b"Traceback (most recent call last):\n")
        os.write(2, b"partial line without newline")
    err = capfd.readouterr().err
    assert err == "E0000 00:00:1 123 some_kernel.cc:1] real problem: out of memory\nTraceback (most recent call " \
                  "last):\npartial line without newline"


def test_cuda_noise_kept_when_a_driver_is_present(monkeypatch):
    monkeypatch.setattr(quiet, "nvidia_driver_present", lambda: True)
    monkeypatch.setattr(sys, "meta_path", [f for f in sys.meta_path if not isinstance(f, quiet._QuietTensorFlowImport)])
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    assert quiet.install(None)
    hook = next(f for f in sys.meta_path if isinstance(f, quiet._QuietTensorFlowImport))
    assert not hook.probe_gpu and not any("cuInit" in p for p in hook.patterns)
    quiet.uninstall()
