"""Tests of the translate stage and its glossary backend (stages.translate, stages.glossary)."""

import json
from collections import Counter

import pytest

from stages import translate
from stages.common import PipelineError, read_params
from stages.glossary import GlossaryTranslator, Lexicon
from stages.items import load_items
from stages.translate import (
    Coverage,
    TranslateParams,
    coverage_metrics,
    make_translator,
    measure_coverage,
    translate_items,
    untranslated_table,
)


@pytest.fixture(scope="module")
def glossary() -> GlossaryTranslator:
    return GlossaryTranslator.load()


def english(glossary: GlossaryTranslator, text: str) -> str:
    return glossary.translate([text])[0]


def write_lexicon(path, lines: list[str]):
    path.write_text("german\tenglish\tpos\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_lexicon_is_large_and_well_formed(glossary):
    assert glossary.lexicon.size >= 300
    assert glossary.lexicon.find("kleid", frozenset({"noun"})).english == "dress"


def test_bad_lexicon_line_names_file_and_line(tmp_path):
    path = write_lexicon(tmp_path / "lexicon.tsv", ["Kleid\tdress\tnoun", "Rock\tskirt\tnown"])
    with pytest.raises(PipelineError, match=r"lexicon.tsv: line 3: unknown part of speech"):
        Lexicon.load(path)


def test_adjective_endings(glossary):
    assert english(glossary, "blaue blauen blauer blaues blauem") == "blue blue blue blue blue"
    assert english(glossary, "dunklen geraden") == "dark straight"


def test_noun_plurals_and_dative_plurals_with_umlaut(glossary):
    assert english(glossary, "Knöpfe Knöpfen Kleider Röcke Taschen") == (
        "Buttons buttons dresses skirts pockets"
    )
    assert english(glossary, "mit langen Ärmeln") == "with long sleeves"
    assert english(glossary, "mit zwei Trägern") == "with two straps"


def test_number_of_nouns_that_are_the_same_in_both_numbers(glossary):
    assert english(glossary, "Die Ärmel sind kurz.") == "The sleeves are short."
    assert english(glossary, "Der Ärmel ist kurz.") == "The sleeve is short."
    assert english(glossary, "Es hat lange Ärmel und zwei Träger.") == (
        "It has long sleeves and two straps."
    )


def test_umlaut_free_and_lower_case_spellings(glossary):
    assert english(glossary, "aermel Aermel ÄRMEL") == "sleeve sleeve sleeve"
    assert english(glossary, "weiss weiß Reissverschluss") == "white white zipper"


def test_compounds_with_and_without_linking_letters(tmp_path):
    lexicon = Lexicon.load(
        write_lexicon(
            tmp_path / "lexicon.tsv",
            [
                "Spitze\tlace\tmass",
                "Einsatz\tinsert\tnoun",
                "Hochzeit\twedding\tnoun",
                "Gast\tguest|guests\tnoun",
                "Seite\tside\tnoun",
                "Tasche\tpocket\tnoun",
                "Knie\tknee\tnoun",
                "lang\tlong\tadj",
                "lang\t-length\tsuffix",
                "Ärmel\tsleeve\tnoun",
                "los\t+less\tsuffix",
                "dunkel\tdark\tadj",
                "blau\tblue\tadj",
            ],
        )
    )
    glossary = GlossaryTranslator(lexicon)
    assert glossary.translate(["Spitzeneinsatz"]) == ["Lace insert"]  # linking n
    assert glossary.translate(["Hochzeitsgäste"]) == ["Wedding guests"]  # linking s, plural
    assert glossary.translate(["Seitentaschen"]) == ["Side pockets"]
    assert glossary.translate(["knielangen ärmellos dunkelblaues"]) == [
        "knee-length sleeveless dark blue"
    ]


def test_lexicon_compounds_and_hyphenated_words(glossary):
    assert english(glossary, "Wasserfallausschnitt Knopfleiste") == ("Cowl neckline button placket")
    assert english(glossary, "ein V-Ausschnitt, ein U-Boot-Ausschnitt") == (
        "a V-neck, a boat neckline"
    )


def test_unknown_words_pass_through_and_are_reported(glossary):
    text, untranslated = glossary.translate_text("Ein Kleid mit Quarkbrot und Zwxq.")
    assert text == "A dress with Quarkbrot and Zwxq."
    assert untranslated == ["quarkbrot", "zwxq"]


def test_one_letter_typing_slips_are_corrected(glossary):
    assert english(glossary, "Kleeid Klied Ärrmel") == "Dress dress sleeve"


def test_full_sentences(glossary):
    german = (
        "Das Kleid ist knielang und hat einen V-Ausschnitt. Es sieht sehr elegant aus! "
        "Der Rock reicht bis zur Mitte der Waden, vorne kürzer als hinten."
    )
    assert english(glossary, german) == (
        "The dress is knee-length and has a V-neck. It looks very elegant! "
        "The skirt reaches to the middle of the calves, at the front shorter than at the back."
    )
    assert english(glossary, "Es handelt sich um ein elegantes Abendkleid aus Seide.") == (
        "It is an elegant evening dress of silk."
    )


def test_coverage_counts_content_words_with_repeats(glossary):
    texts = ["Das Kleid ist rot.", "Das Kleid ist rot.", "Ein Quarkbrot mit 3/4-Arm und Zwxq"]
    coverage = measure_coverage(texts, glossary, glossary.lexicon)
    assert coverage.descriptions == 3
    # Kleid, rot (twice each), Quarkbrot, Zwxq; not Das/ist/Ein/mit/und, not 3/4-Arm.
    assert coverage.content_tokens == 6
    assert coverage.translated_tokens == 4
    assert coverage_metrics(coverage, "glossary") == {
        "backend": "glossary",
        "descriptions": 3,
        "content_tokens": 6,
        "translated_tokens": 4,
        "coverage": 0.6667,
        "untranslated_words": 2,
    }


def test_untranslated_table_most_frequent_first():
    coverage = Coverage(3, 10, untranslated=Counter(b=1, a=1, c=5))
    assert untranslated_table(coverage) == "word,count\nc,5\na,1\nb,1\n"
    assert untranslated_table(coverage, top=1) == "word,count\nc,5\n"


def test_items_with_given_tags_pass_through(glossary):
    items = [
        {
            "id": "a",
            "image": "a.jpg",
            "url": "u",
            "descriptions": ["Ein rotes Kleid."],
            "fold": "3",
        },
        {"id": "b", "image": "b.jpg", "url": "u", "descriptions": ["Kleid"], "tags": ["Red"]},
    ]
    translated, coverage = translate_items(items, glossary, glossary.lexicon)
    assert translated[0] == {**items[0], "english": ["A red dress."]}
    assert translated[1] == {**items[1], "english": []}
    assert coverage.descriptions == 1


def test_unknown_backend_is_a_one_line_error_naming_the_param(tmp_path, glossary):
    params = tmp_path / "params.yaml"
    params.write_text("translate:\n  backend: marian\n", encoding="utf-8")
    with pytest.raises(PipelineError, match=r"param translate\.backend"):
        read_params("translate", TranslateParams, params)
    with pytest.raises(PipelineError, match=r"translate\.backend: unknown backend 'marian'"):
        make_translator("marian", glossary.lexicon)


def test_non_string_description_is_an_error(tmp_path):
    path = tmp_path / "items.json"
    item = {"id": "a", "image": "a.jpg", "url": "u", "descriptions": ["Kleid", 5]}
    path.write_text(json.dumps([item]), encoding="utf-8")
    with pytest.raises(PipelineError, match=r"item 'a': description 1 is not a string"):
        load_items(path)


def make_stage_folder(path, descriptions_per_item=(["Ein rotes Kleid.", "Kleid in Blau"],)):
    items = [
        {"id": f"i{n}", "image": f"images/i{n}.jpg", "url": "u", "descriptions": list(texts)}
        for n, texts in enumerate(descriptions_per_item)
    ]
    (path / "data/raw").mkdir(parents=True)
    (path / "data/raw/items.json").write_text(json.dumps(items), encoding="utf-8")
    (path / "params.yaml").write_text("translate:\n  backend: glossary\n", encoding="utf-8")


def test_stage_writes_outputs_deterministically(tmp_path, monkeypatch):
    texts = (["Ein rotes Kleid.", "Kleid in Blau", "Ein rotes Kleid."], ["Blaues Quarkbrot"])
    make_stage_folder(tmp_path, texts)
    monkeypatch.chdir(tmp_path)
    translate.main()
    outputs = [translate.OUT_FILE, translate.METRICS_FILE, translate.UNTRANSLATED_FILE]
    first = [path.read_bytes() for path in outputs]
    items = json.loads(translate.OUT_FILE.read_text(encoding="utf-8"))
    assert [item["english"] for item in items] == [
        ["A red dress.", "Dress in blue", "A red dress."],
        ["Blue Quarkbrot"],
    ]
    assert json.loads(translate.METRICS_FILE.read_text())["coverage"] == 0.875  # 7 of 8
    assert translate.UNTRANSLATED_FILE.read_text() == "word,count\nquarkbrot,1\n"
    translate.main()
    assert [path.read_bytes() for path in outputs] == first
    assert not list(tmp_path.glob("data/translate/.*"))  # no temporary file left behind


def test_failing_backend_leaves_no_output(tmp_path, monkeypatch):
    class Failing:
        def __init__(self, lexicon):
            pass

        def translate(self, texts):
            return texts[:-1]  # one translation short

        def untranslated_words(self, text):
            return []

    make_stage_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(translate.BACKENDS, "glossary", Failing)
    with pytest.raises(ValueError):
        translate.main()
    assert not (tmp_path / "data/translate/items.json").exists()
    assert not (tmp_path / "metrics/translate.json").exists()


def test_translation_is_deterministic_across_instances(glossary):
    texts = ["Ein knielanges Kleid mit Spitzeneinsatz.", "Die Ärmel sind kurz"] * 3
    assert GlossaryTranslator.load().translate(texts) == glossary.translate(texts)
