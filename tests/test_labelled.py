"""The `labelled` source: a folder of images plus a CSV of image paths and tags."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from PIL import Image

from fashion_tagger.data.items import validate_items
from fashion_tagger.data.sources import labelled
from fashion_tagger.data.sources.labelled import Params
from fashion_tagger.errors import PipelineError

REPO = Path(__file__).resolve().parents[1]


def save_image(path: Path, color=(10, 120, 200), size=(48, 64)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format="JPEG")


def write_csv(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_images_relative_to_the_csv_folder(tmp_path: Path):
    save_image(tmp_path / "data" / "a.jpg", (255, 0, 0))
    save_image(tmp_path / "data" / "sub" / "b.jpg", (0, 255, 0))
    csv_path = write_csv(
        tmp_path / "data" / "labels.csv",
        "image,tags",
        'a.jpg,"red dress, long  sleeve"',
        "sub/b.jpg,green red green",
    )
    raw = tmp_path / "raw"

    items = labelled.fetch(Params(csv=str(csv_path), min_side=16), raw)

    assert items == [
        {
            "id": "l00000",
            "image": "images/a.jpg",
            "url": "a.jpg",
            "descriptions": [],
            "tags": ["red", "dress", "long", "sleeve"],
        },
        {
            "id": "l00001",
            "image": "images/sub/b.jpg",
            "url": "sub/b.jpg",
            "descriptions": [],
            "tags": ["green", "red"],
        },
    ]
    validate_items(items, "items.json")
    for item, source in zip(items, ["a.jpg", "sub/b.jpg"], strict=True):
        assert (raw / item["image"]).read_bytes() == (tmp_path / "data" / source).read_bytes()
    assert not [path for path in raw.rglob(".*")], "temporary files left behind"


def test_planet_style_csv_with_images_dir_and_suffix(tmp_path: Path):
    save_image(tmp_path / "train-jpg" / "train_0.jpg")
    csv_path = write_csv(tmp_path / "labels.csv", "image_name,tags", "train_0,haze primary")
    params = Params(
        csv=str(csv_path),
        images_dir=str(tmp_path / "train-jpg"),
        image_column="image_name",
        image_suffix=".jpg",
        min_side=16,
    )
    items = labelled.fetch(params, tmp_path / "raw")
    assert [(item["image"], item["tags"]) for item in items] == [
        ("images/train_0.jpg", ["haze", "primary"])
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("missing.jpg,red", r"line 3: missing.jpg: image file not found"),
        ("notes.jpg,red", r"line 3: notes.jpg: not a decodable image"),
        ("small.jpg,red", r"line 3: small.jpg: too small"),
        ('good.jpg," , "', r"line 3: good.jpg: no tags"),
        ("good.jpg,red,long,dress", r"line 3: 4 fields, the header has 2; quote a tag list"),
        ("good.jpg", r"line 3: 1 fields, the header has 2"),
        ("./good.jpg,blue", r"line 3: \./good.jpg: the same image is already on line 2"),
        (",red", r"line 3: empty image path"),
        ("../outside.jpg,red", r"line 3: \.\./outside.jpg: path leaves the images folder"),
        ("sub/../../outside.jpg,red", r"line 3: .*path leaves the images folder"),
        ("{outside},red", r"line 3: .*path leaves the images folder"),
    ],
)
def test_bad_row_is_one_line_error_naming_it(tmp_path: Path, row: str, message: str):
    folder = tmp_path / "set"
    save_image(folder / "good.jpg")
    save_image(folder / "small.jpg", size=(8, 8))
    (folder / "notes.jpg").write_text("not an image")
    save_image(tmp_path / "outside.jpg")
    row = row.format(outside=tmp_path / "outside.jpg")
    csv_path = write_csv(folder / "labels.csv", "image,tags", "good.jpg,red", row)

    with pytest.raises(PipelineError, match=message) as error:
        labelled.fetch(Params(csv=str(csv_path), min_side=16), tmp_path / "raw")
    assert str(csv_path) in str(error.value)
    assert "\n" not in str(error.value)


def test_csv_problems(tmp_path: Path):
    with pytest.raises(PipelineError, match="labels.csv: file not found"):
        labelled.fetch(Params(csv=str(tmp_path / "labels.csv")), tmp_path / "raw")
    no_tags = write_csv(tmp_path / "a.csv", "image,labels", "x.jpg,red")
    with pytest.raises(PipelineError, match="a.csv: missing column 'tags'"):
        labelled.fetch(Params(csv=str(no_tags)), tmp_path / "raw")
    empty = write_csv(tmp_path / "b.csv", "image,tags")
    with pytest.raises(PipelineError, match="b.csv: no rows"):
        labelled.fetch(Params(csv=str(empty)), tmp_path / "raw")
    extra = write_csv(tmp_path / "d.csv", "image,tags,notes", "x.jpg,red,nice")
    with pytest.raises(PipelineError, match=r"d.csv: unexpected column\(s\) \['notes'\]"):
        labelled.fetch(Params(csv=str(extra)), tmp_path / "raw")
    latin1 = tmp_path / "e.csv"
    latin1.write_bytes("image,tags\nx.jpg,grün\n".encode("latin-1"))
    with pytest.raises(PipelineError, match=r"e.csv: not UTF-8 text \(byte 0xfc .*save the CSV"):
        labelled.fetch(Params(csv=str(latin1)), tmp_path / "raw")
    listed = write_csv(tmp_path / "c.csv", "image,tags", "x.jpg,red")
    missing_dir = Params(csv=str(listed), images_dir=str(tmp_path / "nowhere"))
    with pytest.raises(PipelineError, match="images_dir: .*nowhere: folder not found"):
        labelled.fetch(missing_dir, tmp_path / "raw")


def test_parse_tags():
    assert labelled.parse_tags("a, b  c,,a\td") == ["a", "b", "c", "d"]
    assert labelled.parse_tags("Red RED red Straße") == ["red", "strasse"]
    assert labelled.parse_tags(" , ") == []


def test_params_yaml_section_is_valid():
    section = yaml.safe_load((REPO / "params.yaml").read_text())["download"]["labelled"]
    assert Params.model_validate(section).tags_column == "tags"


def test_a_bad_csv_leaves_the_last_images_in_place(tmp_path: Path):
    save_image(tmp_path / "set" / "a.jpg")
    previous = tmp_path / "raw" / "images" / "a.jpg"
    save_image(previous, (1, 2, 3))
    csv_path = write_csv(tmp_path / "set" / "labels.csv", "image,tags", "a.jpg,red,long")
    with pytest.raises(PipelineError, match="line 2: 3 fields"):
        labelled.fetch(Params(csv=str(csv_path), min_side=16), tmp_path / "raw")
    assert previous.is_file()


def test_an_image_failing_part_way_leaves_the_last_images_whole(tmp_path: Path):
    save_image(tmp_path / "set" / "a.jpg")
    (tmp_path / "set" / "b.jpg").write_text("not an image")
    images = tmp_path / "raw" / "images"
    for name in ("a.jpg", "old.jpg"):
        save_image(images / name, (1, 2, 3))
    before = {path.name: path.read_bytes() for path in images.iterdir()}
    csv_path = write_csv(tmp_path / "set" / "labels.csv", "image,tags", "a.jpg,red", "b.jpg,blue")
    with pytest.raises(PipelineError, match="line 3: b.jpg: not a decodable image"):
        labelled.fetch(Params(csv=str(csv_path), min_side=16), tmp_path / "raw")
    assert {path.name: path.read_bytes() for path in images.iterdir()} == before
    assert sorted(path.name for path in (tmp_path / "raw").iterdir()) == ["images"]
