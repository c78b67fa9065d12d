"""Rewrite ``docs/spec-reference.md`` from the pydantic models that validate a spec.

Run it after changing any config model or its docstring::

    python scripts/gen_spec_reference.py          # rewrites docs/spec-reference.md
    python scripts/gen_spec_reference.py --check  # exit 1 if the file is out of date

It lives outside the package because it imports every stage's config (training, distill, compress),
which ``autoopt.spec`` (the ground floor) may not; ``tests/docs/test_spec_reference.py`` imports
:func:`sections` from here and checks the committed page.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autoopt.compress import PlanConfig, list_steps, steps
from autoopt.compress.auto import AutoPolicyConfig
from autoopt.data import DataConfig
from autoopt.distill import DistillConfig
from autoopt.nas import NasConfig, OneShotConfig
from autoopt.spec import ModelSpec, SearchSpec, Spec, TransferSpec
from autoopt.spec._reference import Section, render_reference, write_reference
from autoopt.training import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "spec-reference.md"
INTRO = (
    "Every key of a spec YAML, generated from the models that validate it (types, defaults and "
    "bounds straight from the code; descriptions from their docstrings). `autoopt tune SPEC.yaml` "
    "checks all of it before anything runs and lists every problem with its key path. Searched "
    "parameters are named after the key they set (`training.lr`, `model.width`); see "
    "[Tuning a model](tune.md) for examples."
)


def _step(kind: str) -> str:
    return (
        f"One step of `compress.steps`, written `- {kind}: {{...}}`; errors name it where it stands, "
        f"`compress.steps[<i>].{kind}.<key>`."
    )


def sections() -> list[Section]:
    """The reference's sections, in page order: ``(key, model, note)``."""
    return [
        Section("", Spec),
        Section("data", DataConfig),
        Section("model", ModelSpec),
        Section("transfer", TransferSpec),
        Section("training", TrainConfig),
        Section("search", SearchSpec),
        Section("nas", NasConfig),
        Section("nas.one_shot", OneShotConfig),
        Section("distill", DistillConfig),
        Section("compress", PlanConfig),
        *_step_sections(),
    ]


def _step_sections() -> list[Section]:
    """One section per registered compression step (a new step is documented once registered)."""
    out = []
    for kind in list_steps():
        out.append(Section(f"compress.{kind}", steps.get(kind).config_class, _step(kind)))
        if kind == "prune":
            out.append(
                Section(
                    "compress.prune",
                    AutoPolicyConfig,
                    "The same step with `policy: auto`: the per-layer ratios are searched under a budget "
                    "(see [Compression](compress.md)); these keys replace `ratio`, `scope` and `per_layer`.",
                )
            )
    return out


def render() -> str:
    """The page as it should be committed."""
    return render_reference(sections(), intro=INTRO)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    parser.add_argument("--out", type=Path, default=OUTPUT, help="the page to write")
    args = parser.parse_args(argv)
    if args.check:
        current = args.out.read_text() if args.out.is_file() else ""
        if current != render():
            print(f"{args.out} is out of date: run `python scripts/gen_spec_reference.py`", file=sys.stderr)
            return 1
        return 0
    changed = write_reference(sections(), args.out, intro=INTRO)
    print(f"{args.out}: {'rewritten' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
