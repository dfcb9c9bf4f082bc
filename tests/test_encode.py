"""Stage `encode`: vocabulary to classes, tags to a 0/1 label matrix."""

import pytest

from fashion_tagger.errors import PipelineError
from fashion_tagger.labels.encode import encode_labels, vocabulary_classes


def test_classes_are_all_kinds_sorted_and_unique():
    vocabulary = {"nouns": ["sleeve", "dress"], "adjectives": ["red", "dress"]}
    assert vocabulary_classes(vocabulary) == ["dress", "red", "sleeve"]


def test_empty_vocabulary_is_an_error():
    with pytest.raises(PipelineError, match="vocabulary is empty"):
        vocabulary_classes({"nouns": [], "adjectives": []})


def test_encode_labels_marks_each_items_tags():
    items = [{"id": "a", "tags": ["red", "sleeve"]}, {"id": "b", "tags": []}]
    labels = encode_labels(items, ["dress", "red", "sleeve"], "tags.json")
    assert list(labels.columns) == ["id", "dress", "red", "sleeve"]
    assert labels.loc[0, ["dress", "red", "sleeve"]].tolist() == [0, 1, 1]
    assert labels.loc[1, ["dress", "red", "sleeve"]].tolist() == [0, 0, 0]
    assert labels["id"].tolist() == ["a", "b"]


def test_a_tag_outside_the_vocabulary_names_the_item():
    with pytest.raises(
        PipelineError, match="item 'b' has tags outside the vocabulary: \\['blue'\\]"
    ):
        encode_labels(
            [{"id": "a", "tags": []}, {"id": "b", "tags": ["blue"]}], ["red"], "tags.json"
        )
