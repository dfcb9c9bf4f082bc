"""What a piece of the package needs: its modules (by their imports) and their distributions.

Used to ship the MLflow model with only the code it runs and a complete `requirements.txt`, and
by the tests that check each DVC stage declares exactly the modules it imports.
"""

from __future__ import annotations

import ast
import importlib.metadata
import shutil
import sys
from pathlib import Path

PACKAGE = "fashion_tagger"
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def imported_names(path: Path) -> set[str]:
    """Absolute module names a Python file imports anywhere in it (lazy imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from package import module` imports a module too
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def module_file(name: str) -> Path | None:
    """The source file of a module of this package, or None for anything else."""
    if not name.startswith(f"{PACKAGE}."):
        return None
    relative = Path(*name.split(".")[1:])
    candidates = (PACKAGE_DIR / relative.with_suffix(".py"), PACKAGE_DIR / relative / "__init__.py")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def package_closure(start: Path) -> list[Path]:
    """The package's module files that `start` (any Python file) imports, transitively, sorted;
    package `__init__.py` files are left out (they are empty)."""
    seen: set[Path] = set()
    pending = [start]
    while pending:
        for name in imported_names(pending.pop()):
            path = module_file(name)
            if path is not None and path not in seen and path.name != "__init__.py":
                seen.add(path)
                pending.append(path)
    return sorted(seen)


def third_party_modules(files: list[Path]) -> set[str]:
    """Top-level names of the non-standard-library modules the files import."""
    tops = {name.split(".")[0] for path in files for name in imported_names(path)}
    return {name for name in tops if name not in sys.stdlib_module_names and name != PACKAGE}


def distributions(modules: set[str]) -> dict[str, str]:
    """Installed distribution name -> version for the given top-level module names."""
    owners = importlib.metadata.packages_distributions()
    found = {}
    for module in sorted(modules):
        for distribution in owners.get(module, []):
            found[distribution] = importlib.metadata.version(distribution)
    return found


def copy_modules(files: list[Path], destination: Path) -> Path:
    """Copy the module files, with their packages' `__init__.py`, under `destination/<package>`."""
    target_root = destination / PACKAGE
    for path in files:
        relative = path.relative_to(PACKAGE_DIR)
        target = target_root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        for parent in [PACKAGE_DIR, *[PACKAGE_DIR / p for p in relative.parents[:-1]]]:
            init = parent / "__init__.py"
            shutil.copyfile(init, target_root / init.relative_to(PACKAGE_DIR))
    return target_root
