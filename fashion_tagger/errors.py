"""The one error type the user sees, and how entry points show it."""

from __future__ import annotations

import sys
from collections.abc import Callable


class PipelineError(Exception):
    """A problem with the input or the params that the user must fix; shown as one line."""


def run_stage(main: Callable[[], None]) -> None:
    """Run an entry point; a PipelineError ends it with a one-line message and exit code 1."""
    try:
        main()
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
