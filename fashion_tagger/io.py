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
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fashion_tagger.errors import PipelineError

# mkstemp creates files readable by their owner only; final files get the usual mode instead
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
# Temporaries are named ".<final name>.<host key>-<writer pid>-<random>.tmp", so a later run
# on the same host can tell whether their writer still lives (see remove_dead_temporaries).
HOST_KEY = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
TEMP_NAME = re.compile(r"^\..+\.([0-9a-f]{8})-(\d+)-[^.]+\.tmp$")
ORPHAN_TEMP_SECONDS = 3600  # a temporary this old is dead even if its pid was reused


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it takes the final name only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.{HOST_KEY}-{os.getpid()}-"
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(path: Path | str) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; it replaces `path` whole only if the block
    succeeds, so a failure part-way leaves the previous folder as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.{HOST_KEY}-{os.getpid()}-"
    temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=prefix, suffix=".tmp"))
    old = temporary.with_name(temporary.name.replace(".tmp", ".old.tmp"))
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~_UMASK)
        if path.exists():
            os.replace(path, old)
        os.replace(temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


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


def process_alive(pid: int) -> bool:
    """True if a process with this id exists on this machine (signal 0 probes, sends nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def temporary_is_dead(path: Path, now: float) -> bool:
    """True for a temporary whose writer is gone: a process of this host that has exited, or
    any writer, over an hour ago.

    Pids are only compared on the host that wrote them (a cache on a shared disk may hold
    another machine's live temporaries). The age bound covers other hosts, a pid reused by an
    unrelated process and unnamed temporaries; no write here keeps one open that long.
    """
    match = TEMP_NAME.match(path.name)
    if match and match.group(1) == HOST_KEY and not process_alive(int(match.group(2))):
        return True
    return now - path.stat().st_mtime > ORPHAN_TEMP_SECONDS


def remove_dead_temporaries(folder: Path | str, recursive: bool = False) -> int:
    """Delete the temporaries that killed runs left in `folder`; how many were removed.

    Safe beside a live run using the same folder (`dvc queue start -j 2`): a live writer's
    temporary carries a live pid and is young, so it is kept; a rename racing the deletion is
    harmless (the file is then simply gone or already final).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    now = time.time()
    removed = 0
    for temporary in folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if temporary.is_file() and temporary_is_dead(temporary, now):
                temporary.unlink()
                removed += 1
    return removed


def read_table(path: Path, columns: int) -> list[tuple[str, ...]]:
    """Rows of a tab-separated data file: '#' lines are comments, the first other line is a
    header."""
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    data = [line for line in lines if line.strip() and not line.startswith("#")][1:]
    for number, line in enumerate(data, start=1):
        fields = line.split("\t")
        if len(fields) != columns or not all(field.strip() for field in fields):
            raise PipelineError(
                f"{path}: data line {number}: expected {columns} tab-separated fields"
            )
        rows.append(tuple(field.strip() for field in fields))
    return rows
