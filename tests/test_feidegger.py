"""The `feidegger` source against a local HTTP server that injects faults, one per path."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import posixpath
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import urllib3
import yaml
from PIL import Image
from urllib3.exceptions import ProtocolError

from fashion_tagger.data.sources import feidegger
from fashion_tagger.data.sources.feidegger import FetchError, ImageError, Params
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import ORPHAN_TEMP_SECONDS, read_json, remove_dead_temporaries

REPO = Path(__file__).resolve().parents[1]
FILE_NAME = re.compile(r"^[0-9a-f]{16}\.(jpg|png)$")
DESCRIPTIONS = ["Ein rotes Kleid.", "Kurz.", "Mit Ärmeln.", "Aus Baumwolle.", "Schön."]

Action = Callable[[BaseHTTPRequestHandler], None]


def image_bytes(width: int = 60, height: int = 90, color=(200, 30, 30), fmt: str = "JPEG"):
    """A small encoded image; each colour gives different bytes."""
    buffer = io.BytesIO()
    mode = "RGBA" if fmt == "PNG" else "RGB"
    Image.new(mode, (width, height), color).save(buffer, format=fmt)
    return buffer.getvalue()


def ok(body: bytes, content_type: str = "image/jpeg") -> Action:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def status(code: int, headers: dict[str, str] | None = None) -> Action:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(code)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return respond


def reset(handler: BaseHTTPRequestHandler) -> None:
    """Close the connection with a TCP reset before any response."""
    linger = struct.pack("ii", 1, 0)
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    handler.close_connection = True


def slow(seconds: float, body: bytes) -> Action:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        ok(body)(handler)

    return respond


def truncated(body: bytes) -> Action:
    """Promise more bytes than are sent, then close."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/jpeg")
        handler.send_header("Content-Length", str(len(body) + 100))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def redirect(location: str) -> Action:
    return status(302, {"Location": location})


class FaultServer:
    """HTTP on 127.0.0.1 whose answers per path follow a script (the last action repeats).

    Paths are normalised with posixpath.normpath, so "/a/../b" is served as "/b";
    unknown paths get 404. `hits` counts requests per normalised path.
    """

    def __init__(self) -> None:
        self.routes: dict[str, list[Action]] = {}
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = posixpath.normpath(urlsplit(self.path).path)
                with server._lock:
                    server.hits[path] += 1
                    script = server.routes.get(path)
                    action = (script.pop(0) if len(script) > 1 else script[0]) if script else None
                (action or status(404))(self)

            def log_message(self, *args) -> None:
                pass

        class QuietServer(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # a client that timed out leaves a broken pipe: expected here

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def route(self, path: str, *actions: Action) -> str:
        self.routes[path] = list(actions)
        return self.base + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    fault_server = FaultServer()
    yield fault_server
    fault_server.close()


FAST_RUNTIME = feidegger.Runtime(workers=4, connect_timeout=1.0, read_timeout=0.2)
FAST_TIMEOUT = (FAST_RUNTIME.connect_timeout, FAST_RUNTIME.read_timeout)
TWO_WORKERS = feidegger.Runtime(workers=2, connect_timeout=1.0, read_timeout=0.2)


def fast_params(tmp_path: Path, **changes) -> Params:
    """Tiny timeouts and backoff so the fault scenarios take well under a second each."""
    values = {
        "cache_dir": str(tmp_path / "cache"),
        "retries": 2,
        "backoff_base": 0.001,
        "backoff_max": 0.01,
        "retry_after_max": 0.01,
        "min_side": 16,
        "max_pixels": 20_000,
        "max_missing": 1.0,
    }
    return Params(**{**values, **changes})


def publish_release(server: FaultServer, urls: list[str]) -> str:
    """Serve a FEIDEGGER-format JSON listing `urls`; return its URL."""
    records = [
        {"url": url, "descriptions": DESCRIPTIONS, "split": str(index % 10)}
        for index, url in enumerate(urls)
    ]
    body = json.dumps(records).encode()
    return server.route("/release.json", ok(body, "application/json"))


def faulty_dataset(server: FaultServer) -> tuple[list[str], dict[str, str], set[str]]:
    """Release URLs, expected failure reasons by URL, and the URLs that must succeed."""
    big = image_bytes(1000, 1000, fmt="PNG")  # compresses to little, decodes to 1e6 pixels
    good = [server.route(f"/good/{n}.jpg", ok(image_bytes(color=(n * 40, 0, 0)))) for n in range(4)]
    recovering = [
        server.route("/flaky.jpg", status(500), status(503), ok(image_bytes(color=(1, 2, 3)))),
        server.route(
            "/limited.jpg", status(429, {"Retry-After": "30"}), ok(image_bytes(color=(4, 5, 6)))
        ),
        server.route("/reset.jpg", reset, ok(image_bytes(color=(7, 8, 9)))),
        server.route(
            "/slow.jpg", slow(0.5, image_bytes(color=(9, 9, 9))), ok(image_bytes(color=(9, 9, 9)))
        ),
        server.route("/moved.jpg", redirect("/target.jpg")),
        server.base + "/img/../../dotdot.jpg",
        server.route("/alpha.png", ok(image_bytes(color=(0, 90, 0, 128), fmt="PNG"), "image/png")),
    ]
    server.route("/target.jpg", ok(image_bytes(color=(10, 20, 30))))
    server.route("/dotdot.jpg", ok(image_bytes(color=(30, 20, 10))))
    failing = {
        server.route("/truncated.jpg", truncated(image_bytes())): "incomplete body",
        server.route("/page.jpg", ok(b"<!DOCTYPE html><html>Not found</html>", "text/html")): (
            "HTML page"
        ),
        server.base + "/missing.jpg": "HTTP 404",
        server.route("/forbidden.jpg", status(403)): "HTTP 403",
        server.route("/bomb.png", ok(big, "image/png")): "decompression bomb",
        server.route("/tiny.jpg", ok(image_bytes(8, 8))): "too small",
        server.route("/loop.jpg", redirect("/loop.jpg")): "redirects",
        server.route("/broken.jpg", ok(image_bytes()[:300])): "not a decodable image",
    }
    urls = [*good, good[0], *recovering, *failing]  # good[0] listed twice
    return urls, failing, set(good) | set(recovering)


def all_files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def assert_clean(*folders: Path) -> None:
    """No temporary files, and every file under a final name is a verified image."""
    for folder in folders:
        for path in all_files(folder):
            assert not path.name.startswith("."), f"stray temporary file {path}"
            if path.parent.name == "images":
                assert FILE_NAME.match(path.name), path
                feidegger.verify_image(path.read_bytes(), 16, 20_000)


def test_faults_are_retried_or_reported(server: FaultServer, tmp_path: Path):
    urls, failing, succeeding = faulty_dataset(server)
    params = fast_params(tmp_path, json_url=publish_release(server, urls))
    raw = tmp_path / "raw"

    items = feidegger.fetch(params, raw, FAST_RUNTIME)

    report = read_json(raw / "download_report.json")
    reasons = {failure["url"]: failure["reason"] for failure in report["failures"]}
    assert set(reasons) == set(failing)
    for url, expected in failing.items():
        assert expected.lower() in reasons[url].lower(), (url, reasons[url])
    assert (report["done"], report["skipped"], report["failed"]) == (
        len(succeeding),
        0,
        len(failing),
    )
    assert report["duplicate_urls"] == [{"url": urls[0], "ids": ["f00000", "f00004"]}]
    assert report["missing_items"] == len(failing)

    assert {item["url"] for item in items} == succeeding
    assert len(items) == len(urls) - len(failing)  # the duplicate URL keeps both items
    by_id = {item["id"]: item for item in items}
    assert by_id["f00000"]["image"] == by_id["f00004"]["image"]
    assert by_id["f00004"]["fold"] == "4"
    assert by_id["f00000"]["descriptions"] == DESCRIPTIONS
    for item in items:
        assert (raw / item["image"]).is_file()
    images = {path.name for path in all_files(raw / "images")}
    assert images == {item["image"].removeprefix("images/") for item in items}
    assert_clean(raw, tmp_path / "cache")

    # Transient faults are retried until they pass; permanent ones are tried once.
    expected_hits = {
        "/good/0.jpg": 1,
        "/flaky.jpg": 3,
        "/limited.jpg": 2,
        "/reset.jpg": 2,
        "/slow.jpg": 2,
        "/truncated.jpg": params.retries + 1,
        "/page.jpg": 1,
        "/missing.jpg": 1,
        "/forbidden.jpg": 1,
        "/bomb.png": 1,
        "/moved.jpg": 1,
        "/target.jpg": 1,
        "/dotdot.jpg": 1,
    }
    assert {path: server.hits[path] for path in expected_hits} == expected_hits
    assert server.hits["/loop.jpg"] == params.max_redirects + 1


def test_second_run_resumes_from_cache(server: FaultServer, tmp_path: Path):
    urls, failing, succeeding = faulty_dataset(server)
    params = fast_params(tmp_path, json_url=publish_release(server, urls))
    first = feidegger.fetch(params, tmp_path / "raw1", FAST_RUNTIME)
    hits = Counter(server.hits)

    second = feidegger.fetch(params, tmp_path / "raw2", FAST_RUNTIME)

    report = read_json(tmp_path / "raw2" / "download_report.json")
    assert (report["done"], report["skipped"], report["failed"]) == (
        0,
        len(succeeding),
        len(failing),
    )
    assert second == first
    for url in succeeding:
        path = posixpath.normpath(urlsplit(url).path)
        assert server.hits[path] == hits[path], f"{url} fetched again"
    assert server.hits["/forbidden.jpg"] == hits["/forbidden.jpg"] + 1  # failures are retried


def test_interrupted_run_leaves_nothing_partial(
    server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    urls = [server.route(f"/{n}.jpg", ok(image_bytes(color=(n, n, n)))) for n in range(8)]
    params = fast_params(tmp_path, json_url=publish_release(server, urls))
    real_atomic_path = feidegger.atomic_path
    writes = 0

    @contextlib.contextmanager
    def interrupted_after_three(path):
        """Like atomic_path, but the third image write is interrupted before its rename."""
        nonlocal writes
        with real_atomic_path(path) as temporary:
            yield temporary
            writes += 1
            if writes == 3:
                raise KeyboardInterrupt

    monkeypatch.setattr(feidegger, "atomic_path", interrupted_after_three)
    with pytest.raises(KeyboardInterrupt):
        feidegger.fetch(params, tmp_path / "raw", TWO_WORKERS)
    assert_clean(tmp_path / "raw", tmp_path / "cache")
    cached_before = len(all_files(tmp_path / "cache" / "images"))
    assert cached_before < len(urls)

    monkeypatch.setattr(feidegger, "atomic_path", real_atomic_path)
    items = feidegger.fetch(params, tmp_path / "raw", TWO_WORKERS)
    report = read_json(tmp_path / "raw" / "download_report.json")
    assert len(items) == len(urls)
    assert report["skipped"] == cached_before
    assert report["done"] == len(urls) - cached_before
    assert_clean(tmp_path / "raw", tmp_path / "cache")


def test_missing_share_threshold(server: FaultServer, tmp_path: Path):
    urls = [server.route(f"/{n}.jpg", ok(image_bytes(color=(n, n, n)))) for n in range(3)]
    urls.append(server.base + "/gone.jpg")  # 1 of 4 missing: 25%
    release = publish_release(server, urls)

    items = feidegger.fetch(
        fast_params(tmp_path, json_url=release, max_missing=0.25), tmp_path, FAST_RUNTIME
    )
    assert len(items) == 3

    with pytest.raises(PipelineError, match=r"1 of 4 items have no image \(25\.0% > .*20\.0%"):
        feidegger.fetch(
            fast_params(tmp_path, json_url=release, max_missing=0.2), tmp_path, FAST_RUNTIME
        )
    report = read_json(tmp_path / "download_report.json")
    assert report["failures"][0]["url"] == server.base + "/gone.jpg"
    assert report["failures"][0]["ids"] == ["f00003"]


def test_sha256_pin(server: FaultServer, tmp_path: Path, capsys: pytest.CaptureFixture):
    release = publish_release(server, [server.route("/a.jpg", ok(image_bytes()))])
    digest = hashlib.sha256(requests.get(release, timeout=5).content).hexdigest()
    hits = server.hits["/release.json"]

    feidegger.fetch(fast_params(tmp_path, json_url=release), tmp_path / "raw", FAST_RUNTIME)
    assert f"sha256 is {digest}" in capsys.readouterr().out
    report = read_json(tmp_path / "raw" / "download_report.json")
    assert (report["json_sha256"], report["sha256_pinned"]) == (digest, False)
    assert server.hits["/release.json"] == hits + 1

    pinned = fast_params(tmp_path, json_url=release, sha256=digest)
    feidegger.fetch(pinned, tmp_path / "raw", FAST_RUNTIME)
    assert "sha256 is" not in capsys.readouterr().out
    assert server.hits["/release.json"] == hits + 1  # the cached copy matches the pin
    assert read_json(tmp_path / "raw" / "download_report.json")["sha256_pinned"] is True

    wrong = "0" * 64
    with pytest.raises(PipelineError, match=f"expected {wrong}.*got {digest}"):
        feidegger.fetch(
            fast_params(tmp_path, json_url=release, sha256=wrong), tmp_path / "raw", FAST_RUNTIME
        )


def test_resize_reencodes_as_jpeg(server: FaultServer, tmp_path: Path):
    urls = [
        server.route("/big.jpg", ok(image_bytes(60, 90))),
        server.route("/alpha.png", ok(image_bytes(90, 40, (0, 0, 0, 0), "PNG"), "image/png")),
    ]
    params = fast_params(tmp_path, json_url=publish_release(server, urls), max_side=30)
    items = feidegger.fetch(params, tmp_path / "raw", FAST_RUNTIME)
    sizes = []
    for item in items:
        assert item["image"].endswith(".jpg")
        with Image.open(tmp_path / "raw" / item["image"]) as image:
            assert image.format == "JPEG"
            sizes.append(image.size)
            if item["url"].endswith(".png"):  # transparent pixels become white
                assert image.convert("RGB").getpixel((5, 5)) == (255, 255, 255)
    assert sizes == [(20, 30), (30, 13)]


def test_retry_after_is_honoured_and_capped(server: FaultServer, tmp_path: Path):
    url = server.route("/r.jpg", status(429, {"Retry-After": "30"}), status(503), ok(b"x"))
    params = fast_params(tmp_path, retry_after_max=0.05, backoff_base=0.2, backoff_max=10)
    reasons: list[str] = []
    started = time.monotonic()
    with feidegger.make_session(params, reasons.append) as session:
        body = feidegger.fetch_bytes(session, url, params, FAST_TIMEOUT)
    elapsed = time.monotonic() - started
    assert body == b"x" and server.hits["/r.jpg"] == 3
    assert reasons == ["HTTP 429", "HTTP 503"]
    # the server's 30 s capped to 0.05, then backoff 0.2 * 2 plus up to 0.2 of jitter
    assert 0.05 + 0.4 <= elapsed < 2.0


def test_retry_after_cap_covers_both_header_forms(tmp_path: Path):
    retry = feidegger.make_retry(fast_params(tmp_path, retry_after_max=60))
    for value, expected in [("7", 7), (" 120 ", 60), ("Wed, 21 Oct 2015 07:28:00 GMT", 0)]:
        response = urllib3.HTTPResponse(headers={"Retry-After": value}, status=429)
        assert retry.get_retry_after(response) == expected
    assert retry.get_retry_after(urllib3.HTTPResponse(status=429)) is None


def test_backoff_grows_and_is_capped(tmp_path: Path):
    retry = feidegger.make_retry(fast_params(tmp_path, retries=9, backoff_base=1.0, backoff_max=5))
    delays = []
    for _ in range(5):
        retry = retry.increment("GET", "http://x/a.jpg", error=ProtocolError("reset"))
        delays.append(retry.get_backoff_time())
    assert delays[0] == 0  # urllib3 retries the first failure at once
    for delay, floor in zip(delays[1:], [2.0, 4.0, 5.0, 5.0], strict=True):
        assert floor <= delay <= min(floor + 1.0, 5.0)


def test_exhausted_retries_name_the_reason_and_attempts(server: FaultServer, tmp_path: Path):
    url = server.route("/down.jpg", status(503))
    params = fast_params(tmp_path, retries=3)
    with feidegger.make_session(params) as session, pytest.raises(FetchError) as error:
        feidegger.fetch_bytes(session, url, params, FAST_TIMEOUT)
    assert str(error.value) == "HTTP 503 (gave up after 4 attempts)"
    assert server.hits["/down.jpg"] == 4


def test_retries_are_counted_per_reason_and_summed_up(
    server: FaultServer, tmp_path: Path, capsys: pytest.CaptureFixture
):
    urls = [
        server.route("/a.jpg", status(503), status(503), ok(image_bytes(color=(1, 1, 1)))),
        server.route("/b.jpg", reset, ok(image_bytes(color=(2, 2, 2)))),
        server.route("/c.jpg", truncated(image_bytes()), ok(image_bytes(color=(3, 3, 3)))),
    ]
    params = fast_params(tmp_path, json_url=publish_release(server, urls))
    feidegger.fetch(params, tmp_path / "raw", FAST_RUNTIME)
    report = read_json(tmp_path / "raw" / "download_report.json")
    assert report["retries"] == {"HTTP 503": 2, "connection broken": 1, "incomplete body": 1}
    summary = "feidegger: 4 retries (HTTP 503 x2, connection broken x1, incomplete body x1)"
    assert summary in capsys.readouterr().out
    assert feidegger.progress_postfix({"done": 1}, {"HTTP 503": 2}) == {
        "done": 1,
        "retry HTTP 503": 2,
    }


def test_url_key_is_safe_and_distinct():
    keys = {
        feidegger.url_key(url)
        for url in [
            "https://img.example/a.jpg",
            "https://img.example/a.jpg?x=1",
            "https://img.example/../../etc/passwd",
            "https://img.example/A.jpg",
        ]
    }
    assert len(keys) == 4
    assert all(re.fullmatch(r"[0-9a-f]{16}", key) for key in keys)
    assert feidegger.url_key("https://x/a.jpg") == feidegger.url_key("https://x/a.jpg")


def test_fetch_bytes_refuses_other_schemes(tmp_path: Path):
    params = fast_params(tmp_path)
    with feidegger.make_session(params) as session, pytest.raises(FetchError, match="not an http"):
        feidegger.fetch_bytes(session, "file:///etc/passwd", params, FAST_TIMEOUT)


def record(**changes) -> dict:
    return {
        "url": "https://img.example/1.jpg",
        "descriptions": DESCRIPTIONS,
        "split": "3",
    } | changes


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (record(url="ftp://img.example/1.jpg"), "http"),
        (record(url="file:///etc/passwd"), "http"),
        (record(url="javascript:alert(1)"), "http"),
        (record(url=None), "http"),
        (record(descriptions=DESCRIPTIONS[:4]), "5 descriptions"),
        (record(descriptions=[*DESCRIPTIONS[:4], "  "]), "description 4"),
        (record(split=None), "split"),
        ("not an object", "expected an object"),
    ],
)
def test_bad_record_problem_is_one_line(bad, message):
    assert feidegger.record_problem(record()) is None
    problem = feidegger.record_problem(bad)
    assert message in problem and "\n" not in problem


def test_bad_records_are_reported_and_counted_not_fatal(server: FaultServer, tmp_path: Path):
    urls = [server.route(f"/{n}.jpg", ok(image_bytes(color=(n, n, n)))) for n in range(3)]
    records = [{"url": url, "descriptions": DESCRIPTIONS, "split": "1"} for url in urls]
    records.insert(
        1, {"url": "ftp://img.example/x.jpg", "descriptions": DESCRIPTIONS, "split": "2"}
    )
    records.append(record(descriptions=DESCRIPTIONS[:2]))
    release = server.route("/release.json", ok(json.dumps(records).encode(), "application/json"))

    items = feidegger.fetch(
        fast_params(tmp_path, json_url=release, max_missing=0.4), tmp_path / "raw", FAST_RUNTIME
    )
    assert [item["id"] for item in items] == ["f00000", "f00002", "f00003"]
    report = read_json(tmp_path / "raw" / "download_report.json")
    assert (report["items"], report["invalid_records"], report["missing_items"]) == (5, 2, 2)
    assert report["invalid"][0] == {
        "record": 1,
        "id": "f00001",
        "reason": "'url' must be an http(s) URL, got 'ftp://img.example/x.jpg'",
    }
    assert (
        report["invalid"][1]["record"] == 4 and "5 descriptions" in report["invalid"][1]["reason"]
    )

    with pytest.raises(PipelineError, match=r"2 of 5 items have no image \(40\.0% > "):
        feidegger.fetch(
            fast_params(tmp_path, json_url=release, max_missing=0.3), tmp_path / "raw", FAST_RUNTIME
        )


def test_release_must_be_a_non_empty_list():
    with pytest.raises(PipelineError, match="expected a JSON list"):
        feidegger.check_release({"url": "x"}, "release.json")
    with pytest.raises(PipelineError, match="no records"):
        feidegger.check_release([], "release.json")


def test_bad_release_json_is_reported(server: FaultServer, tmp_path: Path):
    release = server.route("/release.json", ok(b"[{broken", "application/json"))
    with pytest.raises(PipelineError, match="not valid JSON"):
        feidegger.fetch(fast_params(tmp_path, json_url=release), tmp_path / "raw", FAST_RUNTIME)
    unreachable = fast_params(tmp_path, json_url=server.base + "/nothing.json")
    with pytest.raises(PipelineError, match=r"nothing.json: download failed: HTTP 404"):
        feidegger.fetch(unreachable, tmp_path / "raw", FAST_RUNTIME)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<html><body>error</body></html>", "HTML"),
        (image_bytes(10, 40), "too small"),
        (image_bytes(200, 200, fmt="PNG"), "decompression bomb"),
        (image_bytes()[:-200], "not a decodable image"),
        (b"GIF89a nonsense", "not a decodable image"),
    ],
)
def test_verify_image_rejects(data: bytes, reason: str):
    with pytest.raises(ImageError, match=reason):
        feidegger.verify_image(data, min_side=16, max_pixels=20_000)


def test_verify_image_returns_format():
    assert feidegger.verify_image(image_bytes(fmt="PNG"), 16, 20_000) == "PNG"
    assert feidegger.verify_image(image_bytes(), 16, 20_000) == "JPEG"


def test_params_yaml_section_is_valid():
    section = yaml.safe_load((REPO / "params.yaml").read_text())["download"]["feidegger"]
    assert Params.model_validate(section).json_url.endswith("FEIDEGGER_release_1.2.json")


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_only_dead_temporaries_are_removed(tmp_path: Path):
    dead = tmp_path / f".a.jpg.pid{dead_pid()}-x1.tmp"
    live = tmp_path / f".b.jpg.pid{os.getpid()}-x2.tmp"  # a concurrent run still writing
    old_live = tmp_path / f".c.jpg.pid{os.getpid()}-x3.tmp"  # pid reused by a live process
    unnamed_old, unnamed_fresh = tmp_path / ".d.jpg.x4.tmp", tmp_path / ".e.jpg.x5.tmp"
    for path in (dead, live, old_live, unnamed_old, unnamed_fresh):
        path.write_bytes(b"partial")
    hours_ago = time.time() - 2 * ORPHAN_TEMP_SECONDS
    for path in (old_live, unnamed_old):
        os.utime(path, (hours_ago, hours_ago))
    assert remove_dead_temporaries(tmp_path) == 3
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [live.name, unnamed_fresh.name]
    )


def test_a_killed_download_leaves_no_temporaries_after_the_next_run(
    server: FaultServer, tmp_path: Path
):
    """A process killed while writing into the download cache; the next run cleans up."""
    cache_images = tmp_path / "cache" / "images"
    cache_images.mkdir(parents=True)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(cache_images / "0123456789abcdef.jpg")],
        cwd=REPO,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    assert [path.name.endswith(".tmp") for path in cache_images.iterdir()] == [True]

    urls = [server.route("/a.jpg", ok(image_bytes()))]
    feidegger.fetch(fast_params(tmp_path, json_url=publish_release(server, urls)), tmp_path / "raw")
    assert_clean(tmp_path / "raw", tmp_path / "cache")


KILLED_WRITER = """
import os, signal, sys
from fashion_tagger.io import atomic_path
with atomic_path(sys.argv[1]) as temporary:
    temporary.write_bytes(b"half an image")
    os.kill(os.getpid(), signal.SIGKILL)
"""
