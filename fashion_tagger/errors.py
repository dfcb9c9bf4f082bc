"""The one error type the user sees, and how entry points show it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import yaml


class PipelineError(Exception):
    """A problem with the input or the params that the user must fix; shown as one line."""


def uncached_outputs(stage: str, dvc_file: Path = Path("dvc.yaml")) -> list[str]:
    """The stage's outputs that DVC removes before running it but does not cache (git keeps
    them; `persist` ones are never removed), as dvc.yaml lists them."""
    try:
        declared = yaml.safe_load(dvc_file.read_text(encoding="utf-8"))["stages"][stage]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return []
    entries = [entry for kind in ("outs", "metrics", "plots") for entry in declared.get(kind, [])]
    return [
        path
        for entry in entries
        if isinstance(entry, dict)
        for path, options in entry.items()
        if (options or {}).get("cache") is False and not (options or {}).get("persist")
    ]


def recovery_hint() -> str:
    """Under DVC (which sets $DVC_STAGE and removed the stage's outputs before running it):
    how to get the last good outputs back."""
    stage = os.environ.get("DVC_STAGE")
    if not stage:
        return ""
    files = uncached_outputs(stage)
    git = f" and `git checkout -- {' '.join(files)}`" if files else ""
    return (
        f" (DVC removed stage {stage}'s outputs before running it: fix this and run again, "
        f"or restore the last good ones with `dvc checkout`{git})"
    )


def run_stage(main: Callable[[], None]) -> None:
    """Run an entry point; a PipelineError ends it with a one-line message and exit code 1."""
    try:
        main()
    except PipelineError as error:
        print(f"error: {error}{recovery_hint()}", file=sys.stderr)
        sys.exit(1)
