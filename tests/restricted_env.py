"""A site folder holding only some distributions, to run Python as if nothing else were
installed: `python -S` with PYTHONPATH set to the folder sees the standard library and those
distributions (with their dependencies), and neither other packages nor the repo's editable
install."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from packaging.requirements import Requirement


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(lines: list[str]) -> set[str]:
    """Distribution names of requirement lines (extras-only requirements left out)."""
    names = set()
    for line in lines:
        line = line.strip()
        if line and not line.startswith(("#", "-")):
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                names.add(canonical(requirement.name))
    return names


def dependency_closure(names: set[str]) -> set[str]:
    """The installed distributions `names` need, transitively."""
    pending, found = list(names), set()
    while pending:
        name = canonical(pending.pop())
        if name in found:
            continue
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        found.add(name)
        pending.extend(requirement_names(requires))
    return found


def build_site(names: set[str], folder: Path) -> set[str]:
    """Link the top-level files of `names` and their dependencies (code and metadata) into
    `folder`; returns the distributions linked."""
    folder.mkdir(parents=True, exist_ok=True)
    linked = dependency_closure(names)
    for name in linked:
        distribution = importlib.metadata.distribution(name)
        root = Path(distribution.locate_file(""))
        for file in distribution.files or []:
            top = Path(file).parts[0]
            source = root / top
            target = folder / top
            if top in ("..", "__pycache__") or target.exists() or not source.exists():
                continue
            if source.suffix == ".pth" or top.startswith("__editable__"):
                continue
            target.symlink_to(source)
    return linked
