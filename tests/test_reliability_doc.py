"""docs/RELIABILITY.md stays true: every test it names exists; and the rows whose proof lives here."""
from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "RELIABILITY.md"


def _tests_in(path: Path) -> set[str]:
    return {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)
            and n.name.startswith("test_")}


def test_every_test_named_in_the_reliability_table_exists():
    refs = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", DOC.read_text())
    assert len(refs) >= 40
    missing = [f"{f}::{name}" for f, name in refs if not (REPO / f).is_file() or name not in _tests_in(REPO / f)]
    assert not missing, f"docs/RELIABILITY.md names tests that do not exist: {missing}"
    rows = re.findall(r"^\| (\d+b?) \|", DOC.read_text(), flags=re.M)
    assert {str(i) for i in range(1, 21)} <= set(rows)  # every item of the issue has its row


def test_af_benchmark_needs_an_output_folder(capsys):
    from ecgnet_tf.monitor import af_benchmark

    with pytest.raises(SystemExit) as exc:
        af_benchmark.main(["--model", "rr-rule", "--data-dir", "x"])
    assert exc.value.code == 2 and "--out" in capsys.readouterr().err


def test_a_corrupt_test_record_stops_training_before_it_starts(fake_data, tmp_path, capsys):
    from ecgnet_tf import train
    from ecgnet_tf.tasks import get_task, task_records

    data = tmp_path / "data"
    shutil.copytree(fake_data / "cinc2017", data / "cinc2017")
    split = task_records(get_task("cinc2017"), data, seed=0, max_records=600).split
    bad = data / "cinc2017" / "training2017" / f"{split.test[0]}.dat"
    bad.write_bytes(bad.read_bytes()[:1000])  # a truncated download
    out = tmp_path / "run"
    rc = train.main(["--task", "cinc2017", "--config", "baseline", "--quick", "--epochs", "1", "--data-dir", str(data),
                     "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert rc == 2 and str(bad) in err and "failed validation" in err
    assert not (out / "model.keras").exists() and not (out / "checkpoints").exists()
