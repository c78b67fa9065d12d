"""One error formatter (``autoopt._validation``): ``<key.path>: <what was expected>; got <value>``,
dots between keys and list indices in brackets, for the spec and every section's own validator."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import BaseModel, ConfigDict, Field

from autoopt._validation import ValidatedConfig, key_path
from autoopt.exceptions import InvalidSpecError
from autoopt.spec import read_spec


class _Step(ValidatedConfig):
    key: ClassVar[str] = "compress.prune"
    ratio: float = Field(0.5, gt=0, lt=1)
    mode: str = "l1"


def test_key_path_puts_indices_in_brackets() -> None:
    assert key_path("compress", ("steps", 0, "prune", "ratio")) == "compress.steps[0].prune.ratio"
    assert key_path("", ("search", "objectives", 1, "direction")) == "search.objectives[1].direction"
    assert key_path("data", ()) == "data"


def test_a_section_validated_under_another_key_is_named_there() -> None:
    with pytest.raises(InvalidSpecError) as info:
        _Step.at("compress.steps[0].prune", {"ratio": 1.5, "mdoe": "l2"})
    assert info.value.errors == [
        "compress.steps[0].prune.ratio: must be < 1.0; got 1.5",
        "compress.steps[0].prune.mdoe: unknown key; expected one of: ratio, mode. Did you mean 'mode'?",
    ]
    with pytest.raises(InvalidSpecError, match=r"^compress\.prune\.ratio: must be > 0\.0; got 0$"):
        _Step(ratio=0)  # its own key by default
    with pytest.raises(InvalidSpecError, match=r"^compress\.steps\[1\]\.prune: expected a mapping; got 3$"):
        _Step.at("compress.steps[1].prune", 3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "spec, line",
    [
        (
            {"search": {"objectives": [{"metric": "val_loss"}, {"direction": "up"}]}},
            "search.objectives[1].direction: expected one of: 'minimize', 'maximize' or 'auto'; got 'up'",
        ),
        ({"search": {"trials": "many"}}, "search.trials: expected a valid integer"),
        (
            {"transfer": {"checkpoint": "w.pt", "backbone_lr_mult": 0}},
            "transfer.backbone_lr_mult: must be > 0",
        ),
        ({"transfer": {}}, "transfer.checkpoint: a value is required; got nothing"),
        ({"data": {"limit": 0}}, "data.limit: must be > 0; got 0"),
        ({"search": {"jbos": 2}}, "search.jbos: unknown key; expected one of: strategy,"),
    ],
)
def test_spec_errors_have_one_shape(spec: dict, line: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        read_spec(spec)
    assert any(e.startswith(line) for e in info.value.errors), info.value.errors
    assert all(": " in e for e in info.value.errors)


def test_a_hint_for_a_typo_in_a_nested_list_item() -> None:
    class Inner(BaseModel):
        model_config = ConfigDict(extra="forbid")
        metric: str = "x"

    class Outer(ValidatedConfig):
        key: ClassVar[str] = "search"
        objectives: list[Inner] = Field(default_factory=list)

    with pytest.raises(InvalidSpecError) as info:
        Outer(objectives=[{"metric": "a"}, {"metirc": "b"}])
    assert info.value.errors == [
        "search.objectives[1].metirc: unknown key; expected one of: metric. Did you mean 'metric'?"
    ]
