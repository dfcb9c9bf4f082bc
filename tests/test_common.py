"""The shared helpers: params validation, atomic writes, JSON errors, the items schema."""

import json

import pytest

from fashion_tagger.data.items import load_items, validate_items, write_items
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import atomic_path, read_json, write_json
from fashion_tagger.params import StrictModel, read_params


class Section(StrictModel):
    size: int
    name: str = "x"


def write_params(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_read_params_validates_the_section(tmp_path):
    path = write_params(tmp_path, "demo:\n  size: 3\n")
    assert read_params("demo", Section, path) == Section(size=3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("demo:\n  size: many\n", "param demo.size"),
        ("demo:\n  size: 3\n  sise: 4\n", "param demo.sise"),
        ("other:\n  size: 3\n", "missing section 'demo'"),
    ],
)
def test_read_params_errors_name_the_param(tmp_path, text, message):
    path = write_params(tmp_path, text)
    with pytest.raises(PipelineError, match=message) as error:
        read_params("demo", Section, path)
    assert "\n" not in str(error.value)


def test_atomic_path_leaves_nothing_when_the_block_fails(tmp_path):
    target = tmp_path / "out" / "file.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_atomic_path_keeps_the_old_file_until_the_new_one_is_complete(tmp_path):
    target = tmp_path / "file.json"
    write_json(target, {"version": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("{")
        raise RuntimeError("interrupted")
    assert read_json(target) == {"version": 1}


@pytest.mark.parametrize(
    ("content", "message"), [(None, "not found"), ("", "empty"), ("{", "JSON")]
)
def test_read_json_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "items.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(PipelineError, match=message) as error:
        read_json(path)
    assert str(path) in str(error.value)


def item(item_id, descriptions=("Ein rotes Kleid.",), **extra):
    return {
        "id": item_id,
        "image": f"images/{item_id}.jpg",
        "url": "u",
        "descriptions": list(descriptions),
        **extra,
    }


def test_write_items_sorts_by_id_and_round_trips(tmp_path):
    path = tmp_path / "items.json"
    write_items(path, [item("b"), item("a")])
    assert [entry["id"] for entry in load_items(path)] == ["a", "b"]
    assert json.loads(path.read_text())[0]["descriptions"] == ["Ein rotes Kleid."]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "no items"),
        ([item("a", descriptions=())], "item 'a': no descriptions"),
        ([item("a", descriptions=("  ",))], "item 'a': no descriptions"),
        ([item("a", descriptions=("ok", 3))], "item 'a': description 1 is not a string"),
        ([item("a"), item("a")], "item 'a': duplicate id"),
        ([{"image": "x.jpg", "descriptions": ["x"]}], "item 0: missing or non-string 'id'"),
        ([item("a", tags="red")], "item 'a': 'tags' must be a list"),
    ],
)
def test_validate_items_names_the_bad_item(items, message):
    with pytest.raises(PipelineError, match=message):
        validate_items(items, "items.json")


def test_items_with_given_tags_need_no_descriptions():
    assert validate_items([item("a", descriptions=(), tags=["red"])], "items.json")
