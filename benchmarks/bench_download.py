"""Benchmark: `feidegger` download throughput, 1 worker vs. the default workers.

Serves a FEIDEGGER-format release of N small JPEGs from a local HTTP server (a child
process, keep-alive) that waits a fixed latency before every image response, as a remote
image server would; downloads it into a fresh cache with each worker count (fetch, verify,
cache, link: the whole path), `--repeats` times per worker count, and prints the median
images/s with its spread (min-max) and the ratio of the medians. With no latency the figure is
the CPU ceiling of the machine, shared with the server process.

    python -m benchmarks.bench_download [--images 200] [--latency-ms 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import statistics
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image

from fashion_tagger.data.sources import feidegger

DESCRIPTIONS = ["Ein Kleid."] * 5


def serve(images: int, latency: float) -> tuple[multiprocessing.Process, str]:
    """Serve /release.json and /img/<n>.jpg from a child process (its own GIL and core).

    Returns the process and the release URL.
    """
    buffer = io.BytesIO()
    Image.new("RGB", (120, 180), (180, 40, 90)).save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    release: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as image servers allow
        disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between header and body

        def do_GET(self) -> None:
            if self.path == "/release.json":
                body, content_type = json.dumps(release).encode(), "application/json"
            else:
                time.sleep(latency)
                body, content_type = jpeg, "image/jpeg"
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"
    release.extend(
        {"url": f"{base}/img/{n}.jpg", "descriptions": DESCRIPTIONS, "split": str(n % 10)}
        for n in range(images)
    )
    process = multiprocessing.get_context("fork").Process(target=server.serve_forever, daemon=True)
    process.start()
    server.socket.close()  # the child accepts; this process only connects
    return process, f"{base}/release.json"


def images_per_second(release_url: str, workers: int, images: int) -> float:
    """Download the whole release into a fresh cache; return images per second."""
    with tempfile.TemporaryDirectory() as folder:
        params = feidegger.Params(json_url=release_url, cache_dir=str(Path(folder) / "cache"))
        runtime = feidegger.Runtime(workers=workers)
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            items = feidegger.fetch(params, Path(folder) / "raw", runtime)
        elapsed = time.perf_counter() - start
    assert len(items) == images, f"only {len(items)} of {images} images downloaded"
    return images / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    server, release_url = serve(args.images, args.latency_ms / 1000)
    default_workers = feidegger.Runtime().workers
    rates: dict[int, list[float]] = {1: [], default_workers: []}
    try:
        for _ in range(args.repeats):
            for workers, runs in rates.items():
                runs.append(images_per_second(release_url, workers, args.images))
    finally:
        server.terminate()
    print(f"{args.images} images, {args.latency_ms:g} ms latency per image request, ", end="")
    print(f"{args.repeats} repeats")
    for workers, runs in rates.items():
        print(
            f"{workers:3d} worker(s): median {statistics.median(runs):8.1f} images/s "
            f"(spread {min(runs):.1f}-{max(runs):.1f})"
        )
    ratio = statistics.median(rates[default_workers]) / statistics.median(rates[1])
    print(f"ratio of medians: {ratio:.2f}x")


if __name__ == "__main__":
    main()
