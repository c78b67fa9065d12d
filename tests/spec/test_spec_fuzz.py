"""Fuzzing the spec loader: any input is a valid spec or an InvalidSpecError naming the problem."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoopt.exceptions import InvalidSpecError
from autoopt.pipeline import load_spec
from autoopt.spec import Spec, read_spec

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=True), st.text(max_size=8)
)
_keys = st.sampled_from(
    ["name", "data", "model", "training", "search", "distill", "compress", "seed", "threads", "params",
     "epochs", "lr", "trials", "jobs", "space", "strategy", "scheduler", "storage", "objectives", "limit",
     "heartbeat_interval", "max_retries", "low", "high", "choices", "x"]
)  # fmt: skip
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, max_size=6))
def test_fuzz_any_mapping_is_a_spec_or_a_clear_error(data):
    try:
        spec = load_spec(data, check_files=False)
    except InvalidSpecError as e:
        assert str(e).strip()
        return
    assert isinstance(spec, Spec)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_any_yaml_text_is_a_spec_or_a_clear_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    path.write_text(text)
    try:
        read_spec(path)
    except InvalidSpecError as e:
        assert str(e).strip()


def test_yaml_that_would_build_python_objects_is_refused(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(InvalidSpecError, match="not valid YAML"):
        read_spec(path)
