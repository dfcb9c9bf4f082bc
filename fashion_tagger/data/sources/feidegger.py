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
by a resize re-encoded as JPEG. Failures go to `raw_dir/download_report.json`, and so do
records of the release that cannot become items (a non-http URL, malformed descriptions):
both count towards `max_missing`, the share of items without an image beyond which the stage
fails.

HTTP retries are urllib3's `Retry` mounted on each worker's requests Session (429 and 5xx,
timeouts, broken connections; exponential backoff; Retry-After honoured up to
`retry_after_max`). Retries are counted per reason on the progress bar and summed up at the
end. Retry jitter is random: it only spreads retries over time and never changes what is
written. Dead temporaries (a killed run's half-written files) are removed from the cache on
start; see `fashion_tagger.io.remove_dead_temporaries`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from PIL import Image
from pydantic import Field, field_validator
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from fashion_tagger.data.images import IMAGE_EXTENSIONS, ImageError, verify_image
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import atomic_path, remove_dead_temporaries, write_json
from fashion_tagger.params import StrictModel
from fashion_tagger.paths import repo_path

FEIDEGGER_URL = (
    "https://raw.githubusercontent.com/zalandoresearch/feidegger/master/data/"
    "FEIDEGGER_release_1.2.json"
)
REPORT_NAME = "download_report.json"
DESCRIPTIONS_PER_ITEM = 5
CHUNK_BYTES = 1 << 16
POSTFIX_SECONDS = 1.0  # progress bar refresh while waiting on retries
RETRY_STATUSES = frozenset({429, *range(500, 600)})  # worth asking again
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
    """One image or JSON could not be fetched; the reason goes to the report."""


class BodyError(ProtocolError):
    """The response body broke off; the request is worth repeating (a urllib3 read error)."""


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


def check_release(records: Any, source: str) -> list:
    """The release must be a non-empty JSON list; anything else is a one-line error."""
    if not isinstance(records, list):
        raise PipelineError(f"{source}: expected a JSON list of records")
    if not records:
        raise PipelineError(f"{source}: no records")
    return records


def record_problem(record: Any) -> str | None:
    """Why one record cannot become an item (None when it is well-formed)."""
    if not isinstance(record, dict):
        return "expected an object"
    url = record.get("url")
    if not isinstance(url, str) or not is_http_url(url):
        return f"'url' must be an http(s) URL, got {url!r}"
    descriptions = record.get("descriptions")
    if not isinstance(descriptions, list) or len(descriptions) != DESCRIPTIONS_PER_ITEM:
        return f"expected {DESCRIPTIONS_PER_ITEM} descriptions"
    for number, text in enumerate(descriptions):
        if not isinstance(text, str) or not text.strip():
            return f"description {number} is empty or not a string"
    split = record.get("split")
    if not isinstance(split, str) or not split:
        return "'split' must be a non-empty string"
    return None


def retry_reason(response: Any = None, error: Exception | None = None) -> str:
    """A short, countable reason for one failed attempt: 'HTTP 503', 'timed out', ..."""
    if response is not None and error is None:
        return f"HTTP {response.status}"
    if isinstance(error, NewConnectionError):  # checked first: urllib3 makes it a timeout too
        return "connection failed"
    if isinstance(error, (ReadTimeoutError, ConnectTimeoutError, requests.Timeout)):
        return "timed out"
    if isinstance(error, BodyError):
        return "incomplete body"
    if isinstance(error, ProtocolError):
        return "connection broken"
    return f"request failed ({type(error).__name__})"


class CountingRetry(Retry):
    """urllib3's Retry that reports the reason of every retry it grants to `on_retry`."""

    def __init__(self, *args, on_retry: Callable[[str], None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_retry = on_retry

    def new(self, **changes: Any) -> CountingRetry:
        return super().new(on_retry=self.on_retry, **changes)

    def increment(self, method=None, url=None, response=None, error=None, *args, **kwargs):
        granted = super().increment(method, url, response, error, *args, **kwargs)
        if self.on_retry is not None:  # not exhausted: another attempt follows
            self.on_retry(retry_reason(response, error))
        return granted


def make_retry(params: Params, on_retry: Callable[[str], None] | None = None) -> CountingRetry:
    """Retries for 429, 5xx, timeouts and broken connections, with backoff and Retry-After.

    urllib3 waits backoff_base * 2**(n - 1) seconds (plus up to backoff_base of jitter, capped
    at backoff_max) before retry n >= 2 and retries the first failure at once; a Retry-After
    header (seconds or HTTP date) on a 429 or 503 is honoured up to retry_after_max.
    Redirects are followed by requests (session.max_redirects), not counted here.
    """
    return CountingRetry(
        total=params.retries,
        redirect=False,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        backoff_factor=params.backoff_base,
        backoff_jitter=params.backoff_base,
        backoff_max=params.backoff_max,
        retry_after_max=params.retry_after_max,
        raise_on_status=False,  # the last response comes back, so its status is the reason
        on_retry=on_retry,
    )


def make_session(params: Params, on_retry: Callable[[str], None] | None = None):
    """A requests Session whose http(s) adapters retry per `make_retry`."""
    session = requests.Session()
    session.max_redirects = params.max_redirects
    session.headers["User-Agent"] = USER_AGENT
    adapter = HTTPAdapter(max_retries=make_retry(params, on_retry))
    for prefix in ("http://", "https://"):
        session.mount(prefix, adapter)
    return session


def gave_up(attempts: int) -> str:
    """The note a failure reason gets once retries ran out ('' when none were allowed)."""
    return f" (gave up after {attempts} attempts)" if attempts > 1 else ""


def get_once(session: requests.Session, url: str, params: Params, timeout) -> bytes:
    """One GET of `url` (urllib3 retries and redirects included); the body, or why not."""
    try:
        with session.get(url, timeout=timeout, stream=True) as response:
            status = response.status_code
            if status != 200:
                history = getattr(response.raw, "retries", None)
                attempts = len(history.history) + 1 if history is not None else 1
                raise FetchError(f"HTTP {status}{gave_up(attempts)}")
            return read_body(response, params.max_bytes)
    except requests.TooManyRedirects:
        raise FetchError(f"more than {params.max_redirects} redirects") from None
    except requests.ConnectionError as error:
        cause = error.args[0] if error.args else error
        cause = getattr(cause, "reason", cause)  # urllib3's MaxRetryError holds the last error
        reason = retry_reason(error=cause if isinstance(cause, Exception) else error)
        raise FetchError(f"{reason}{gave_up(params.retries + 1)}") from None
    except requests.RequestException as error:
        raise FetchError(f"request failed ({type(error).__name__}: {error})") from None


def read_body(response: requests.Response, max_bytes: int) -> bytes:
    """Read a streamed body, refusing oversized ones and checking it against Content-Length."""
    declared = response.headers.get("Content-Length")
    expected = int(declared) if declared and declared.isdigit() else None
    if expected is not None and expected > max_bytes:
        raise FetchError(f"body of {expected} bytes exceeds max_bytes {max_bytes}")
    body = bytearray()
    try:
        for chunk in response.iter_content(CHUNK_BYTES):
            body += chunk
            if len(body) > max_bytes:
                raise FetchError(f"body exceeds max_bytes {max_bytes}")
    except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError):
        raise BodyError("incomplete body (connection closed early)") from None
    identity = response.headers.get("Content-Encoding", "identity").lower() == "identity"
    if expected is not None and identity and len(body) != expected:
        raise BodyError(f"incomplete body ({len(body)} of {expected} bytes)")
    return bytes(body)


def fetch_bytes(session: requests.Session, url: str, params: Params, timeout) -> bytes:
    """GET `url` with the session's urllib3 retries; a body that breaks off is asked for again.

    urllib3 hands the response over once its headers arrive (requests streams the body), so
    its Retry cannot see a body cut short: such a GET is repeated here, drawing on the same
    Retry budget and backoff through `Retry.increment` and `Retry.sleep`.
    """
    if not is_http_url(url):
        raise FetchError("not an http(s) URL")
    retry = session.get_adapter(url).max_retries
    while True:
        try:
            return get_once(session, url, params, timeout)
        except BodyError as error:
            try:
                retry = retry.increment("GET", url, error=error)
            except MaxRetryError:
                raise FetchError(f"{error}{gave_up(len(retry.history) + 1)}") from None
            retry.sleep()


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
        self.retries: Counter[str] = Counter()  # retries granted so far, by reason
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def count_retry(self, reason: str) -> None:
        """Called by urllib3's Retry (in any worker thread) before each retry."""
        with self._lock:
            self.retries[reason] += 1

    def retry_counts(self) -> dict[str, int]:
        """Retries so far by reason, sorted by reason (a snapshot, safe to read any time)."""
        with self._lock:
            return dict(sorted(self.retries.items()))

    def session(self) -> requests.Session:
        """This thread's Session (connection pooling without sharing across threads)."""
        if not hasattr(self._local, "session"):
            session = make_session(self.params, self.count_retry)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return self._local.session

    def close(self) -> None:
        for session in self._sessions:
            session.close()

    def fetch(self, url: str) -> bytes:
        """GET one URL with this thread's session and retries (used for the JSON too)."""
        return fetch_bytes(self.session(), url, self.params, self.timeout)

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


def load_release(downloader: Downloader, params: Params, cache: Path) -> tuple[list, str]:
    """Get the release JSON (from the cache when it matches the pin), check hash and shape."""
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
    check_release(records, params.json_url)
    with atomic_path(cached) as temporary:
        temporary.write_bytes(data)
    return records, digest


def progress_postfix(counts: dict[str, int], retries: dict[str, int]) -> dict[str, int]:
    """The progress bar's counts: outcomes, then retries per reason (only those that happened)."""
    return counts | {f"retry {reason}": number for reason, number in retries.items()}


def download_all(downloader: Downloader, urls: list[str], workers: int) -> dict[str, Outcome]:
    """Run `downloader.image` over unique URLs concurrently, with a progress bar of counts.

    The bar is refreshed at least every POSTFIX_SECONDS, so retries show while no image
    completes (a server answering 503 for a while, a Retry-After being waited out).
    """
    outcomes: dict[str, Outcome] = {}
    counts = {"done": 0, "skipped": 0, "failed": 0}
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="feidegger")
    try:
        pending = {pool.submit(downloader.image, url) for url in urls}
        with tqdm(total=len(urls), desc="feidegger images", unit="img") as progress:
            while pending:
                finished, pending = wait(pending, POSTFIX_SECONDS, FIRST_COMPLETED)
                for future in finished:
                    outcome = future.result()
                    outcomes[outcome.url] = outcome
                    counts[outcome.status] += 1
                progress.set_postfix(
                    progress_postfix(counts, downloader.retry_counts()), refresh=False
                )
                progress.update(len(finished))
                progress.refresh()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return outcomes


def select_records(records: list, params: Params) -> tuple[list, list[dict]]:
    """(id, record) of the well-formed records among the first `limit`, and the others' problems.

    Ids come from the record's position in the release, so a bad record never shifts them.
    """
    width = max(5, len(str(len(records) - 1)))
    selected, invalid = [], []
    for index, record in enumerate(records[: params.limit]):
        item_id = f"f{index:0{width}d}"
        problem = record_problem(record)
        if problem is None:
            selected.append((item_id, record))
        else:
            invalid.append({"record": index, "id": item_id, "reason": problem})
    return selected, invalid


def empty_folder(folder: Path) -> None:
    """Make `folder` an empty directory, whatever a previous run left in it."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


def fetch(params: Params, raw_dir: Path, runtime: Runtime = DEFAULT_RUNTIME) -> list[dict]:
    """Download FEIDEGGER into raw_dir (images/ and the report); return normalised items.

    raw_dir/images/ is emptied only once the release JSON has been fetched and checked.
    """
    cache = repo_path(params.cache_dir)
    cache_images = cache / "images"
    raw_images = raw_dir / "images"
    cache_images.mkdir(parents=True, exist_ok=True)
    remove_dead_temporaries(cache)
    remove_dead_temporaries(cache_images)

    downloader = Downloader(params, cache_images, raw_images, runtime)
    try:
        records, digest = load_release(downloader, params, cache)
        selected, invalid = select_records(records, params)
        ids_by_url: dict[str, list[str]] = {}
        for item_id, record in selected:
            ids_by_url.setdefault(record["url"], []).append(item_id)
        keys = {url_key(url) for url in ids_by_url}
        if len(keys) != len(ids_by_url):
            raise PipelineError(f"{params.json_url}: two URLs share a file name key")
        empty_folder(raw_images)
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
    total = len(selected) + len(invalid)
    retries = downloader.retry_counts()
    report = build_report(params, digest, total, invalid, ids_by_url, outcomes, len(items))
    report["retries"] = retries
    report_path = raw_dir / REPORT_NAME
    write_json(report_path, report)
    print(
        f"feidegger: {report['done']} downloaded, {report['skipped']} already cached, "
        f"{report['failed']} failed, {len(invalid)} invalid records; report -> {report_path}"
    )
    if retries:
        summary = ", ".join(f"{reason} x{number}" for reason, number in retries.items())
        print(f"feidegger: {sum(retries.values())} retries ({summary})")
    if report["missing_share"] > params.max_missing:
        raise PipelineError(
            f"feidegger: {report['missing_items']} of {total} items have no image "
            f"({report['missing_share']:.1%} > download.feidegger.max_missing "
            f"{params.max_missing:.1%}); see {report_path}"
        )
    return items


def build_report(
    params: Params,
    digest: str,
    total: int,
    invalid: list[dict],
    ids_by_url: dict[str, list[str]],
    outcomes: dict[str, Outcome],
    kept: int,
) -> dict:
    """Counts, duplicate URLs, invalid records and every failure, sorted for stable diffs."""
    counts = {status: 0 for status in ("done", "skipped", "failed")}
    for outcome in outcomes.values():
        counts[outcome.status] += 1
    missing = total - kept
    return {
        "source": "feidegger",
        "json_url": params.json_url,
        "json_sha256": digest,
        "sha256_pinned": params.sha256 is not None,
        "items": total,
        "unique_urls": len(ids_by_url),
        **counts,
        "invalid_records": len(invalid),
        "missing_items": missing,
        "missing_share": missing / total,
        "max_missing": params.max_missing,
        "duplicate_urls": [
            {"url": url, "ids": ids} for url, ids in sorted(ids_by_url.items()) if len(ids) > 1
        ],
        "invalid": invalid,
        "failures": [
            {"url": url, "reason": outcomes[url].reason, "ids": ids_by_url[url]}
            for url in sorted(ids_by_url)
            if outcomes[url].status == "failed"
        ],
    }
