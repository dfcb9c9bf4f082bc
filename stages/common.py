"""Small helpers every stage shares: params, atomic writes, JSON I/O and one-line errors."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

PARAMS_FILE = Path("params.yaml")

Section = TypeVar("Section", bound=BaseModel)

# mkstemp creates files readable by their owner only; final files get the usual mode instead
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


class PipelineError(Exception):
    """A problem with the input or the params that the user must fix; shown as one line."""


class StrictModel(BaseModel):
    """Base for params sections: unknown keys are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_params(section: str, model: type[Section], path: Path = PARAMS_FILE) -> Section:
    """Read one section of params.yaml and validate it with `model`."""
    if not path.exists():
        raise PipelineError(f"{path}: file not found")
    with path.open(encoding="utf-8") as handle:
        params = yaml.safe_load(handle) or {}
    if section not in params:
        raise PipelineError(f"{path}: missing section '{section}'")
    try:
        return model.model_validate(params[section])
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join([section, *(str(part) for part in first["loc"])])
        raise PipelineError(f"{path}: param {where}: {first['msg']}") from None


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it takes the final name only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: Path | str, text: str) -> None:
    """Write a UTF-8 text file atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json(path: Path | str, data: Any) -> None:
    """Write JSON atomically, indented and with non-ASCII kept readable."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_json(path: Path | str) -> Any:
    """Read a JSON file, turning a missing, empty or malformed file into a one-line error."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: file not found")
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise PipelineError(f"{path}: file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        message = f"not valid JSON ({error.msg} at line {error.lineno})"
        raise PipelineError(f"{path}: {message}") from None


def repo_root() -> Path:
    """The real repo root: `DVC_ROOT` when DVC sets it (`dvc exp run --temp/--queue` run stages
    in a temporary copy), else the working directory. Caches and run stores live here."""
    return Path(os.environ.get("DVC_ROOT") or ".").resolve()


def repo_path(path: Path | str) -> Path:
    """`path` as is when absolute, else relative to `repo_root()`."""
    path = Path(path)
    return path if path.is_absolute() else repo_root() / path


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main(); a PipelineError ends it with a one-line message and exit code 1."""
    try:
        main()
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
