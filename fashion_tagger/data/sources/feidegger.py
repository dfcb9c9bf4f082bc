"""Source `feidegger`: the real FEIDEGGER v1.2 dataset, downloaded from Zalando's servers.

The release JSON is a list of {"url", "descriptions": [5 German str], "split": "0".."9"}.
Its sha256 is pinned by the `sha256` param (or printed, to be pinned, while that is null).
Every image is downloaded concurrently with retries, verified (complete, decodable, not too
small, not a decompression bomb, not an HTML page), and only then written atomically under a
name derived from its URL: sha1(url)[:16] plus an extension chosen by the decoded format, so
nothing in a URL can reach the file system and two URLs never share a file.

Verified originals are kept in a download cache (`cache_dir`, default data/cache/feidegger,
git-ignored and not a DVC output), because DVC deletes a stage's outputs before re-running it:
a re-run skips what the cache already holds and fetches only the rest. `raw_dir/images/` is
then filled from the cache, by hard link (copy where links fail) or, with `max_side` set,
by a resize re-encoded as JPEG. Failures go to `raw_dir/download_report.json`; the stage
fails only when the share of items without an image exceeds `max_missing`.

Retry jitter is drawn from an unseeded generator: it only spreads retries over time and never
changes what is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from PIL import Image
from pydantic import Field, field_validator
from tqdm import tqdm

from fashion_tagger.data.images import IMAGE_EXTENSIONS, ImageError, verify_image
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import atomic_path, write_json
from fashion_tagger.params import StrictModel
from fashion_tagger.paths import repo_path

FEIDEGGER_URL = (
    "https://raw.githubusercontent.com/zalandoresearch/feidegger/master/data/"
    "FEIDEGGER_release_1.2.json"
)
REPORT_NAME = "download_report.json"
DESCRIPTIONS_PER_ITEM = 5
# Decoded image format -> the only extensions a file in the images folder can get.
CHUNK_BYTES = 1 << 16
STALE_TEMP_SECONDS = 3600
USER_AGENT = "fashion-tagger/0.1 (dataset download)"


class Params(StrictModel):
    """Params of the `feidegger` source (params.yaml: download.feidegger)."""

    json_url: str = FEIDEGGER_URL
    # sha256 of the JSON; null prints the computed hash so it can be pinned here.
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    limit: int | None = Field(default=None, ge=1)  # only the first N records (quick trials)
    cache_dir: str = "data/cache/feidegger"  # relative to the repo root ($DVC_ROOT if set)
    retries: int = Field(default=5, ge=0)  # extra attempts after the first one
    backoff_base: float = Field(default=0.5, ge=0)  # seconds; doubles with every retry
    backoff_max: float = Field(default=30.0, ge=0)
    retry_after_max: float = Field(default=60.0, ge=0)  # cap on a server's Retry-After
    max_redirects: int = Field(default=5, ge=0)
    max_bytes: int = Field(default=20_000_000, ge=1)  # larger bodies are refused
    min_side: int = Field(default=32, ge=1)
    max_pixels: int = Field(default=40_000_000, ge=1)  # more is a decompression bomb
    max_side: int | None = Field(default=None, ge=1)  # resize longest side; null keeps size
    jpeg_quality: int = Field(default=90, ge=1, le=95)
    max_missing: float = Field(default=0.02, ge=0, le=1)  # share of items allowed no image

    @field_validator("json_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not is_http_url(value):
            raise ValueError("must be an http(s) URL")
        return value


class Runtime(StrictModel):
    """Download speed settings (params.yaml: runtime.download); they never change the data."""

    workers: int = Field(default=16, ge=1, le=256)  # concurrent image downloads
    connect_timeout: float = Field(default=10.0, gt=0)  # seconds
    read_timeout: float = Field(default=30.0, gt=0)  # seconds


DEFAULT_RUNTIME = Runtime()


class FetchError(Exception):
    """One request failed; `retryable` says whether trying again may help."""

    def __init__(self, reason: str, retryable: bool, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class Outcome:
    """What happened to one unique URL: done (fetched now), skipped (cached) or failed."""

    url: str
    status: str
    file_name: str | None = None
    reason: str | None = None


def is_http_url(url: str) -> bool:
    """True for an absolute http or https URL with a host."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def url_key(url: str) -> str:
    """File name stem for a URL: sha1 hex prefix, so the URL's path never reaches the disk."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:16]


def validate_records(records: Any, source: str) -> list[dict]:
    """Check the FEIDEGGER schema; the first bad record is a one-line error naming its index."""
    if not isinstance(records, list):
        raise PipelineError(f"{source}: expected a JSON list of records")
    if not records:
        raise PipelineError(f"{source}: no records")
    for index, record in enumerate(records):
        where = f"{source}: record {index}"
        if not isinstance(record, dict):
            raise PipelineError(f"{where}: expected an object")
        url = record.get("url")
        if not isinstance(url, str) or not is_http_url(url):
            raise PipelineError(f"{where}: 'url' must be an http(s) URL, got {url!r}")
        descriptions = record.get("descriptions")
        if not isinstance(descriptions, list) or len(descriptions) != DESCRIPTIONS_PER_ITEM:
            raise PipelineError(f"{where}: expected {DESCRIPTIONS_PER_ITEM} descriptions")
        for number, text in enumerate(descriptions):
            if not isinstance(text, str) or not text.strip():
                raise PipelineError(f"{where}: description {number} is empty or not a string")
        split = record.get("split")
        if not isinstance(split, str) or not split:
            raise PipelineError(f"{where}: 'split' must be a non-empty string")
    return records


def parse_retry_after(value: str | None, cap: float) -> float | None:
    """Seconds from a Retry-After header in its seconds form, capped; None otherwise."""
    if value is None or not value.strip().isdigit():
        return None
    return min(float(value.strip()), cap)


def retry_delay(
    attempt: int, retry_after: float | None, params: Params, rng: random.Random
) -> float:
    """Seconds to wait before retry number `attempt` + 1: the server's word, else backoff.

    Backoff is exponential with "equal jitter": half the capped delay plus a random half, so
    many workers hit by the same outage do not retry in lockstep.
    """
    if retry_after is not None:
        return retry_after
    delay = min(params.backoff_max, params.backoff_base * 2**attempt)
    return delay / 2 + rng.uniform(0, delay / 2)


def get_once(
    session: requests.Session, url: str, params: Params, timeout: tuple[float, float]
) -> bytes:
    """One GET of `url` (redirects followed); the complete body, or a FetchError saying why."""
    try:
        with session.get(url, timeout=timeout, stream=True) as response:
            status = response.status_code
            if status == 429 or status >= 500:
                retry_after = parse_retry_after(
                    response.headers.get("Retry-After"), params.retry_after_max
                )
                raise FetchError(f"HTTP {status}", retryable=True, retry_after=retry_after)
            if status != 200:
                raise FetchError(f"HTTP {status}", retryable=False)
            return read_body(response, params.max_bytes)
    except requests.TooManyRedirects:
        raise FetchError(f"more than {params.max_redirects} redirects", False) from None
    except requests.Timeout:
        raise FetchError("timed out", retryable=True) from None
    except requests.exceptions.ChunkedEncodingError:
        raise FetchError("incomplete body (connection closed early)", retryable=True) from None
    except requests.ConnectionError as error:
        raise FetchError(f"connection failed ({type(error).__name__})", True) from None
    except requests.RequestException as error:
        raise FetchError(f"request failed ({type(error).__name__}: {error})", False) from None


def read_body(response: requests.Response, max_bytes: int) -> bytes:
    """Read a streamed body, refusing oversized ones and checking it against Content-Length."""
    declared = response.headers.get("Content-Length")
    expected = int(declared) if declared and declared.isdigit() else None
    if expected is not None and expected > max_bytes:
        raise FetchError(f"body of {expected} bytes exceeds max_bytes {max_bytes}", False)
    body = bytearray()
    for chunk in response.iter_content(CHUNK_BYTES):
        body += chunk
        if len(body) > max_bytes:
            raise FetchError(f"body exceeds max_bytes {max_bytes}", retryable=False)
    identity = response.headers.get("Content-Encoding", "identity").lower() == "identity"
    if expected is not None and identity and len(body) != expected:
        raise FetchError(f"incomplete body ({len(body)} of {expected} bytes)", retryable=True)
    return bytes(body)


def fetch_bytes(
    session: requests.Session,
    url: str,
    params: Params,
    rng: random.Random,
    sleep: Callable[[float], None] = time.sleep,
    timeout: tuple[float, float] = (10.0, 30.0),
) -> bytes:
    """GET `url`, retrying transient failures (connection, timeout, 429, 5xx) with backoff."""
    if not is_http_url(url):
        raise FetchError("not an http(s) URL", retryable=False)
    for attempt in range(params.retries + 1):
        try:
            return get_once(session, url, params, timeout)
        except FetchError as error:
            if not error.retryable:
                raise
            if attempt == params.retries:
                attempts = params.retries + 1
                raise FetchError(
                    f"{error.reason} (gave up after {attempts} attempts)", retryable=True
                ) from None
            sleep(retry_delay(attempt, error.retry_after, params, rng))
    raise AssertionError("unreachable: the loop returns or raises")


def image_size(path: Path) -> tuple[int, int]:
    """Width and height from an image file's header (no full decode)."""
    with Image.open(path) as image:
        return image.size


def find_cached(cache_images: Path, key: str) -> Path | None:
    """The verified download for a URL key, if an earlier run left one."""
    for extension in sorted(set(IMAGE_EXTENSIONS.values())):
        candidate = cache_images / f"{key}{extension}"
        if candidate.is_file():
            return candidate
    return None


def link_or_copy(source: Path, target: Path) -> None:
    """Put `source` at `target` atomically: a hard link where possible, else a copy."""
    with atomic_path(target) as temporary:
        temporary.unlink()
        try:
            os.link(source, temporary)
        except OSError:
            shutil.copyfile(source, temporary)


def resize_to_jpeg(source: Path, target: Path, max_side: int, quality: int) -> None:
    """Shrink an image so its longest side is at most `max_side`; write it as RGB JPEG."""
    with Image.open(source) as image:
        image.load()
        if image.mode in ("RGBA", "LA", "P"):
            image = image.convert("RGBA")
            background = Image.new("RGBA", image.size, "white")
            image = Image.alpha_composite(background, image)
        image = image.convert("RGB")
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        with atomic_path(target) as temporary:
            image.save(temporary, format="JPEG", quality=quality)


def remove_stale_temporaries(folder: Path) -> None:
    """Delete temp files a killed run left behind (old enough not to belong to a live run)."""
    now = time.time()
    for temporary in folder.glob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):  # a live run may rename it meanwhile
            if now - temporary.stat().st_mtime > STALE_TEMP_SECONDS:
                temporary.unlink()


class Downloader:
    """Fetches, verifies, caches and places images; one requests Session per worker thread."""

    def __init__(
        self,
        params: Params,
        cache_images: Path,
        raw_images: Path,
        runtime: Runtime = DEFAULT_RUNTIME,
    ):
        self.params = params
        self.timeout = (runtime.connect_timeout, runtime.read_timeout)
        self.cache_images = cache_images
        self.raw_images = raw_images
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def session(self) -> requests.Session:
        """This thread's Session (connection pooling without sharing across threads)."""
        if not hasattr(self._local, "session"):
            session = requests.Session()
            session.max_redirects = self.params.max_redirects
            session.headers["User-Agent"] = USER_AGENT
            self._local.session = session
            self._local.rng = random.Random()
            with self._lock:
                self._sessions.append(session)
        return self._local.session

    def close(self) -> None:
        for session in self._sessions:
            session.close()

    def fetch(self, url: str) -> bytes:
        """GET one URL with this thread's session and retries (used for the JSON too)."""
        session = self.session()
        return fetch_bytes(session, url, self.params, self._local.rng, timeout=self.timeout)

    def image(self, url: str) -> Outcome:
        """Make one URL's image present in raw_images, from the cache or the network."""
        params = self.params
        key = url_key(url)
        cached = find_cached(self.cache_images, key)
        status = "skipped"
        try:
            if cached is None:
                data = self.fetch(url)
                image_format = verify_image(data, params.min_side, params.max_pixels)
                cached = self.cache_images / f"{key}{IMAGE_EXTENSIONS[image_format]}"
                with atomic_path(cached) as temporary:
                    temporary.write_bytes(data)
                status = "done"
            else:
                width, height = image_size(cached)
                if width * height > params.max_pixels or min(width, height) < params.min_side:
                    raise ImageError(f"cached image {width}x{height} is outside the size limits")
        except (FetchError, ImageError) as error:
            return Outcome(url, "failed", reason=str(error))
        if params.max_side is None:
            file_name = cached.name
            link_or_copy(cached, self.raw_images / file_name)
        else:
            file_name = f"{key}.jpg"
            resize_to_jpeg(
                cached, self.raw_images / file_name, params.max_side, params.jpeg_quality
            )
        return Outcome(url, status, file_name=file_name)


def load_release(downloader: Downloader, params: Params, cache: Path) -> tuple[list[dict], str]:
    """Get the release JSON (from the cache when it matches the pin), check hash and schema."""
    cached = cache / f"release-{url_key(params.json_url)}.json"
    data = cached.read_bytes() if params.sha256 and cached.is_file() else None
    if data is None or hashlib.sha256(data).hexdigest() != params.sha256:
        try:
            data = downloader.fetch(params.json_url)
        except FetchError as error:
            raise PipelineError(f"{params.json_url}: download failed: {error}") from None
    digest = hashlib.sha256(data).hexdigest()
    if params.sha256 is not None and digest != params.sha256:
        raise PipelineError(
            f"{params.json_url}: sha256 mismatch: expected {params.sha256} (download.feidegger."
            f"sha256), got {digest}; check the file and update the pin"
        )
    if params.sha256 is None:
        print(
            f"feidegger: release JSON sha256 is {digest}; pin it by setting "
            f"download.feidegger.sha256: {digest} in params.yaml"
        )
    try:
        records = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PipelineError(f"{params.json_url}: not valid JSON ({error})") from None
    validate_records(records, params.json_url)
    with atomic_path(cached) as temporary:
        temporary.write_bytes(data)
    return records, digest


def download_all(downloader: Downloader, urls: list[str], workers: int) -> dict[str, Outcome]:
    """Run `downloader.image` over unique URLs concurrently, with a progress bar of counts."""
    outcomes: dict[str, Outcome] = {}
    counts = {"done": 0, "skipped": 0, "failed": 0}
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="feidegger")
    try:
        futures = [pool.submit(downloader.image, url) for url in urls]
        with tqdm(total=len(urls), desc="feidegger images", unit="img") as progress:
            for future in as_completed(futures):
                outcome = future.result()
                outcomes[outcome.url] = outcome
                counts[outcome.status] += 1
                progress.set_postfix(counts, refresh=False)
                progress.update()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return outcomes


def fetch(params: Params, raw_dir: Path, runtime: Runtime = DEFAULT_RUNTIME) -> list[dict]:
    """Download FEIDEGGER into raw_dir (images/ and the report); return normalised items."""
    cache = repo_path(params.cache_dir)
    cache_images = cache / "images"
    raw_images = raw_dir / "images"
    for folder in (cache_images, raw_images):
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(folder)

    downloader = Downloader(params, cache_images, raw_images, runtime)
    try:
        records, digest = load_release(downloader, params, cache)
        width = max(5, len(str(len(records) - 1)))
        selected = [
            (f"f{index:0{width}d}", record) for index, record in enumerate(records[: params.limit])
        ]

        ids_by_url: dict[str, list[str]] = {}
        for item_id, record in selected:
            ids_by_url.setdefault(record["url"], []).append(item_id)
        keys = {url_key(url) for url in ids_by_url}
        if len(keys) != len(ids_by_url):
            raise PipelineError(f"{params.json_url}: two URLs share a file name key")
        outcomes = download_all(downloader, list(ids_by_url), runtime.workers)
    finally:
        downloader.close()

    items = [
        {
            "id": item_id,
            "image": f"images/{outcomes[record['url']].file_name}",
            "url": record["url"],
            "descriptions": record["descriptions"],
            "fold": record["split"],
        }
        for item_id, record in selected
        if outcomes[record["url"]].file_name is not None
    ]
    report = build_report(params, digest, selected, ids_by_url, outcomes, len(items))
    report_path = raw_dir / REPORT_NAME
    write_json(report_path, report)
    print(
        f"feidegger: {report['done']} downloaded, {report['skipped']} already cached, "
        f"{report['failed']} failed; report -> {report_path}"
    )
    if report["missing_share"] > params.max_missing:
        raise PipelineError(
            f"feidegger: {report['missing_items']} of {len(selected)} items have no image "
            f"({report['missing_share']:.1%} > download.feidegger.max_missing "
            f"{params.max_missing:.1%}); see {report_path}"
        )
    return items


def build_report(
    params: Params,
    digest: str,
    selected: list[tuple[str, dict]],
    ids_by_url: dict[str, list[str]],
    outcomes: dict[str, Outcome],
    kept: int,
) -> dict:
    """Counts, duplicate URLs and every failure (URL, reason, item ids), sorted for stable diffs."""
    counts = {status: 0 for status in ("done", "skipped", "failed")}
    for outcome in outcomes.values():
        counts[outcome.status] += 1
    missing = len(selected) - kept
    return {
        "source": "feidegger",
        "json_url": params.json_url,
        "json_sha256": digest,
        "sha256_pinned": params.sha256 is not None,
        "items": len(selected),
        "unique_urls": len(ids_by_url),
        **counts,
        "missing_items": missing,
        "missing_share": missing / len(selected),
        "max_missing": params.max_missing,
        "duplicate_urls": [
            {"url": url, "ids": ids} for url, ids in sorted(ids_by_url.items()) if len(ids) > 1
        ],
        "failures": [
            {"url": url, "reason": outcomes[url].reason, "ids": ids_by_url[url]}
            for url in sorted(ids_by_url)
            if outcomes[url].status == "failed"
        ],
    }
