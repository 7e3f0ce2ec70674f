"""reproduce: experiment list, resumable runs, and a RESULTS.md generated from run metrics."""
from __future__ import annotations

import json

import pytest

from ecgnet_tf import reproduce


def test_experiment_lists_are_stable_and_complete():
    for name, profile in reproduce.PROFILES.items():
        exps = reproduce.experiments(profile)
        names = [e.name for e in exps]
        assert len(names) == len(set(names))
        assert {e.group for e in exps} == set(reproduce.GROUPS)
        assert sum(e.group == "ablation" for e in exps) == len(reproduce.LADDER)
        ft = next(e for e in exps if e.name == "ft-cinc2017-10pct-from-mitdb")
        assert ft.depends and ft.depends[0] in names and names.index(ft.depends[0]) < names.index(ft.name)
    quick = reproduce.experiments(reproduce.PROFILES["quick"])
    assert all("--quick" in reproduce.PROFILES["quick"].base for _ in quick)


def test_unknown_group_is_refused(capsys):
    assert reproduce.main(["--only", "table9"]) == 2
    assert "unknown groups" in capsys.readouterr().err


@pytest.mark.slow
def test_hf_group_end_to_end(fake_data, tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    root = tmp_path / "runs"
    args = ["--profile", "quick", "--only", "hf", "--data-dir", str(fake_data), "--runs-root", str(root),
            "--docs", str(docs), "--cache-dir", str(tmp_path / "cache")]
    assert reproduce.main(args) == 0
    report = json.loads((docs / "results" / "reproduce-quick.json").read_text())
    md = (docs / "RESULTS.md").read_text()
    assert "Quick profile: smoke figures" in md
    for band in ("hf", "conventional"):
        m = json.loads((root / f"hf-{band}" / "metrics.json").read_text())
        assert report["runs"][f"hf-{band}"]["accuracy"] == m["accuracy"]
        assert f"| {band} | {m['per_class']['MI']['sensitivity']:.3f} | {m['accuracy']:.3f} |" in md
        published = docs / "results" / "reproduce-quick" / f"hf-{band}" / "metrics.json"
        assert json.loads(published.read_text()) == m
    run = json.loads((root / "hf-conventional" / "run.json").read_text())
    assert run["preprocess"]["band_hz"] == [0.5, 40.0]
    # a second call reuses the finished runs instead of training again, and its report keeps every
    # finished run of the profile, not only the groups it was asked to run
    import shutil

    shutil.copytree(root / "hf-hf", root / "lr-1e-3")
    mtime = (root / "hf-hf" / "model.keras").stat().st_mtime
    assert reproduce.main(args) == 0
    assert (root / "hf-hf" / "model.keras").stat().st_mtime == mtime
    report = json.loads((docs / "results" / "reproduce-quick.json").read_text())
    assert {"hf-hf", "hf-conventional", "lr-1e-3"} <= set(report["runs"])
    assert (docs / "results" / "reproduce-quick" / "lr-1e-3" / "metrics.json").is_file()
    # --page-only rebuilds the page from the results JSON alone: no run is read or trained
    page = (docs / "RESULTS.md").read_text()
    (docs / "RESULTS.md").write_text("stale\n")
    shutil.rmtree(root)
    assert reproduce.main(["--page-only", "--docs", str(docs)]) == 0
    assert (docs / "RESULTS.md").read_text() == page and not root.exists()
    assert "study reports" in page


def test_full_profile_evaluates_on_whole_test_sets():
    full = reproduce.experiments(reproduce.PROFILES["full"])
    assert all("--quick" not in e.args and "--eval-max-per-record" not in e.args for e in full)
    assert "--quick" not in reproduce.PROFILES["full"].base
    # Table 1 trains on every training window; only the sweep runs cap windows per record
    t1 = [e for e in full if e.group == "table1"]
    assert t1 and all("--max-per-record" not in e.args and "--majority-cap" not in e.args for e in t1)


@pytest.mark.parametrize("name", sorted(reproduce.PROFILES))
def test_every_experiment_is_a_valid_train_config_that_round_trips(name, tmp_path):
    from ecgnet_tf.train import build_parser
    from ecgnet_tf.training.fit import TrainConfig

    profile = reproduce.PROFILES[name]
    for exp in reproduce.experiments(profile):
        cfg = reproduce.train_config(exp, profile, tmp_path, tmp_path / "data", None)
        assert cfg.out == tmp_path / exp.name and cfg.quick == (name == "quick")
        again = TrainConfig.from_namespace(build_parser().parse_args(cfg.to_argv()))
        assert again == cfg, exp.name

