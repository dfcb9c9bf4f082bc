"""Tests of benchmarks/bench_real_text.py: scoring on a known case, a 3-sentence run through
the pipeline's translate and tags code, and the set's validation."""

import json

import pytest

from benchmarks import bench_real_text as bench
from fashion_tagger.errors import PipelineError

# Three sentences of benchmarks/data/real_text.json, with their annotations.
FIXTURE = [
    {
        "text": "Kate trägt ein rotes Mantelkleid der britischen Designerin Catherine Walker.",
        "source": "https://abendzeitung-muenchen.de/promis/herzogin-kate-recycelt-fuenf-jahre-altes-mantelkleid-art-346480,PRINT",
        "stated": ["red"],
        "negated": [],
    },
    {
        "text": "Das Etuikleid verfügt über einen kragenlosen, meist waagerechten Ausschnitt.",
        "source": "https://de.wiki.li/Etuikleid",
        "stated": ["boat neckline"],
        "negated": ["collar"],
    },
    {
        "text": "Lange Ärmel.",
        "source": "https://www.antique-gown.com/de/bis-1890/empfangskleid-amerika-ca-1866.html",
        "stated": ["long sleeve"],
        "negated": [],
    },
]
GROUPS = {
    "colour": ["red", "blue", "dark blue"],
    "neckline": ["boat neckline"],
    "sleeves": ["long sleeve"],
    "length": ["long", "floor-length"],
    "detail": ["collar"],
}
BROADER = {"dark blue": "blue", "floor-length": "long"}


def write_set(folder, sentences, groups=GROUPS):
    path = folder / "set.json"
    data = {"groups": groups, "broader": BROADER, "sentences": sentences}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    terms = folder / "terms.tsv"
    terms.write_text("term\ttag\nnavy\tdark blue\n", encoding="utf-8")
    return path, terms


def test_score_on_a_known_case():
    vocabulary = bench.Vocabulary(
        {tag: group for group, tags in GROUPS.items() for tag in tags}, BROADER, {}
    )
    sentences = [
        {"stated": ["dark blue", "floor-length"], "negated": ["red"]},
        {"stated": ["red"], "negated": []},
        {"stated": [], "negated": []},
    ]
    # blue is right (broader than dark blue) but does not find it; red is denied; long is wrong.
    predicted = [{"blue", "floor-length", "red"}, set(), {"long"}]
    scores = bench.score(predicted, sentences, vocabulary)
    overall = scores[bench.OVERALL]
    assert (overall["predicted"], overall["right"], overall["stated"], overall["found"]) == (
        4,
        2,
        3,
        1,
    )
    assert overall["precision"] == 0.5 and overall["recall"] == pytest.approx(0.3333)
    assert overall["negated_predicted"] == 1
    assert scores["colour"]["precision"] == 0.5 and scores["colour"]["recall"] == 0.0
    assert scores["length"]["precision"] == 0.5 and scores["length"]["recall"] == 1.0
    assert scores["neckline"]["precision"] is None and scores["neckline"]["recall"] is None


def test_run_translates_and_tags_with_the_pipeline(tmp_path):
    set_path, terms = write_set(tmp_path, FIXTURE)
    results = bench.run(set_path, terms, device="cpu", worst=3)
    assert results["set"] == {"sentences": 3, "sources": 3, "stated": 3, "negated": 1}
    assert results["translate_backend"] == "glossary" and results["tags_method"] == "phrases"
    assert 0.0 <= results["untranslated_share"] < 1.0
    rows = {row["text"]: row for row in results["worst"]}
    assert "red" in rows[FIXTURE[0]["text"]]["tags"]
    assert "red" in rows[FIXTURE[0]["text"]]["english"]
    assert rows[FIXTURE[2]["text"]]["tags"] == ["long sleeve"]
    overall = results["groups"][bench.OVERALL]
    groups = [row for group, row in results["groups"].items() if group != bench.OVERALL]
    assert overall["predicted"] == sum(row["predicted"] for row in groups)
    assert overall["stated"] == 3 and overall["found"] >= 2


def test_the_committed_set_is_valid():
    vocabulary, sentences = bench.load_set()
    assert len(sentences) >= 150
    assert len({sentence["text"] for sentence in sentences}) == len(sentences)
    assert vocabulary.claim("navy") == "dark blue" and vocabulary.claim("dress") is None
    # a hyphen and a space spell the same term
    assert vocabulary.claim("midnight-blue") == vocabulary.claim("midnight blue") == "dark blue"
    assert vocabulary.claim("knee-length") == "knee-length"


def test_an_unknown_tag_names_the_sentence(tmp_path):
    bad = [*FIXTURE[:2], {**FIXTURE[2], "stated": ["long sleeves"]}]
    set_path, terms = write_set(tmp_path, bad)
    with pytest.raises(PipelineError, match=r"set\.json: sentence 3: .*'long sleeves'"):
        bench.load_set(set_path, terms)


def test_pages_split_into_fixed_halves_and_each_half_is_scored(tmp_path):
    _, sentences = bench.load_set()
    halves = {bench.split_of(sentence["source"]) for sentence in sentences}
    assert halves == set(bench.SPLITS)
    # the same URL always lands in the same half, whatever else is in the set
    assert bench.split_of(FIXTURE[0]["source"]) == bench.split_of(FIXTURE[0]["source"])
    set_path, terms = write_set(tmp_path, FIXTURE)
    results = bench.run(set_path, terms, device="cpu", worst=3)
    assert sum(row["sentences"] for row in results["splits"].values()) == 3
    assert sum(row["stated"] for row in results["splits"].values()) == 3
    one = bench.split_of(FIXTURE[2]["source"])
    half = bench.run(set_path, terms, device="cpu", worst=3, split=one)
    expected = sum(bench.split_of(sentence["source"]) == one for sentence in FIXTURE)
    assert half["set"]["sentences"] == expected and half["splits"] == {}
