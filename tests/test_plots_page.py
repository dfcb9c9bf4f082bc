"""Browser test of `dvc plots show`'s page: every declared chart renders and every image loads,
offline (vega, vega-lite and vega-embed come from node_modules through plots/offline.html);
the gallery's right/wrong/missed colours show; `dvc plots diff` tells revisions apart by colour
in the legends, the tag report colours by status, and epoch ticks are whole numbers.

Runs headless Chromium from the Debian package (`make browser` installs it and the npm
packages); it fails, with the command to run, when either is missing.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fashion_tagger.evaluation.pictures import MARKS

REPO = Path(__file__).resolve().parents[1]
VEGA_FILES = [
    "vega/build/vega.min.js",
    "vega-lite/build/vega-lite.min.js",
    "vega-embed/build/vega-embed.min.js",
]
# Copied into the temporary repo: what `dvc plots show` reads.
PLOT_INPUTS = ["dvc.yaml", "params.yaml", "metrics", "plots", ".dvc/config", ".dvc/plots"]
MIN_INK_PIXELS = 500  # a drawn chart has axes, labels and marks; a blank canvas has none
MIN_MARK_PIXELS = 400  # a legend patch of a gallery marker colour is about 700 pixels

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
const MARKS = %MARKS%;
function colourCounts(img) {
  // pixels near each of the gallery's marker colours (right, wrong, missed)
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  if (!canvas.width) return {};
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0);
  let data;
  try { data = context.getImageData(0, 0, canvas.width, canvas.height).data; }
  catch (error) { errors.push('pixels of ' + img.src + ': ' + error); return {}; }
  const counts = {};
  for (const [mark, hex] of Object.entries(MARKS)) {
    const target = [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16));
    let found = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - target[0]) + Math.abs(data[i + 1] - target[1])
          + Math.abs(data[i + 2] - target[2]) < 30) found++;
    }
    counts[mark] = found;
  }
  return counts;
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
    colours: colourCounts(img),
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
        "--allow-file-access-from-files",  # the check reads the pictures' pixels
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
    marks = json.dumps({mark: colour for mark, (colour, _) in MARKS.items()})
    checked.write_text(html.replace("</body>", CHECK_SCRIPT.replace("%MARKS%", marks) + "</body>"))
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
    [gallery] = [image for image in result["images"] if "test_gallery" in image["src"]]
    for mark, count in gallery["colours"].items():  # the legend's patch at least, and tags
        assert count > MIN_MARK_PIXELS, (mark, gallery["colours"])

    screenshot(plots_page, tmp_path / "plots.png", tmp_path / "profile-shot", height=5000)


# Renders every chart spec of a DVC page to SVG with vega (offline), so that its legend and
# axis labels can be read; writes {chart id: svg} into #svg-check.
SVG_PAGE = """<html><head>
<script src="../node_modules/vega/build/vega.min.js"></script>
<script src="../node_modules/vega-lite/build/vega-lite.min.js"></script></head><body>
<pre id="svg-check"></pre>
<script>
const specs = %SPECS%;
(async () => {
  const out = {};
  for (const [id, spec] of Object.entries(specs)) {
    try {
      const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), {renderer: 'none'});
      out[id] = await view.toSVG();
    } catch (error) { out[id] = 'error: ' + error; }
  }
  document.getElementById('svg-check').textContent = JSON.stringify(out);
})();
</script></body></html>"""


def chart_svgs(page: Path, profile: Path) -> dict[str, str]:
    """Each chart of a `dvc plots` page drawn as SVG in headless Chromium."""
    specs = {
        found.group(1): json.loads(found.group(2))
        for found in re.finditer(
            r'<div id = "([^"]+)">\s*<script type = "text/javascript">\s*var spec = (.*?);\s*'
            r"vegaEmbed",
            page.read_text(),
            re.S,
        )
    }
    checker = page.with_name("svg.html")
    checker.write_text(SVG_PAGE.replace("%SPECS%", json.dumps(specs)))
    dom = subprocess.run(
        [*browser_args(profile), "--dump-dom", checker.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    found = re.search(r'<pre id="svg-check">(.*?)</pre>', dom, re.S)
    assert found and found.group(1), dom[-500:]
    return json.loads(html.unescape(found.group(1)))


def svg_texts(svg: str, role: str, axis: str = "") -> list[str]:
    """The texts of one role's marks (legend-label, axis-label), of the axis whose aria-label
    starts with `axis` (e.g. "X-axis") when given."""
    if axis:
        parts = svg.split('role-axis"')[1:]
        svg = next(part for part in parts if f'aria-label="{axis}' in part[:200])
        svg = svg.split('role-axis"')[0]
    groups = re.findall(rf'role-{role}"[^>]*>(.*?)</g>', svg, re.S)
    return [
        html.unescape(text)
        for group in groups
        for text in re.findall(r"<text[^>]*>(.*?)</text>", group)
    ]


@pytest.fixture(scope="module")
def diff_page(plots_page) -> Path:
    """`dvc plots diff HEAD` after a 2-epoch training with other numbers than the commit's."""
    root = plots_page.parents[1]
    environment = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }

    def run(*command: str) -> None:
        done = subprocess.run(command, cwd=root, env=environment, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr

    curves = root / "metrics/train_curves.csv"
    header, *rows = curves.read_text().splitlines()

    def two_epochs(scale: float) -> str:
        scaled = [
            [row.split(",")[0], *(str(float(v) * scale) for v in row.split(",")[1:])]
            for row in rows[:2]
        ]
        return "\n".join([header, *(",".join(row) for row in scaled)]) + "\n"

    curves.write_text(two_epochs(1.0))
    run(sys.executable, "-m", "dvc", "config", "core.no_scm", "false")
    run("git", "init", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "plots")
    curves.write_text(two_epochs(0.9))
    run(sys.executable, "-m", "dvc", "plots", "diff", "HEAD", "-o", "diff_plots")
    return root / "diff_plots/index.html"


@pytest.mark.browser
def test_plots_diff_tells_revisions_apart(diff_page, tmp_path):
    svgs = chart_svgs(diff_page, tmp_path / "profile")
    charts, _ = declared_plots()
    assert sorted(svgs) == sorted(charts)
    assert not [chart for chart, svg in svgs.items() if svg.startswith("error")]
    loss = svg_texts(svgs["Training_loss"], "legend-label")
    # a colour per revision and series, named, and the revisions' dashes
    assert {"HEAD: train_loss", "workspace: train_loss", "HEAD", "workspace"} <= set(loss)
    symbols = re.findall(r'role-legend-symbol"[^>]*>(.*?)</g>', svgs["Training_loss"], re.S)
    dashes = [re.search(r'stroke-dasharray="([^"]*)"', symbol) for symbol in symbols]
    drawn = {dash.group(1) for dash in dashes if dash and 'stroke="#444"' in dash.string}
    assert len(drawn) == 2, symbols  # each revision's line sample, drawn, in its own dash
    epochs = svg_texts(svgs["Training_loss"], "axis-label", "X-axis")
    assert epochs and all(label.isdigit() for label in epochs)
    assert len(epochs) == len(set(epochs))  # not "1, 2, 2"
    for chart in ("Items_per_tag__vocabulary_", "Test_F1_per_tag"):
        assert svg_texts(svgs[chart], "legend-label") == ["HEAD", "workspace"], chart
    [report] = [chart for chart in svgs if chart.startswith("Tag_report")]
    statuses = svg_texts(svgs[report], "legend-label")
    assert {"tag", "negated", "generic"} <= set(statuses)

    screenshot(diff_page, tmp_path / "diff.png", tmp_path / "shot", height=3000)


def screenshot(page: Path, picture: Path, profile: Path, height: int) -> None:
    """A headless Chromium screenshot of `page`, 1280 pixels wide, for a person to look at."""
    subprocess.run(
        [*browser_args(profile), f"--window-size=1280,{height}", f"--screenshot={picture}"]
        + [page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert picture.stat().st_size > 10_000
    print(f"screenshot: {picture}")
