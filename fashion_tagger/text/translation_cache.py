"""A translation cache that outlives DVC outputs, so that only new descriptions are translated.

One SQLite file per backend identity: `<cache_dir>/<backend>-<key>.sqlite`, where the key is a
hash of everything that determines the backend's translations (for the glossary: its code
version and the content of its lexicon and of the Ding dictionary; for marian: the model
files or the hub commit, the decoding params and the precision). Two `dvc exp run`s with
different translation params therefore use different files and never redo each other's
work, while a run after adding items, or after changing a later stage's params, finds all
earlier translations.

Rows are (normalised German text, English, checksum). The checksum covers the key, the source
and the English, so an entry altered on disk or stored under the wrong key is detected,
dropped and translated again. Writes are SQLite transactions, one per translated batch: an
interrupted run keeps what it finished, and concurrent runs (`dvc exp run --queue` workers)
wait for each other's locks instead of corrupting the file. A file that is not a readable
SQLite database is moved aside (`*.corrupt`) and a fresh one started. Files of settings no
longer used are simply never read again; deleting the folder only costs re-translation.

The cache never changes results: its folder is not a DVC dependency or output (changing
`translate.cache_dir` re-runs the stage, which writes the same output). Relative cache paths are
resolved against `DVC_ROOT` when set, so that `dvc exp run --temp/--queue` (which run in a
temporary copy of the repo) share the cache of the real repo.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from fashion_tagger.errors import PipelineError
from fashion_tagger.paths import repo_path

LOCK_TIMEOUT = 300.0  # seconds to wait for another run's write lock before giving up
QUERY_CHUNK = 500  # sources per SELECT (SQLite limits the number of bound parameters)


def identity_key(identity: Mapping) -> str:
    """A short, stable hash of a backend identity (canonical JSON)."""
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class TranslationCache:
    """Translations of one backend identity, stored in SQLite; use as a context manager."""

    def __init__(self, cache_dir: Path | str, identity: Mapping):
        self.identity = dict(identity)
        self.key = identity_key(identity)
        backend = str(identity.get("backend", "backend"))
        self.path = repo_path(cache_dir) / f"{backend}-{self.key}.sqlite"
        self.rejected = 0  # entries whose checksum failed, translated again
        self._connection = self._open()

    def __enter__(self) -> TranslationCache:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._connection.close()

    def _open(self) -> sqlite3.Connection:
        """Connect and create the tables; a damaged file is set aside and replaced."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._connect()
        except sqlite3.OperationalError as error:  # locked, read-only, disk full...
            raise PipelineError(f"{self.path}: translation cache unusable ({error})") from None
        except sqlite3.DatabaseError as error:  # not a database, malformed
            aside = self.path.with_name(self.path.name + ".corrupt")
            os.replace(self.path, aside)
            print(
                f"warning: {self.path}: {error}; moved to {aside}, starting afresh", file=sys.stderr
            )
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT, isolation_level=None)
        try:
            with _transaction(connection):
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS translations "
                    "(source TEXT PRIMARY KEY, english TEXT NOT NULL, checksum TEXT NOT NULL)"
                )
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
                )
                connection.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('identity', ?)",
                    (json.dumps(self.identity, sort_keys=True, ensure_ascii=False),),
                )
            connection.execute("SELECT count(*) FROM translations").fetchone()
        except sqlite3.DatabaseError:
            connection.close()
            raise
        return connection

    def checksum(self, source: str, english: str) -> str:
        """The checksum of one entry under this cache's key."""
        return hashlib.sha256(f"{self.key}\0{source}\0{english}".encode()).hexdigest()[:32]

    def get(self, sources: Iterable[str]) -> dict[str, str]:
        """The cached English of those sources that have a valid entry."""
        sources = list(dict.fromkeys(sources))
        found: dict[str, str] = {}
        for start in range(0, len(sources), QUERY_CHUNK):
            chunk = sources[start : start + QUERY_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._connection.execute(
                f"SELECT source, english, checksum FROM translations WHERE source IN ({marks})",
                chunk,
            )
            for source, english, checksum in rows:
                if checksum == self.checksum(source, english):
                    found[source] = english
                else:
                    self.rejected += 1
        return found

    def put(self, translations: Mapping[str, str]) -> None:
        """Store translations in one transaction (replacing rejected entries)."""
        rows = [
            (source, english, self.checksum(source, english))
            for source, english in translations.items()
        ]
        with _transaction(self._connection):
            self._connection.executemany(
                "INSERT OR REPLACE INTO translations VALUES (?, ?, ?)", rows
            )

    def __len__(self) -> int:
        return self._connection.execute("SELECT count(*) FROM translations").fetchone()[0]


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): takes the write lock up front."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
