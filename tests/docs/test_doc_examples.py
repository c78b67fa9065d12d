"""Every YAML example in README.md and docs/*.md must validate against the current code.

Which blocks are checked, and how (the rule):

- every fenced block whose info string is ``yaml`` or ``yml`` in ``README.md`` and ``docs/*.md``;
- a block whose top level has ``data``, ``model`` or ``search`` is a full spec:
  ``autoopt.pipeline.load_spec(mapping, check_files=False)`` (files it names need not exist);
- otherwise every top-level key must be a section with its own validator, and each is validated
  alone: ``space`` (``Space.from_dict``), ``transfer`` (``TransferSpec``), ``ship`` (``ShipSpec``),
  ``training`` (``TrainConfig``), ``distill`` (``DistillConfig.from_spec``), ``compress``
  (``PlanConfig.from_spec``), ``nas`` (``NasConfig.from_spec``);
- a ``{...}`` value is a placeholder ("see below"): that key is dropped and the rest must validate;
- a block that is not a spec at all says so on the line before its fence with
  ``<!-- autoopt: not-a-spec -->``; any other block with unknown top-level keys fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from autoopt.compress import PlanConfig
from autoopt.distill import DistillConfig
from autoopt.exceptions import AutoOptError
from autoopt.nas import NasConfig
from autoopt.pipeline import load_spec
from autoopt.space import Space
from autoopt.spec import ShipSpec, TransferSpec
from autoopt.training import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FULL_SPEC_KEYS = {"data", "model", "search"}
NOT_A_SPEC = "<!-- autoopt: not-a-spec -->"
PLACEHOLDER = {"...": None}  # what YAML makes of `{...}`
_FENCE = re.compile(r"^(?P<indent>[ ]{0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[\w+-]*)[^\n]*$")

SECTION_CHECKS: dict[str, Callable[[Any], object]] = {
    "space": lambda v: Space.from_dict(v or {}, key="space"),
    "transfer": TransferSpec.model_validate,
    "training": lambda v: TrainConfig(**(v or {})),
    "distill": DistillConfig.from_spec,
    "compress": PlanConfig.from_spec,
    "nas": NasConfig.from_spec,
    "ship": ShipSpec.model_validate,
}


@dataclass(frozen=True)
class Block:
    """One fenced YAML block of a page."""

    page: Path
    line: int  # 1-based line of the opening fence
    text: str
    skipped: bool

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def yaml_blocks(page: Path) -> Iterator[Block]:
    """The ```` ```yaml ```` blocks of a markdown page, with their line numbers."""
    lines = page.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info, start = m.group("fence"), m.group("info").lower(), i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        if info in ("yaml", "yml"):
            before = lines[start - 1].strip() if start > 0 else ""
            yield Block(page, start + 1, "\n".join(body) + "\n", skipped=before == NOT_A_SPEC)


def drop_placeholders(value: Any) -> Any:
    """Remove every key whose value is the ``{...}`` placeholder."""
    if isinstance(value, dict):
        return {k: drop_placeholders(v) for k, v in value.items() if v != PLACEHOLDER}
    if isinstance(value, list):
        return [drop_placeholders(v) for v in value]
    return value


def check_block(block: Block) -> None:
    """Validate one block by the rule of this module; raise ``AssertionError`` saying why it fails."""
    try:
        data = yaml.safe_load(block.text)
    except yaml.YAMLError as exc:
        raise AssertionError(f"{block.where}: not valid YAML: {exc}") from None
    assert isinstance(data, dict) and data, (
        f"{block.where}: expected a mapping of spec sections; precede the fence with {NOT_A_SPEC} "
        "if it is not a spec"
    )
    data = drop_placeholders(data)
    try:
        if FULL_SPEC_KEYS & set(data):
            load_spec(data, check_files=False)
            return
        unknown = sorted(set(data) - set(SECTION_CHECKS))
        assert not unknown, (
            f"{block.where}: top-level keys {unknown} are neither a full spec (one of "
            f"{sorted(FULL_SPEC_KEYS)}) nor a section ({', '.join(SECTION_CHECKS)}); precede the fence "
            f"with {NOT_A_SPEC} if it is not a spec"
        )
        for key, value in data.items():
            SECTION_CHECKS[key](value)
    except (AutoOptError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise AssertionError(f"{block.where}: the documented example no longer validates:\n{exc}") from None


BLOCKS = [b for page in PAGES for b in yaml_blocks(page)]


def test_the_docs_have_yaml_examples() -> None:
    assert len([b for b in BLOCKS if not b.skipped]) >= 5, [b.where for b in BLOCKS]


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_documented_yaml_validates(block: Block) -> None:
    if block.skipped:
        pytest.skip(f"{block.where}: marked {NOT_A_SPEC}")
    check_block(block)


def _block(text: str) -> Block:
    return Block(ROOT / "README.md", 1, text, skipped=False)


def test_the_rule_catches_an_invalid_full_spec() -> None:
    with pytest.raises(AssertionError, match=r"training\.lr"):
        check_block(_block("model: {name: mlp}\ntraining: {lr: -1}\n"))


def test_the_rule_catches_an_invalid_lone_section() -> None:
    with pytest.raises(AssertionError, match=r"compress\.steps\[0\]\.prune\.ratio"):
        check_block(_block("compress:\n  steps:\n    - prune: {ratio: 1.5}\n"))
    with pytest.raises(AssertionError, match=r"space\.lr"):
        check_block(_block("space:\n  lr: {low: 0.1, high: 0.01}\n"))


def test_the_rule_rejects_unknown_blocks_and_drops_placeholders() -> None:
    with pytest.raises(AssertionError, match="not-a-spec"):
        check_block(_block("inputs: [1, 2]\n"))
    check_block(_block("name: x\ndata: {...}\nsearch: {trials: 3, space: {...}}\n"))
