"""The embedded sample source: FEIDEGGER's format, determinism, and images and German text that
show the hidden attributes."""

import hashlib
import io
import json
import re

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from fashion_tagger.data.items import validate_items
from fashion_tagger.data.sources import (
    sample,
    sample_attributes,
    sample_painting,
    sample_text,
    sample_truth,
)

WIDTH, HEIGHT = 128, 192


def folder_digest(folder) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def plain_text(text: str) -> str:
    """Lower case without umlauts, so 'Weiß', 'weiss' and 'WEISS' compare equal."""
    return text.lower().translate(sample_text.UMLAUT_FREE)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A 20-item sample written by `fetch`, with the items it returned."""
    raw_dir = tmp_path_factory.mktemp("raw")
    items = sample.fetch(sample.Params(items=20, seed=3, width=WIDTH, height=HEIGHT), raw_dir)
    return raw_dir, items


@pytest.fixture(scope="module")
def many_items():
    """120 items made in memory, attributes included; images as decoded from their JPEG."""
    made = [sample.make_item(11, index, WIDTH, HEIGHT) for index in range(120)]
    for item in made:
        item.image = Image.open(io.BytesIO(sample.jpeg_bytes(item.image))).convert("RGB")
    return made


def pixel(item: sample.SampleItem, point) -> np.ndarray:
    x, y = item.placement.px(point)
    return np.array(item.image.getpixel((int(x), int(y))), dtype=int)


def main_rgb(item: sample.SampleItem) -> np.ndarray:
    return np.array(sample_attributes.COLOURS[item.attributes.colour].rgb, dtype=int)


def test_feidegger_json_has_the_real_format(generated):
    raw_dir, _ = generated
    records = json.loads((raw_dir / "feidegger.json").read_text(encoding="utf-8"))
    assert len(records) == 20
    for record in records:
        assert set(record) == {"url", "descriptions", "split"}
        assert re.fullmatch(r"https://sample\.invalid/images/s\d{5}\.jpg", record["url"])
        assert record["split"] in [str(number) for number in range(10)]
        assert len(record["descriptions"]) == 5
        assert all(isinstance(text, str) and text.strip() for text in record["descriptions"])


def test_items_match_records_and_images_exist(generated):
    raw_dir, items = generated
    records = json.loads((raw_dir / "feidegger.json").read_text(encoding="utf-8"))
    validate_items(items, "items")
    assert [item["id"] for item in items] == [f"s{number:05d}" for number in range(1, 21)]
    for item, record in zip(items, records, strict=True):
        assert item["image"] == f"images/{item['id']}.jpg"
        assert item["url"] == record["url"]
        assert item["descriptions"] == record["descriptions"]
        assert item["fold"] == record["split"]
        with Image.open(raw_dir / item["image"]) as image:
            assert image.format == "JPEG"
            assert image.size == (WIDTH, HEIGHT)
    assert not list(raw_dir.rglob("*.tmp")), "temporary files left behind"


def test_descriptions_are_german_and_short(generated):
    _, items = generated
    texts = [text for item in items for text in item["descriptions"]]
    german = re.compile(r"\b(kleid|es|das|der|die|ist|mit|hat|ein|eine)\b")
    assert all(german.search(plain_text(text)) for text in texts)
    sentences = [re.split(r"(?<=[.!?])\s+", text.strip()) for text in texts]
    assert all(1 <= len(parts) <= 3 for parts in sentences)
    for item in items:  # five different people say different things
        assert len(set(item["descriptions"])) >= 3


def test_same_params_give_identical_files(tmp_path):
    params = sample.Params(items=6, seed=5, width=WIDTH, height=HEIGHT)
    first = sample.fetch(params, tmp_path / "first")
    second = sample.fetch(params, tmp_path / "second")
    assert first == second
    assert folder_digest(tmp_path / "first") == folder_digest(tmp_path / "second")


# sha256 over the 21 files (feidegger.json and 20 JPEGs) that seed 7 gives: a refactor must keep
# every byte (with the pinned Pillow, whose JPEG encoder writes the images). Recorded again when
# the straight silhouette's words changed (`locker` reads as wide in real German text).
SEED_7_DIGEST = "b50a1da9aeead70d10ec83e4fecdafccc13f07a430ead33a2ed61dc036220e5b"


def test_the_default_seed_still_gives_the_same_bytes(tmp_path):
    sample.fetch(sample.Params(items=20, seed=7), tmp_path)
    digest = hashlib.sha256()
    for name, file_digest in folder_digest(tmp_path).items():
        if name == "true_tags.json":  # written from the drawn attributes, not the generator's
            continue
        digest.update(name.encode() + b"\0" + bytes.fromhex(file_digest))
    assert digest.hexdigest() == SEED_7_DIGEST


def test_different_seeds_differ(tmp_path):
    one = sample.fetch(sample.Params(items=6, seed=1), tmp_path / "one")
    two = sample.fetch(sample.Params(items=6, seed=2), tmp_path / "two")
    assert [item["descriptions"] for item in one] != [item["descriptions"] for item in two]
    digests_one, digests_two = folder_digest(tmp_path / "one"), folder_digest(tmp_path / "two")
    assert all(digests_one[name] != digests_two[name] for name in digests_one)


def test_an_item_does_not_depend_on_the_number_of_items(tmp_path):
    few = sample.fetch(sample.Params(items=3, seed=4), tmp_path / "few")
    more = sample.fetch(sample.Params(items=5, seed=4), tmp_path / "more")
    assert few == more[:3]


def test_other_sizes_stay_portrait(tmp_path):
    items = sample.fetch(sample.Params(items=2, seed=1, width=160, height=320), tmp_path)
    with Image.open(tmp_path / items[0]["image"]) as image:
        assert image.size == (160, 320)


@pytest.mark.parametrize(
    "bad",
    [{"items": 0}, {"width": 100}, {"height": 150}, {"width": 400, "height": 300}, {"seed": -1}],
)
def test_bad_params_are_rejected(bad):
    with pytest.raises(ValidationError):
        sample.Params(**{"items": 10, "seed": 1, **bad})


def test_plain_bodice_shows_the_main_colour(many_items):
    plain = [item for item in many_items if item.attributes.pattern == "plain"]
    assert len(plain) >= 20
    for item in plain:
        difference = np.abs(pixel(item, sample_painting.BODICE_PROBE) - main_rgb(item)).max()
        assert difference <= 30, (item.item_id, item.attributes.colour)


def test_sleeves_show_their_length(many_items):
    white = 235
    counts = {"sleeveless": 0, "long": 0}
    for item in many_items:
        sleeves, plain = item.attributes.sleeves, item.attributes.pattern == "plain"
        upper_arm, forearm = sample_painting.sleeve_probe(0.3), sample_painting.sleeve_probe(0.45)
        if sleeves == "sleeveless":
            counts["sleeveless"] += 1
            assert pixel(item, upper_arm).min() >= white, item.item_id
            assert pixel(item, forearm).min() >= white, item.item_id
        elif sleeves in ("short", "three_quarter"):
            assert pixel(item, forearm).min() >= white, item.item_id
        elif plain:
            counts["long"] += 1
            for point in (upper_arm, forearm):
                assert np.abs(pixel(item, point) - main_rgb(item)).max() <= 30, item.item_id
    assert counts["sleeveless"] >= 10 and counts["long"] >= 5


def test_pattern_shows_in_the_image(many_items):
    """Plain dresses are one colour over the bodice; patterned ones mix two."""
    for item in many_items:
        if item.attributes.pattern == "stripes":
            column = [pixel(item, (0.56, 0.30 + step * 0.01)) for step in range(20)]
            spread = np.ptp(np.array(column), axis=0).max()
            assert spread > 60, item.item_id
        if item.attributes.pattern == "plain" and not item.attributes.details:
            column = [pixel(item, (0.56, 0.30 + step * 0.01)) for step in range(20)]
            assert np.ptp(np.array(column), axis=0).max() < 40, item.item_id


def test_a_description_states_true_facts_and_names_its_colour(many_items):
    """describe() reports what each text says: true facts of the dress only, the colour
    among them exactly where a colour word is in the text (spelling noise aside)."""
    agree = total = 0
    for item in many_items:
        descriptions = sample.describe_item(11, int(item.item_id[1:]) - 1, item.attributes)
        assert [d.text for d in descriptions] == item.descriptions  # what make_item wrote
        words = sample_attributes.COLOURS[item.attributes.colour]
        names = [plain_text(word) for word in words.adjectives + words.nouns]
        for description in descriptions:
            assert description.stated <= sample_truth.facts(item.attributes)
            stated = ("colour", item.attributes.colour) in description.stated
            named = any(name in plain_text(description.text) for name in names)
            agree += stated == named
            total += 1
    assert agree / total > 0.9


def test_colour_is_named_in_most_descriptions(many_items):
    named = total = 0
    for item in many_items:
        words = sample_attributes.COLOURS[item.attributes.colour]
        synonyms = [plain_text(word) for word in words.adjectives + words.nouns]
        for text in item.descriptions:
            total += 1
            named += any(word in plain_text(text) for word in synonyms)
    assert named / total > 0.75


def test_sleeve_words_never_contradict_the_image(many_items):
    for item in many_items:
        text = " ".join(plain_text(description) for description in item.descriptions)
        if item.attributes.sleeves == "sleeveless":
            assert "lange aermel" not in text and "kurze aermel" not in text
        if item.attributes.sleeves == "long":
            assert "aermellos" not in text and "kurzaermel" not in text


def test_adjectives_before_kleid_are_inflected(many_items):
    """'ein rotes Kleid', 'das rote Kleid', 'ein rosa Kleid' - never 'ein rot Kleid'."""
    checked = 0
    for item in many_items:
        for text in item.descriptions:
            for article, adjective in re.findall(r"\b([Ee]in|[Dd]as) ([a-zäöüß]+) Kleid", text):
                checked += 1
                ending = "es" if article.lower() == "ein" else "e"
                invariable = adjective in sample_text.INVARIABLE_ADJECTIVES
                assert adjective.endswith(ending) or invariable, text
    assert checked > 50


def test_inflect():
    assert sample_text.inflect("rot", "es") == "rotes"
    assert sample_text.inflect("weit geschnitten", "e") == "weit geschnittene"
    assert sample_text.inflect("rosa", "en") == "rosa"


def test_every_value_can_be_said_on_its_own():
    """Each attribute value has a clause (the fallback) whose first word may be lower-cased."""
    for kind, values in sample_text.PHRASES.items():
        for value, forms in values.items():
            assert forms.get("clause"), (kind, value)
            for clause in forms["clause"]:
                assert clause.split()[0] in sample_text.CLAUSE_OPENERS, clause
                assert not clause.endswith("."), clause


def test_vocabulary_is_rich(many_items):
    """Many distinct words in regular use: the tag vocabulary needs 25 nouns and 25 adjectives."""
    counts: dict[str, int] = {}
    for item in many_items:
        for text in item.descriptions:
            for word in re.findall(r"[A-Za-zÄÖÜäöüß-]{3,}", text):
                counts[word.lower()] = counts.get(word.lower(), 0) + 1
    regular = [word for word, count in counts.items() if count >= 10]
    assert len(regular) > 120


def test_true_tags_follow_the_drawn_attributes(generated):
    """true_tags.json names, per item, the tags whose claim its drawn attributes make true:
    the colour's tags (a dark blue dress is "dark blue" and "blue"), and a detail's colour
    only for its own colour ("white belt" needs a white belt)."""
    raw_dir, items = generated
    truth = json.loads((raw_dir / "true_tags.json").read_text())
    assert set(truth["items"]) == {item["id"] for item in items}
    assert {"blue", "dark blue", "white belt", "sleeveless"} <= set(truth["tags"])
    for index, item in enumerate(items):
        drawn = sample.make_item(3, index, WIDTH, HEIGHT).attributes
        true = set(truth["items"][item["id"]])
        assert ("dark blue" in true) == (drawn.colour == "dunkelblau")
        assert ("blue" in true) == (drawn.colour in ("blau", "dunkelblau", "hellblau"))
        assert ("sleeveless" in true) == (drawn.sleeves == "sleeveless")
        assert ("white belt" in true) == (drawn.trims.get("belt") == "weiß")
        assert ("belt" in true) == ("belt" in drawn.details)
