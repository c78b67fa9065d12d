from __future__ import annotations

import pytest

from autoopt.compress.prune import PruneConfig, SparsityConfig, list_criteria, prune
from autoopt.exceptions import InvalidSpecError


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1, 1.5])
def test_ratio_outside_open_interval_names_the_key(ratio: float) -> None:
    with pytest.raises(InvalidSpecError, match=r"^compress\.prune\.ratio: must be > 0 and < 1"):
        PruneConfig(ratio=ratio)


def test_dict_config_is_validated_by_prune(tiny) -> None:
    with pytest.raises(InvalidSpecError, match=r"compress\.prune\.ratio: .*got 1\.0"):
        prune(tiny("cnn"), {"ratio": 1.0}, input_shape=(1, 8, 8))


def test_every_error_is_listed_with_its_key() -> None:
    with pytest.raises(InvalidSpecError) as info:
        PruneConfig(ratio=2, steps=0, scope="everywhere", per_layer={"body.0.0": 1.0}, ratoi=0.1)
    text = str(info.value)
    for key in ("ratio", "steps", "scope", "per_layer", "ratoi"):
        assert f"compress.prune.{key}" in text
    assert "Did you mean 'ratio'?" in text


def test_unknown_criterion_lists_the_valid_ones() -> None:
    with pytest.raises(
        InvalidSpecError, match=r"compress\.prune\.criterion: unknown pruning criterion 'l3'.*l1, l2"
    ):
        PruneConfig(criterion="l3")


def test_registry_has_the_documented_criteria() -> None:
    assert list_criteria() == ["bn-scale", "l1", "l2", "random", "taylor"]


def test_unknown_layer_names_are_reported_with_a_hint(tiny) -> None:
    cfg = {"ratio": 0.5, "per_layer": {"bodi.0.0": 0.3}, "ignore": ["nope"]}
    with pytest.raises(InvalidSpecError) as info:
        prune(tiny("cnn"), cfg, input_shape=(1, 8, 8))
    assert "compress.prune.per_layer.bodi.0.0: no layer named 'bodi.0.0'" in str(info.value)
    assert "Did you mean 'body.0.0'?" in str(info.value)
    assert "compress.prune.ignore: no layer named 'nope'" in str(info.value)


def test_per_layer_ratio_on_the_classifier_is_rejected(tiny) -> None:
    with pytest.raises(InvalidSpecError, match=r"per_layer\.head: 'head' is the classifier"):
        prune(tiny("cnn"), {"per_layer": {"head": 0.5}}, input_shape=(1, 8, 8))


def test_taylor_and_finetuning_need_data(tiny) -> None:
    with pytest.raises(InvalidSpecError, match=r"compress\.prune\.criterion: 'taylor' needs training data"):
        prune(tiny("cnn"), {"criterion": "taylor"}, input_shape=(1, 8, 8))
    with pytest.raises(InvalidSpecError, match=r"compress\.prune\.finetune_epochs: 2 needs training data"):
        prune(tiny("cnn"), {"finetune_epochs": 2}, input_shape=(1, 8, 8))


def test_sparsity_config_checks_its_range_and_order() -> None:
    with pytest.raises(InvalidSpecError, match=r"^compress\.sparsity\.sparsity: must be > 0 and < 1"):
        SparsityConfig(sparsity=1.0)
    with pytest.raises(InvalidSpecError, match=r"compress\.sparsity\.initial_sparsity: must be <= sparsity"):
        SparsityConfig(sparsity=0.5, initial_sparsity=0.6)
