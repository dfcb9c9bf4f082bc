"""File I/O every stage shares: atomic writes, JSON, CSV and file hashes.

Files take their final name only when complete, so an interrupted stage never leaves a
half-written file under a name that DVC or a later stage would trust.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fashion_tagger.errors import PipelineError

# mkstemp creates files readable by their owner only; final files get the usual mode instead
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


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


def write_bytes(path: Path | str, data: bytes) -> None:
    """Write a binary file atomically."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


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


def csv_text(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """Same-keyed dicts as CSV text with a header (None as an empty cell)."""
    columns = list(columns) if columns is not None else list(rows[0])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(path: Path | str, rows: Sequence[dict], columns: Sequence[str] | None = None):
    """Write same-keyed dicts as a CSV file atomically."""
    write_text(path, csv_text(rows, columns))


def sha256_files(paths: Iterable[Path | str], digest=None) -> str:
    """sha256 over the bytes of the given files, in order (or fed into `digest`)."""
    digest = digest if digest is not None else hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
