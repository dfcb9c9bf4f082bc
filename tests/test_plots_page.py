"""Browser test of `dvc plots show`'s page: every declared chart renders and every image loads,
offline (vega, vega-lite and vega-embed come from node_modules through plots/offline.html).

Runs headless Chromium from the Debian package (`make browser` installs it and the npm
packages); it fails, with the command to run, when either is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
VEGA_FILES = [
    "vega/build/vega.min.js",
    "vega-lite/build/vega-lite.min.js",
    "vega-embed/build/vega-embed.min.js",
]
# Copied into the temporary repo: what `dvc plots show` reads.
PLOT_INPUTS = ["dvc.yaml", "params.yaml", "metrics", "plots", ".dvc/config", ".dvc/plots"]
MIN_INK_PIXELS = 500  # a drawn chart has axes, labels and marks; a blank canvas has none

# Appended to the page: once every chart has drawn (or after 15 s), writes what rendered and
# which images loaded into #page-check, and any script errors.
CHECK_SCRIPT = """
<pre id="page-check"></pre>
<script>
const errors = [];
window.addEventListener('error', event => errors.push(String(event.message)));
function inkPixels(canvas) {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0 && (data[i] < 200 || data[i + 1] < 200 || data[i + 2] < 200)) ink++;
  }
  return ink;
}
function report() {
  const charts = [...document.querySelectorAll('body > div[id]')].map(div => {
    const canvas = div.querySelector('canvas');
    return {
      id: div.id,
      canvas: canvas ? [canvas.width, canvas.height] : null,
      ink: canvas && canvas.width ? inkPixels(canvas) : 0,
      svg_marks: div.querySelectorAll('svg .mark-group, svg path').length,
    };
  });
  const images = [...document.images].map(img => ({
    src: img.getAttribute('src'), loaded: img.complete && img.naturalWidth > 0,
  }));
  document.getElementById('page-check').textContent = JSON.stringify({
    vega: typeof vegaEmbed === 'function', errors: errors, charts: charts, images: images,
  });
}
function drawn() {
  const embeds = document.querySelectorAll('.vega-embed');
  const canvases = [...document.querySelectorAll('.vega-embed canvas')].filter(c => c.width > 0);
  return embeds.length > 0 && canvases.length === embeds.length;
}
let tries = 0;
(function poll() {
  if (drawn() || ++tries > 60) { report(); } else { setTimeout(poll, 250); }
})();
</script>
"""


def chromium() -> str:
    """The Chromium binary, or a failure saying how to install it (never a skip)."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail("Chromium is missing: run `make browser` (apt-get install -y chromium)")
    missing = [name for name in VEGA_FILES if not (REPO / "node_modules" / name).exists()]
    if missing:
        pytest.fail(f"node_modules lacks {missing}: run `make browser` (npm ci)")
    return found


def browser_args(profile: Path) -> list[str]:
    """Headless, offline-quiet Chromium with a fresh profile (root needs --no-sandbox)."""
    return [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=20000",
    ]


def declared_plots() -> tuple[list[str], list[str]]:
    """The top-level plots of dvc.yaml: (vega chart ids as DVC writes them, image files)."""
    charts, images = [], []
    for entry in yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]:
        name = entry if isinstance(entry, str) else next(iter(entry))
        if name.endswith(".png"):
            images.append(name)
        else:
            charts.append(re.sub(r"[^a-zA-Z0-9-]", "_", name))
    return charts, images


@pytest.fixture(scope="module")
def plots_page(tmp_path_factory) -> Path:
    """`dvc plots show` in a copy of the repo's plot inputs (committed metrics); its page."""
    root = tmp_path_factory.mktemp("plots-repo")
    for name in PLOT_INPUTS:
        source, target = REPO / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    (root / "node_modules").symlink_to(REPO / "node_modules")
    for command in (["config", "core.no_scm", "true"], ["plots", "show"]):
        done = subprocess.run(
            [sys.executable, "-m", "dvc", *command], cwd=root, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return root / "dvc_plots/index.html"


@pytest.mark.browser
def test_plots_page_renders_every_chart_offline(plots_page, tmp_path):
    html = plots_page.read_text()
    assert "http://" not in html and "https://cdn" not in html  # nothing from the internet
    checked = plots_page.with_name("checked.html")
    checked.write_text(html.replace("</body>", CHECK_SCRIPT + "</body>"))
    dom = subprocess.run(
        [*browser_args(tmp_path / "profile"), "--dump-dom", checked.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    found = re.search(r'<pre id="page-check">(.*?)</pre>', dom, re.S)
    assert found and found.group(1), "the page's check did not run: " + dom[-500:]
    result = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert result["vega"], "vega-embed did not load from node_modules"

    charts, images = declared_plots()
    assert result["errors"] == []
    rendered = {chart["id"]: chart for chart in result["charts"] if chart["canvas"]}
    assert sorted(rendered) == sorted(charts)  # each declared chart once, no stray ones
    for chart in rendered.values():
        assert min(chart["canvas"]) > 100 and chart["ink"] > MIN_INK_PIXELS, chart
    loaded = [image["src"] for image in result["images"] if image["loaded"]]
    assert len(loaded) == len(result["images"]) == len(images)  # each image once, all loaded

    screenshot = tmp_path / "plots.png"
    subprocess.run(
        [
            *browser_args(tmp_path / "profile-shot"),
            "--window-size=1280,5000",
            f"--screenshot={screenshot}",
            plots_page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")
