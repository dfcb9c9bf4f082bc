"""Fill the figures that README.md and docs/*.md quote from committed metric and benchmark files.

A figure is written between markers that name its source,

    <!-- fig PATH KEY FORMAT -->VALUE<!-- /fig -->

PATH: a committed JSON file relative to the repo root; KEY: a dotted key into it (list indices
as numbers, e.g. `rows.0.seconds`); FORMAT: a Python format spec (`.3f`, `,.0f`, `.1%`; leave it
out for the value as it is). The renderer replaces VALUE with the formatted figure, so no figure
in the docs is typed by hand.

    python -m benchmarks.render_docs           # rewrite the docs with the current figures
    python -m benchmarks.render_docs --check   # list stale figures and fail if there are any
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fashion_tagger.errors import PipelineError, run_stage
from fashion_tagger.io import read_json, write_text

MARKER = re.compile(
    r"<!-- fig (?P<path>\S+) (?P<key>\S+)(?: (?P<spec>\S+))? -->(?P<value>.*?)<!-- /fig -->"
)
DOC_FILES = ("README.md", "docs/*.md")


@dataclass(frozen=True)
class Stale:
    """A figure whose text differs from its source."""

    file: Path
    line: int
    source: str
    written: str
    current: str


def lookup(data: Any, key: str, where: str) -> Any:
    """The value at a dotted key (list indices as numbers); a missing key names `where`."""
    value = data
    for part in key.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise PipelineError(f"{where}: no key '{key}' (stops at '{part}')")
    return value


def render(text: str, file: Path, root: Path) -> tuple[str, list[Stale]]:
    """`text` with every figure filled from its source, and the figures that were stale."""
    sources: dict[str, Any] = {}
    stale: list[Stale] = []

    def fill(match: re.Match, line: int) -> str:
        path, key, spec = match["path"], match["key"], match["spec"] or ""
        where = f"{file}:{line}"
        if path not in sources:
            if not (root / path).is_file():
                raise PipelineError(f"{where}: figure source {path} not found")
            sources[path] = read_json(root / path)
        value = lookup(sources[path], key, f"{where}: {path}")
        try:
            current = format(value, spec)
        except (TypeError, ValueError) as error:
            message = f"{where}: cannot format {path} {key} as '{spec}' ({error})"
            raise PipelineError(message) from None
        if current != match["value"]:
            stale.append(Stale(file, line, f"{path} {key}", match["value"], current))
        return match[0][: match.start("value") - match.start()] + current + "<!-- /fig -->"

    lines = [
        MARKER.sub(lambda match, number=number: fill(match, number), line)
        for number, line in enumerate(text.split("\n"), start=1)
    ]
    return "\n".join(lines), stale


def doc_files(root: Path) -> list[Path]:
    """README.md and the pages under docs/, relative to the root."""
    return sorted({path.relative_to(root) for pattern in DOC_FILES for path in root.glob(pattern)})


def render_files(root: Path, check: bool) -> list[Stale]:
    """Render every doc file (rewriting those that changed unless `check`); the stale figures."""
    stale: list[Stale] = []
    for file in doc_files(root):
        text = (root / file).read_text(encoding="utf-8")
        rendered, found = render(text, file, root)
        stale += found
        if found and not check:
            write_text(root / file, rendered)
    return stale


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; fail listing stale figures"
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="the repo root (default: .)")
    args = parser.parse_args(argv)
    stale = render_files(args.root, args.check)
    for item in stale:
        print(f"{item.file}:{item.line}: {item.source}: '{item.written}' -> '{item.current}'")
    if args.check and stale:
        print(
            f"{len(stale)} stale figure(s): run `python -m benchmarks.render_docs`",
            file=sys.stderr,
        )
        sys.exit(1)
    if not args.check:
        print(f"render_docs: {len(stale)} figure(s) updated")


if __name__ == "__main__":
    run_stage(main)
