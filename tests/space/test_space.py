from __future__ import annotations

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt.exceptions import InvalidSpaceError
from autoopt.space import Categorical, Fixed, Float, Int, Space


def test_yaml_forms_map_to_optuna_distributions(tmp_path):
    f = tmp_path / "space.yaml"
    f.write_text(
        "space:\n"
        "  lr: {type: float, low: 1.0e-4, high: 0.1, log: true}\n"
        "  drop: {low: 0.0, high: 0.5, step: 0.1}\n"
        "  layers: {low: 1, high: 4}\n"
        "  width: {type: int, low: 16, high: 256, log: true}\n"
        "  act: [relu, gelu]\n"
        "  epochs: 5\n"
    )
    space = Space.from_yaml(f)
    d = space.distributions()
    assert d["lr"] == optuna.distributions.FloatDistribution(1e-4, 0.1, log=True)
    assert d["drop"] == optuna.distributions.FloatDistribution(0.0, 0.5, step=0.1)
    assert d["layers"] == optuna.distributions.IntDistribution(1, 4)
    assert d["width"] == optuna.distributions.IntDistribution(16, 256, log=True)
    assert d["act"] == optuna.distributions.CategoricalDistribution(("relu", "gelu"))
    assert "epochs" not in d  # fixed values are not searched
    params = space.sample(optuna.create_study().ask())
    assert params["epochs"] == 5 and set(params) == {"lr", "drop", "layers", "width", "act", "epochs"}


def test_python_definition_equals_yaml():
    py = Space(
        {"lr": Float(1e-4, 0.1, log=True), "n": Int(1, 4), "opt": Categorical(["sgd", "adam"]), "e": Fixed(3)}
    )
    yml = Space.from_dict(py.to_dict())
    assert py.distributions() == yml.distributions()
    assert py.to_dict() == yml.to_dict()


def test_conditional_parameter_exists_only_when_parent_matches():
    space = Space.from_dict(
        {
            "momentum": {
                "low": 0.0,
                "high": 0.99,
                "when": {"optimizer": "sgd"},
            },  # declared before its parent
            "optimizer": ["sgd", "adam"],
        }
    )
    assert space.names == ["optimizer", "momentum"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = {"sgd": 0, "adam": 0}
    for _ in range(30):
        p = space.sample(study.ask())
        seen[p["optimizer"]] += 1
        assert ("momentum" in p) == (p["optimizer"] == "sgd")
    assert seen["sgd"] and seen["adam"]


def test_all_errors_listed_with_key_paths():
    with pytest.raises(InvalidSpaceError) as e:
        Space.from_dict(
            {
                "lr": {"low": 0.1, "high": 0.01},
                "act": {"type": "categorical", "choices": []},
                "wd": {"type": "float", "low": 0.0, "high": 1.0, "log": True},
                "bad": {"type": "float", "low": 1, "high": 2, "bogus": 3},
            }
        )
    msg = str(e.value)
    assert "search.space.lr: 'low' (0.1) must be below 'high' (0.01)" in msg
    assert "search.space.act: 'choices' must not be empty" in msg
    assert "search.space.wd: log scale needs 'low' > 0" in msg
    assert "search.space.bad: unknown key(s) 'bogus' for a float parameter" in msg
    assert len(e.value.errors) == 4


@pytest.mark.parametrize(
    "spec, match",
    [
        (
            {"a": {"type": "complex", "low": 0, "high": 1}},
            r"search.space.a.type: unknown parameter type 'complex'",
        ),
        ({"a": {"low": 0.0}}, r"search.space.a: cannot tell the parameter type"),
        ({"a": {"type": "int", "low": 0.5, "high": 3}}, r"search.space.a: 'low' must be an integer, got 0.5"),
        (
            {"a": {"low": 1, "high": 2, "when": {"b": "x"}}},
            r"search.space.a.when: depends on unknown parameter 'b'",
        ),
        (
            {"b": ["x", "y"], "a": {"low": 1, "high": 2, "when": {"b": "z"}}},
            r"value\(s\) \['z'\] are not among",
        ),
        ({"a": {"type": "float", "low": 1, "high": 2, "step": -1}}, r"'step' must be a positive number"),
    ],
)
def test_invalid_spaces(spec, match):
    with pytest.raises(InvalidSpaceError, match=match):
        Space.from_dict(spec)


def test_condition_cycle_is_rejected():
    with pytest.raises(InvalidSpaceError, match="cycle"):
        Space.from_dict(
            {"a": {"choices": [1, 2], "when": {"b": 1}}, "b": {"choices": [1, 2], "when": {"a": 1}}}
        )


def test_grid_needs_finite_values():
    assert Space.from_dict({"a": [1, 2], "b": {"low": 0, "high": 4, "step": 2}}).grid() == {
        "a": [1, 2],
        "b": [0, 2, 4],
    }
    with pytest.raises(InvalidSpaceError, match="search.space.lr: grid search needs a finite set of values"):
        Space.from_dict({"lr": {"low": 0.0, "high": 1.0}}).grid()


def test_not_a_mapping():
    with pytest.raises(InvalidSpaceError, match="search.space: expected a mapping"):
        Space.from_dict([1, 2])  # type: ignore[arg-type]


_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=5))
_entry = st.one_of(
    _values,
    st.lists(_values, max_size=4),
    st.dictionaries(
        st.sampled_from(["type", "low", "high", "log", "step", "choices", "value", "when", "x"]),
        st.one_of(
            _values, st.lists(_values, max_size=3), st.dictionaries(st.text(max_size=3), _values, max_size=2)
        ),
        max_size=5,
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=4), _entry, max_size=4))
def test_fuzz_any_input_is_a_space_or_a_clear_error(data):
    try:
        space = Space.from_dict(data)
    except InvalidSpaceError as e:
        assert str(e) and all(line.startswith("search.space") for line in e.errors)
        return
    # A valid space samples without error.
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    params = space.sample(study.ask())
    assert set(params) <= set(space.names)


def test_prefixed_renames_parameters_and_their_conditions() -> None:
    from autoopt.space import Space

    s = Space.from_dict(
        {
            "opt": ["sgd", "adam"],
            "momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {"opt": ["sgd"]}},
        }
    ).prefixed("training.")
    assert s.names == ["training.opt", "training.momentum"]
    assert s["training.momentum"].when == {"training.opt": ["sgd"]}


def test_merged_joins_spaces_and_rejects_a_name_defined_twice() -> None:
    import pytest

    from autoopt.exceptions import InvalidSpaceError
    from autoopt.space import Space

    a = Space.from_dict({"x": [1, 2]})
    assert a.merged(Space.from_dict({"y": [3]})).names == ["x", "y"]
    with pytest.raises(InvalidSpaceError, match="x: also defined by"):
        a.merged(Space.from_dict({"x": [5]}))
