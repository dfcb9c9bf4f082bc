"""Benchmark: how long the README's quick-start commands take on a fresh clone.

Clones the repository's committed HEAD into a temporary folder and runs each named command there
in order (`make repro` first creates `.venv` and installs the project, so it includes the
install), timing each with a wall clock. Records per command the seconds, the CPU count, the
load average before and after (the machine may be shared: a high load means slower figures),
the date, the git revision and whether the clone's `git status` stayed clean (a fresh clone's
`make repro` must reproduce the committed outputs byte for byte), merged into
`benchmarks/results/timings.json`, which the README quotes. `setup` alone times creating .venv,
so that a later `test-fast` times the tests only.

    python -m benchmarks.time_commands repro test      # `make repro`, then `make test`
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

from fashion_tagger.io import read_json, write_json

RESULTS_FILE = Path("benchmarks/results/timings.json")
TARGETS = ("setup", "repro", "test", "test-fast")


def revision() -> str:
    """The committed revision the clone is made from."""
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def time_target(clone: Path, target: str) -> dict:
    """Run `make <target>` in the clone with a clean PATH (no outer venv); its figures."""
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(
        part for part in env["PATH"].split(os.pathsep) if not part.endswith(".venv/bin")
    )
    before = os.getloadavg()
    start = time.perf_counter()
    result = subprocess.run(["make", target], cwd=clone, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"make {target} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    changed = subprocess.run(
        ["git", "status", "--porcelain"], cwd=clone, check=True, capture_output=True, text=True
    ).stdout
    if changed:  # `make repro` on a fresh clone must give the committed outputs byte for byte
        print(f"make {target} left files that differ from the commit:\n{changed}")
    return {
        "command": f"make {target}",
        "seconds": round(seconds, 1),
        "minutes": round(seconds / 60, 1),
        "cpus": os.cpu_count(),
        "load_before": [round(value, 2) for value in before],
        "load_after": [round(value, 2) for value in os.getloadavg()],
        "date": datetime.date.today().isoformat(),
        "machine": platform.machine(),
        "git_clean": not changed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="+", choices=TARGETS, help="make targets, in order")
    args = parser.parse_args()
    results = read_json(RESULTS_FILE) if RESULTS_FILE.exists() else {}
    with tempfile.TemporaryDirectory() as folder:
        clone = Path(folder) / "clone"
        subprocess.run(["git", "clone", "--quiet", ".", str(clone)], check=True)
        commit = revision()
        for target in args.targets:
            figures = time_target(clone, target)
            figures["revision"] = commit
            figures["how"] = (
                "a fresh `git clone` of the revision, `make` run once in it by "
                "benchmarks/time_commands.py (wall clock; repro after it creates .venv)"
            )
            results[target] = figures
            print(f"make {target}: {figures['minutes']} min on {figures['cpus']} CPUs")
            write_json(RESULTS_FILE, results)


if __name__ == "__main__":
    main()
