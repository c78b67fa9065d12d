"""docs/spec-reference.md is generated from the config models: it must match them exactly."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from pydantic import BaseModel, Field

from autoopt.spec._reference import docstring_fields, render_reference

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "spec-reference.md"


def _script() -> ModuleType:
    path = ROOT / "scripts" / "gen_spec_reference.py"
    spec = importlib.util.spec_from_file_location("gen_spec_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_spec_reference", module)
    spec.loader.exec_module(module)
    return module


def test_committed_reference_matches_the_models() -> None:
    expected = _script().render()
    assert PAGE.is_file(), f"{PAGE} is missing: run `python scripts/gen_spec_reference.py`"
    assert PAGE.read_text() == expected, (
        "docs/spec-reference.md is out of date with the config models: "
        "run `python scripts/gen_spec_reference.py` and commit the result"
    )


def test_reference_covers_every_field_of_every_section() -> None:
    text = PAGE.read_text()
    for key, model, *_ in _script().sections():
        for name in model.model_fields:
            path = f"{key}.{name}" if key else name
            assert f"| `{path}` |" in text, f"{path} is not in docs/spec-reference.md"


class _Inner(BaseModel):
    """Inner.

    Args:
        depth: how deep,
            really.
    """

    depth: int = Field(2, ge=1, le=8)


class _Outer(BaseModel):
    """An outer section.

    Attributes:
        inner: the inner part.
        items: a list of inners.
        mode: the mode.
    """

    inner: _Inner = Field(default_factory=_Inner)
    items: list[_Inner] = Field(default_factory=list)
    mode: str = Field("a", description="from Field")
    need: float


def test_rows_carry_type_default_constraints_and_description() -> None:
    text = render_reference([("outer", _Outer)])
    assert "| `outer.inner.depth` | int | `2` | >= 1, <= 8 | how deep, really. |" in text
    assert "| `outer.items[].depth` |" in text
    assert "| `outer.mode` | str | `a` |  | from Field |" in text  # Field(description=) wins
    assert "| `outer.need` | float | required |" in text
    assert "## outer" in text and "An outer section." in text


def test_a_field_that_is_another_section_links_to_it() -> None:
    text = render_reference([("", _Outer), ("inner", _Inner)])
    assert "| `inner` | mapping | each key's default |  | the inner part. See [inner](#inner). |" in text
    assert "`inner.depth`" in text and "`items[].depth`" in text


def test_docstring_fields_reads_bases_too() -> None:
    class Child(_Inner):
        """Child.

        Attributes:
            extra: more.
        """

    assert docstring_fields(Child) == {"depth": "how deep, really.", "extra": "more."}
