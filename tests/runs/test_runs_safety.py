"""A model is data, never code; broken run files give one error line naming the file."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ecgnet_tf import analyze, evaluate
from ecgnet_tf.runs import ModelFileError, RunConfig, load_model


def _lambda_model(marker: Path):
    import tf_keras as keras

    def touch(x, path=str(marker)):  # runs when the layer is rebuilt from its saved code
        open(path, "w").close()
        return x

    inp = keras.Input((4,))
    return keras.Model(inp, keras.layers.Lambda(touch)(inp))


def test_hdf5_model_is_refused_before_any_code_runs(tmp_path):
    marker = tmp_path / "code_ran"
    model = _lambda_model(marker)
    marker.unlink(missing_ok=True)
    h5 = tmp_path / "evil.h5"
    model.save(h5)
    disguised = tmp_path / "model.keras"
    shutil.copy(h5, disguised)
    with pytest.raises(ModelFileError, match=rf"{disguised}: not a .keras zip archive"):
        load_model(disguised)
    assert not marker.exists()


def test_lambda_layer_in_a_keras_archive_is_refused(tmp_path):
    marker = tmp_path / "code_ran"
    model = _lambda_model(marker)
    marker.unlink(missing_ok=True)
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ModelFileError, match=rf"{path}: cannot load the model"):
        load_model(path)
    assert not marker.exists()


@pytest.mark.slow
def test_truncated_or_missing_model_names_the_file(trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run("cinc2017", "baseline"), run)
    model = run / "model.keras"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    with pytest.raises(ModelFileError, match=rf"{model}: (damaged|not a) .keras"):
        load_model(model)
    assert evaluate.main([str(run)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {model}: not a .keras zip archive (HDF5 and other formats " \
        "are refused: loading them can run code)"
    rec = tmp_path / "rec.npy"
    np.save(rec, np.zeros(300 * 40))
    assert analyze.main([str(rec), "--fs", "300", "--model", str(run), "--out", str(tmp_path / "o")]) == 2
    assert str(model) in capsys.readouterr().err
    model.unlink()
    with pytest.raises(ModelFileError, match=rf"{model}: model file not found"):
        load_model(model)


@pytest.mark.slow
def test_malformed_run_json_names_the_file(trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run("cinc2017", "baseline"), run)
    (run / "run.json").write_text('{"task": "cinc2017", ')
    with pytest.raises(ValueError, match=rf"{run / 'run.json'}: not valid JSON"):
        RunConfig.load(run)
    assert evaluate.main([str(run)]) == 2
    assert f"error: {run / 'run.json'}: not valid JSON" in capsys.readouterr().err
    (run / "run.json").write_text('{"task": "cinc2017"}')
    with pytest.raises(ValueError, match=r"run.json: not a run.json of this project \(missing \['config'"):
        RunConfig.load(run)
