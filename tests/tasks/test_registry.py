"""The task-kind registry: lookup, the unknown-name error, and ``Registry.unregister``."""

from __future__ import annotations

import pytest

from autoopt._registry import Registry
from autoopt.exceptions import InvalidSpecError, UnknownNameError
from autoopt.tasks import Classification, Regression, TaskKind, check_task, get_task, list_tasks, task_kinds


def test_builtin_kinds_are_registered_under_their_own_name() -> None:
    assert {"classification", "regression"} <= set(list_tasks())
    assert isinstance(get_task("classification"), Classification)
    assert isinstance(get_task("regression"), Regression)
    for name in list_tasks():
        kind = get_task(name)
        assert isinstance(kind, TaskKind) and kind.name == name


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(
        UnknownNameError,
        match=r"^data\.task: unknown task kind 'clasification'; expected one of: "
        r"classification, regression.* Did you mean 'classification'\?",
    ):
        get_task("clasification", key="data.task")


def test_check_task_passes_known_names_and_none() -> None:
    assert check_task("regression") == "regression"
    assert check_task(None) is None
    with pytest.raises(
        InvalidSpecError, match=r"unknown task kind 'ranking'; expected one of: classification"
    ):
        check_task("ranking")


def test_registry_unregister_removes_the_name_and_its_aliases() -> None:
    reg: Registry[int] = Registry("thing")
    reg.register("one", "uno")(1)
    reg.add("two", 2)
    assert reg.unregister("one") == 1
    assert "one" not in reg and "uno" not in reg and reg.names() == ["two"] and len(reg) == 1
    with pytest.raises(UnknownNameError, match=r"unknown thing 'one'; expected one of: two"):
        reg.unregister("one")
    reg.add("one", 3)  # the name is free again
    assert reg.get("one") == 3


def test_registry_registered_is_undone_after_the_block_even_on_error() -> None:
    reg: Registry[int] = Registry("thing")
    with pytest.raises(RuntimeError), reg.registered("three", 3):
        assert reg.get("three") == 3
        raise RuntimeError
    assert "three" not in reg and reg.names() == []


def test_registering_a_taken_kind_name_is_refused() -> None:
    class Other(Classification):
        name = "classification"

    with pytest.raises(ValueError, match=r"task kind 'classification' is already registered"):
        task_kinds.register("classification")(Other)
    assert task_kinds.get("classification") is Classification
