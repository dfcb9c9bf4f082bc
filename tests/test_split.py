"""Stage `split`: seeded, complete, disjoint, stratified."""

import numpy as np
import pytest
from pydantic import ValidationError

from fashion_tagger.errors import PipelineError
from fashion_tagger.labels.split import SplitParams, split_items, tag_counts
from fashion_tagger.labels.tables import read_label_matrix as read_labels


def random_labels(items=300, tags=12, seed=0):
    rng = np.random.default_rng(seed)
    frequencies = np.linspace(0.05, 0.6, tags)
    matrix = (rng.random((items, tags)) < frequencies).astype(np.int8)
    ids = [f"i{index:04d}" for index in range(items)]
    return ids, matrix


FRACTIONS = np.array([0.7, 0.15, 0.15])


def test_every_item_in_exactly_one_split():
    ids, matrix = random_labels()
    splits = split_items(ids, matrix, FRACTIONS, seed=1)
    together = splits["train"] + splits["val"] + splits["test"]
    assert sorted(together) == ids
    assert len(set(together)) == len(ids)


def test_split_sizes_follow_the_fractions():
    ids, matrix = random_labels()
    splits = split_items(ids, matrix, FRACTIONS, seed=1)
    sizes = np.array([len(splits[name]) for name in ("train", "val", "test")])
    assert np.all(np.abs(sizes - FRACTIONS * len(ids)) <= 3)


def test_same_seed_same_split_other_seed_other_split():
    ids, matrix = random_labels()
    assert split_items(ids, matrix, FRACTIONS, 1) == split_items(ids, matrix, FRACTIONS, 1)
    assert split_items(ids, matrix, FRACTIONS, 1) != split_items(ids, matrix, FRACTIONS, 2)


def test_every_tag_with_enough_items_is_in_every_split_in_proportion():
    ids, matrix = random_labels()
    splits = split_items(ids, matrix, FRACTIONS, seed=3)
    counts = tag_counts(ids, matrix, [f"t{i}" for i in range(matrix.shape[1])], splits)
    assert (counts[["train", "val", "test"]] > 0).all().all()
    share = counts["val"] / counts["total"]
    assert np.all(np.abs(share - 0.15) < 0.06)


def test_items_without_tags_are_split_too():
    ids, matrix = random_labels(items=60)
    matrix[:20] = 0
    splits = split_items(ids, matrix, FRACTIONS, seed=0)
    assert sum(len(part) for part in splits.values()) == 60


def test_fractions_must_sum_to_one():
    with pytest.raises(ValidationError, match="must sum to 1, got 0.9"):
        SplitParams(seed=0, train=0.6, val=0.15, test=0.15)


def test_read_labels_round_trip_and_missing_file(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("id,red,sleeve\n007,1,0\n008,0,1\n")
    ids, matrix, classes = read_labels(path)
    assert ids == ["007", "008"] and classes == ["red", "sleeve"]
    assert matrix.tolist() == [[1, 0], [0, 1]]
    with pytest.raises(PipelineError, match="not found"):
        read_labels(tmp_path / "missing.csv")
