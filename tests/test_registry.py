"""The one registry pattern: register, look up, unregister, register for a block."""

from __future__ import annotations

import pytest

from autoopt._registry import Registry
from autoopt.exceptions import UnknownNameError


def test_unregister_removes_the_name_and_its_aliases() -> None:
    reg: Registry[int] = Registry("number")
    reg.register("one", "uno")(1)
    reg.add("two", 2)
    assert reg.unregister("one") == 1
    assert "one" not in reg and "uno" not in reg and reg.names() == ["two"] and len(reg) == 1
    with pytest.raises(UnknownNameError, match="unknown number 'one'; expected one of: two"):
        reg.unregister("one")
    reg.add("one", 11)  # the name is free again
    assert reg.get("one") == 11


def test_registered_lasts_for_the_block_even_when_it_raises() -> None:
    reg: Registry[str] = Registry("color")
    with reg.registered("red", "#f00", "rouge") as obj:
        assert obj == "#f00" and reg.get("rouge") == "#f00" and reg.names() == ["red"]
    assert "red" not in reg and "rouge" not in reg
    with pytest.raises(RuntimeError), reg.registered("red", "#f00"):
        raise RuntimeError("boom")
    assert "red" not in reg and len(reg) == 0


def test_registered_refuses_a_taken_name() -> None:
    reg: Registry[str] = Registry("color")
    reg.add("red", "#f00")
    with pytest.raises(ValueError, match="color 'red' is already registered"), reg.registered("red", "#e00"):
        pass
    assert reg.get("red") == "#f00"
