"""The similar stage and `fashion-tagger similar`: cosine neighbours, the picture, search."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fashion_tagger import cli
from fashion_tagger.data.images import load_image
from fashion_tagger.model.network import Tagger, save_model
from fashion_tagger.serving.similar import nearest, unit_rows
from stages import similar
from tests.train_fixtures import (
    CLASSES,
    HEIGHT,
    TINY_BACKBONE,
    TINY_FEATURES,
    WIDTH,
    write_inputs,
)


def test_nearest_by_cosine_similarity_without_the_query_itself():
    pool = unit_rows(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]]))
    order, scores = nearest(pool[:1], pool, k=2, exclude=[0])
    assert order.tolist() == [[1, 2]]
    assert scores[0, 0] == pytest.approx(0.9 / np.hypot(0.9, 0.1)) and scores[0, 1] == 0
    order, _ = nearest(pool[:1], pool, k=9)
    assert order.tolist() == [[0, 1, 2, 3]]  # k is capped at the pool size


@pytest.fixture(scope="module")
def stage_run(tmp_path_factory):
    """A tiny repo with an (untrained) model, after the similar stage ran; returns its root."""
    root = tmp_path_factory.mktemp("similar")
    write_inputs(root)
    torch.manual_seed(0)
    save_model(
        root / "data/train/model.pt", Tagger(TINY_BACKBONE, len(CLASSES)), CLASSES, HEIGHT, WIDTH
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        similar.main()
    return root


def test_stage_writes_unit_embeddings_and_the_picture(stage_run):
    embeddings = np.load(stage_run / "data/similar/embeddings.npy")
    ids = json.loads((stage_run / "data/similar/ids.json").read_text())
    assert embeddings.shape == (48, TINY_FEATURES) and len(ids) == 48
    assert np.linalg.norm(embeddings, axis=1) == pytest.approx(np.ones(48), abs=1e-5)
    with Image.open(stage_run / "metrics/similar.png") as picture:
        assert picture.format == "PNG" and picture.width > picture.height  # 3 rows of 5


def test_search_finds_the_item_a_query_copies(stage_run, monkeypatch, capsys):
    monkeypatch.chdir(stage_run)
    queries = stage_run / "queries"
    queries.mkdir()
    for item_id in ("t005", "t030"):
        shutil.copy(stage_run / f"data/raw/images/{item_id}.jpg", queries / f"{item_id}.jpeg")
    cli.main(["similar", str(queries), "--k", "3", "--json"])
    results = json.loads(capsys.readouterr().out)
    assert [r["image"] for r in results] == [str(queries / "t005.jpeg"), str(queries / "t030.jpeg")]
    for result in results:
        hits = result["similar"]
        assert len(hits) == 3 and hits[0]["similarity"] == pytest.approx(1, abs=1e-4)
        # The fixture draws some items alike: the best hit is the item or one that looks the same.
        query_pixels = load_image(Path(result["image"]), HEIGHT, WIDTH)
        best = stage_run / hits[0]["image"]
        assert np.array_equal(load_image(best, HEIGHT, WIDTH), query_pixels)
        assert [h["similarity"] for h in hits] == sorted(
            (h["similarity"] for h in hits), reverse=True
        )
    cli.main(["similar", str(queries / "t005.jpeg"), "--k", "2"])
    assert capsys.readouterr().out.startswith(f"{queries / 't005.jpeg'}: t0")


def test_search_without_embeddings_says_what_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        cli.main(["similar", "some.jpg"])
    assert "dvc repro similar" in capsys.readouterr().err
