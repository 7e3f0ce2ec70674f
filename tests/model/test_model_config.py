"""ModelConfig, named configurations and the ablation ladder."""
from __future__ import annotations

import json

import pytest

import ecgnet_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS first)
from ecgnet_tf.model.config import CONFIG_NAMES, LADDER, ModelConfig, get_model_config


def test_names_and_ladder():
    assert LADDER == ("baseline", "+multiscale", "+channel_att", "+spatial_att", "+guided", "+separable")
    for name in (*LADDER, "edge", "edge_standard", "paper"):
        assert name in CONFIG_NAMES
        assert get_model_config(name).name == name


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        get_model_config("nope")
    for name in CONFIG_NAMES:
        assert name in str(err.value)


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_dict_round_trip(name):
    cfg = get_model_config(name)
    data = json.loads(json.dumps(cfg.to_dict()))
    assert ModelConfig.from_dict(data) == cfg


def test_frozen_and_validated():
    cfg = get_model_config("edge")
    with pytest.raises(Exception):
        cfg.separable = False  # type: ignore[misc]
    with pytest.raises(ValueError):
        ModelConfig.from_dict({**cfg.to_dict(), "bogus": 1})
    with pytest.raises(ValueError):
        cfg.replace(pool_before_attention=15)  # not a multiple of stem_stride * pre_pool = 10
    with pytest.raises(ValueError):
        cfg.replace(block="transformer")


def test_ladder_is_cumulative():
    cfgs = [get_model_config(n) for n in LADDER]
    assert cfgs[0].block == "conv" and not cfgs[0].mhsa and not cfgs[0].channel_attention
    assert cfgs[1].block == "multiscale" and not cfgs[1].separable
    assert cfgs[2].channel_attention and not cfgs[2].spatial_attention
    assert cfgs[3].spatial_attention and cfgs[3].mhsa and not cfgs[3].guided_attention
    assert cfgs[4].guided_attention and not cfgs[4].separable
    assert cfgs[5].separable
    edge = get_model_config("edge")
    assert cfgs[5].replace(name="edge") == edge
    assert get_model_config("edge_standard") == edge.replace(name="edge_standard", separable=False)
    assert get_model_config("+guided").replace(name="edge_standard") == get_model_config("edge_standard")


def test_resolution_rules():
    edge = get_model_config("edge")
    assert edge.pre_block_factor == 10
    assert edge.feature_length(3600, "block") == 360
    assert edge.feature_length(3600) == 60
    assert edge.post_block_pools == (2, 3)
    paper = get_model_config("paper")
    assert paper.feature_length(3600, "block") == 3600
    assert paper.feature_length(3600) == 450
