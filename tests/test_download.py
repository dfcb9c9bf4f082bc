"""Stage `download`: the dispatcher writes the normalised layout and nothing stale."""

import stat
from pathlib import Path

import pytest
import yaml

from fashion_tagger.data.items import load_items
from fashion_tagger.errors import PipelineError
from stages import download

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["download"]["sample"]["items"] = 4
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_sample_run_writes_items_and_only_its_images(workdir):
    stale = workdir / "data/raw/images/old-source.jpg"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by another source")
    download.main()
    items = load_items(workdir / "data/raw/items.json")
    assert [item["id"] for item in items] == ["s00001", "s00002", "s00003", "s00004"]
    images = sorted(path.name for path in (workdir / "data/raw/images").iterdir())
    assert images == [f"{item['id']}.jpg" for item in items]
    mode = stat.S_IMODE((workdir / "data/raw/items.json").stat().st_mode)
    assert mode & stat.S_IRGRP, "final files are readable by others, not owner-only"


def test_unknown_source_is_a_one_line_error_naming_the_param(workdir):
    text = (workdir / "params.yaml").read_text().replace("source: sample", "source: zalando")
    (workdir / "params.yaml").write_text(text)
    with pytest.raises(PipelineError, match="param download.source"):
        download.main()


def test_a_source_that_fails_its_checks_leaves_the_last_images(workdir):
    """The images folder is emptied only after the source has been read and checked."""
    previous = workdir / "data/raw/images/s00001.jpg"
    previous.parent.mkdir(parents=True)
    previous.write_bytes(b"last good run")
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["download"]["source"] = "feidegger"
    feidegger = params["download"]["feidegger"]
    feidegger.update(json_url="http://127.0.0.1:9/release.json", retries=0, cache_dir="cache")
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(PipelineError, match="release.json: download failed: connection failed"):
        download.main()
    assert previous.read_bytes() == b"last good run"

    params["download"]["source"] = "labelled"
    params["download"]["labelled"]["csv"] = "labelled/labels.csv"
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    csv_path = workdir / "labelled/labels.csv"
    csv_path.parent.mkdir(parents=True)
    csv_path.write_text("image,tags\na.jpg,red,long,dress\n")
    with pytest.raises(PipelineError, match="labels.csv: line 2: 4 fields"):
        download.main()
    assert previous.read_bytes() == b"last good run"


def test_data_in_the_old_place_is_an_error_naming_the_move(workdir):
    """data/labelled/ is git-ignored, so DVC cannot see a .dvc file there: name the move."""
    old = workdir / "data/labelled"
    (old / "shop").mkdir(parents=True)
    (old / "shop.dvc").write_text("outs:\n- path: shop\n")
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["download"]["source"] = "labelled"
    params["download"]["labelled"]["csv"] = "data/labelled/shop/labels.csv"
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(PipelineError) as error:
        download.main()
    message = str(error.value)
    assert "\n" not in message
    assert "`mv data/labelled/shop data/labelled/shop.dvc labelled/`" in message
    assert (old / "shop.dvc").is_file() and (old / "shop").is_dir()
