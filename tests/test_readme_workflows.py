"""The README's labelled-data and remote-sharing blocks, read from README.md and run as written
in a fresh clone (generated images in place of /path/to/...): the user's files must come
through every DVC command byte for byte."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from tests.test_pipeline import GIT_IDENTITY, UP_TO_DATE, copy_repo, tiny_stage_params

REPO = Path(__file__).resolve().parents[1]
COLOURS = {"red": (200, 30, 30), "blue": (30, 30, 200), "green": (30, 160, 30)}

pytestmark = pytest.mark.slow


def readme_block(heading: str) -> str:
    """The first ```bash block under `heading` in README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    match = re.compile(r"```bash\n(.*?)```", re.S).search(text, start)
    assert match, f"README.md: no bash block under {heading}"
    return match.group(1)


def substitute(block: str, replacements: dict[str, Path]) -> str:
    for placeholder, value in replacements.items():
        assert placeholder in block, f"README block no longer mentions {placeholder}"
        block = block.replace(placeholder, str(value))
    return block


def environment(home: Path) -> dict:
    return {
        **os.environ,
        **GIT_IDENTITY,
        "HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }


def shell(workdir: Path, script: str, home: Path) -> str:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=workdir,
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"{script}\n{result.stdout}{result.stderr}"
    return result.stdout + result.stderr


def files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def user_images(folder: Path) -> tuple[Path, Path]:
    """An images folder and a labels.csv (header image,tags), as a user would bring them."""
    images = folder / "images"
    images.mkdir(parents=True)
    rows = ["image,tags"]
    for index in range(36):
        colour = list(COLOURS)[index % 3]
        Image.new("RGB", (48, 64), COLOURS[colour]).save(images / f"d{index:02d}.jpg")
        rows.append(f'images/d{index:02d}.jpg,"{colour}, dress"')
    labels = folder / "labels.csv"
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return images, labels


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory) -> tuple[Path, Path]:
    """A fresh clone of the project (tiny training params committed) and a home folder."""
    root = tmp_path_factory.mktemp("workflow")
    origin, home = root / "origin", root / "home"
    home.mkdir()
    copy_repo(origin)
    params_file = origin / "params.yaml"
    params_file.write_text(
        yaml.safe_dump(tiny_stage_params(yaml.safe_load(params_file.read_text())))
    )
    shell(origin, "git init -q && git add -A && git commit -q -m project", home)
    shell(root, f"git clone -q {origin} user", home)
    return root / "user", home


def test_labelled_workflow_and_sharing_as_documented(fresh_clone, tmp_path):
    user, home = fresh_clone
    images, labels = user_images(tmp_path / "incoming")
    block = readme_block("### Your own labelled images")
    shell(user, substitute(block, {"/path/to/images": images, "/path/to/labels.csv": labels}), home)

    shop = user / "labelled/shop"
    expected = {f"images/{name}": data for name, data in files(images).items()}
    expected["labels.csv"] = labels.read_bytes()
    assert files(shop) == expected
    items = yaml.safe_load((user / "data/raw/items.json").read_text())
    assert len(items) == 36 and {tuple(item["tags"]) for item in items} >= {("red", "dress")}
    status = shell(user, "git status --porcelain", home)
    assert "labelled" not in status, "the user's data shows up as untracked in git"
    assert UP_TO_DATE in shell(user, "dvc status", home)

    shell(user, "dvc checkout", home)
    assert files(shop) == expected
    (first,) = shell(user, "dvc exp ls --name-only", home).split()
    shell(user, "dvc exp run -n second -S train.lr=0.002", home)
    shell(user, f"dvc exp apply {first}", home)
    assert files(shop) == expected
    assert yaml.safe_load((user / "params.yaml").read_text())["train"]["lr"] != 0.002
    assert UP_TO_DATE in shell(user, "dvc status", home)

    shell(user, "git add -A && git commit -q -m 'labelled results'", home)
    block = readme_block("## Sharing through a DVC remote")
    remote = {"/mnt/team/dvc-cache": tmp_path / "remote", "<url>": user}
    output = shell(user, substitute(block, remote), home)
    assert UP_TO_DATE in output
    assert files(home / "teammate/labelled/shop") == expected
    assert files(home / "teammate/data/raw") == files(user / "data/raw")


def test_the_move_named_for_data_in_the_old_place_makes_it_tracked(tmp_path):
    """Data a user put in data/labelled/ (where DVC cannot see its .dvc file): download's error
    names a command; run as given, DVC tracks the data and `dvc checkout` keeps it."""
    home, repo = tmp_path / "home", tmp_path / "repo"
    home.mkdir()
    copy_repo(repo)
    for name in ("dvc.yaml", "dvc.lock"):  # no pipeline outputs for `dvc checkout` to miss
        (repo / name).unlink()
    shell(repo, "git init -q && git add -A && git commit -q -m project", home)
    user_images(repo / "labelled/shop")
    expected = files(repo / "labelled/shop")
    shell(repo, "dvc add -q labelled/shop && mkdir -p data/labelled", home)
    shell(repo, "mv labelled/shop labelled/shop.dvc data/labelled/", home)  # the old place
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["download"]["source"] = "labelled"
    params["download"]["labelled"]["csv"] = "data/labelled/shop/labels.csv"
    (repo / "params.yaml").write_text(yaml.safe_dump(params))

    failed = subprocess.run(
        [sys.executable, "-m", "stages.download"],
        cwd=repo,
        env=environment(home),
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 1 and failed.stderr.count("\n") == 1, failed.stderr
    (command,) = re.findall(r"move it with `([^`]+)`", failed.stderr)
    shell(repo, command, home)
    assert files(repo / "labelled/shop") == expected
    assert "labelled/shop.dvc" in shell(repo, "dvc stage list --all", home)  # DVC sees it
    shell(repo, "dvc checkout", home)
    assert files(repo / "labelled/shop") == expected
    untracked = shell(repo, "git status --porcelain --untracked-files=all", home)
    assert "?? labelled/shop.dvc" in untracked and "labelled/shop/" not in untracked
