"""Tests of the translate stage and its glossary backend (stages.translate, stages.glossary)."""

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from fashion_tagger import paths
from fashion_tagger.data.items import load_items
from fashion_tagger.errors import PipelineError
from fashion_tagger.params import read_params
from fashion_tagger.text import translate as translation
from fashion_tagger.text.glossary import (
    GlossaryTranslator,
    Lexicon,
    load_ding,
    past_participle,
    third_person,
)
from fashion_tagger.text.translate import (
    Coverage,
    TranslateParams,
    coverage_metrics,
    make_translator,
    measure_coverage,
    normalise,
    translate_items,
    translate_texts,
    untranslated_table,
    untranslated_words,
)
from stages import translate

FASHION_WORDS = Path(__file__).parent / "data" / "fashion_words_de_en.tsv"
REPO = Path(__file__).resolve().parents[1]


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


def test_general_words_are_whole_words_never_guessed_for_a_slip_nor_parts(tmp_path):
    fashion = ["lang\tlong\tadj", "Kleid\tdress\tnoun", "Knopf\tbutton\tnoun"]
    main = write_lexicon(tmp_path / "main.tsv", [*fashion, "Knopfleiste\tbutton placket\tnoun"])
    words = ["planen\tplan\tverb", "Zukunft\tfuture\tmass", "leise\tquiet\tadj"]
    general = write_lexicon(tmp_path / "general.tsv", words)
    translator = GlossaryTranslator(Lexicon.load(main, general))
    assert translator.translate(["Zukunft, planen, leise"]) == ["Future, plan, quiet"]
    assert translator.translate(["Ein lanen Kleid"])[0].endswith("long dress")  # not "plan"
    assert translator.translate(["Knopfleise"]) == ["Button placket"]  # not Knopf + leise
    repeated = write_lexicon(tmp_path / "repeated.tsv", ["Kleid\tgown\tnoun"])
    with pytest.raises(PipelineError, match=r"repeated\.tsv: line 2: duplicate entry 'Kleid'"):
        Lexicon.load(main, repeated)


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


def test_letter_shapes_keep_their_letter(glossary):
    """ "V-Form" is a V-shape, not just a shape: the tags need the V."""
    assert english(glossary, "Ausschnitt in V-Form") == "Neckline in V-shape"
    assert english(glossary, "ein Kleid in A-Form") == "a dress in A-line"


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


def test_als_after_a_comparison_is_than(glossary):
    assert english(glossary, "Eleganter als ein Sommerkleid.") == "Elegant than a summer dress."
    assert english(glossary, "Weniger formell als ein Ballkleid.") == (
        "Less formal than a ball gown."
    )
    # after an article, -er is an adjective ending, and "als" is "as"
    assert english(glossary, "Ein schwarzer als Klassiker bekannter Stil.") == (
        "A black as classic known style."
    )


def test_abbreviations_are_no_words_to_translate(glossary):
    """Units and abbreviations of one or two letters stay as they are: not counted."""
    text = "Ein Kleid aus Berlin, 5 cm über dem Knie, St. Gallen"
    assert glossary.content_words(text) == ["kleid", "berlin", "knie", "gallen"]
    coverage = measure_coverage([text], translate_texts([text], glossary), glossary)
    assert coverage.content_tokens == 4 and "cm" not in coverage.untranslated


def test_coverage_counts_content_words_with_repeats(glossary):
    texts = ["Das Kleid ist rot.", "Das Kleid ist rot.", "Ein Quarkbrot mit 3/4-Arm und Zwxq"]
    coverage = measure_coverage(texts, translate_texts(texts, glossary), glossary)
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
    translated, coverage = translate_items(items, glossary, glossary)
    assert translated[0] == {**items[0], "english": ["A red dress."]}
    assert translated[1] == {**items[1], "english": []}
    assert coverage.descriptions == 1


def test_unknown_backend_is_a_one_line_error_naming_the_param(tmp_path, glossary):
    params = tmp_path / "params.yaml"
    params.write_text("translate:\n  backend: deepl\n", encoding="utf-8")
    with pytest.raises(PipelineError, match=r"param translate\.backend"):
        read_params("translate", TranslateParams, params)
    unchecked = TranslateParams.model_construct(backend="deepl")
    with pytest.raises(PipelineError, match=r"translate\.backend: unknown backend 'deepl'"):
        make_translator(unchecked, glossary.lexicon)


def test_non_string_description_is_an_error(tmp_path):
    path = tmp_path / "items.json"
    item = {"id": "a", "image": "a.jpg", "url": "u", "descriptions": ["Kleid", 5]}
    path.write_text(json.dumps([item]), encoding="utf-8")
    with pytest.raises(PipelineError, match=r"item 'a': description 1 is not a string"):
        load_items(path)


def make_stage_folder(
    path, descriptions_per_item=(["Ein rotes Kleid.", "Kleid in Blau"],), params="backend: glossary"
):
    items = [
        {"id": f"i{n}", "image": f"images/i{n}.jpg", "url": "u", "descriptions": list(texts)}
        for n, texts in enumerate(descriptions_per_item)
    ]
    (path / "data/raw").mkdir(parents=True, exist_ok=True)
    (path / "data/raw/items.json").write_text(json.dumps(items), encoding="utf-8")
    section = "".join(f"  {line}\n" for line in params.splitlines())
    runtime = "runtime:\n  translate:\n    device: cpu\n"
    (path / "params.yaml").write_text(f"translate:\n{section}{runtime}", encoding="utf-8")


def test_stage_writes_outputs_deterministically(tmp_path, monkeypatch):
    texts = (["Ein rotes Kleid.", "Kleid in Blau", "Ein rotes Kleid."], ["Blaues Quarkbrot"])
    make_stage_folder(tmp_path, texts)
    monkeypatch.chdir(tmp_path)
    translate.main()
    outputs = [paths.TRANSLATED_FILE, paths.TRANSLATE_METRICS_FILE, paths.UNTRANSLATED_FILE]
    first = [path.read_bytes() for path in outputs]
    items = json.loads(paths.TRANSLATED_FILE.read_text(encoding="utf-8"))
    assert [item["english"] for item in items] == [
        ["A red dress.", "Dress in blue", "A red dress."],
        ["Blue Quarkbrot"],
    ]
    assert json.loads(paths.TRANSLATE_METRICS_FILE.read_text())["coverage"] == 0.875  # 7 of 8
    assert paths.UNTRANSLATED_FILE.read_text() == "word,count\nquarkbrot,1\n"
    translate.main()
    assert [path.read_bytes() for path in outputs] == first
    assert not list(tmp_path.glob("data/translate/.*"))  # no temporary file left behind


def test_failing_backend_leaves_no_output(tmp_path, monkeypatch):
    class Failing:
        name = "failing"
        batch_size = 8

        def __init__(self, params, lexicon, device):
            pass

        def translate(self, texts):
            return texts[:-1]  # one translation short

        def identity(self):
            return {"backend": self.name}

    make_stage_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(translation.BACKENDS, "glossary", Failing)
    with pytest.raises(ValueError):
        translate.main()
    assert not (tmp_path / "data/translate/items.json").exists()
    assert not (tmp_path / "metrics/translate.json").exists()


def test_translation_is_deterministic_across_instances(glossary):
    texts = ["Ein knielanges Kleid mit Spitzeneinsatz.", "Die Ärmel sind kurz"] * 3
    assert GlossaryTranslator.load().translate(texts) == glossary.translate(texts)


# Normalisation and the coverage measure shared by all backends --------------------------------


def test_descriptions_differing_in_spacing_are_translated_once(glossary):
    calls = []

    class Counting:
        name, batch_size = "counting", 4

        def translate(self, texts):
            calls.extend(texts)
            return glossary.translate(texts)

    texts = [normalise(text) for text in ["Ein  rotes\nKleid ", "Ein rotes Kleid", "Kleid"]]
    english = translate_texts(texts, Counting())
    assert sorted(calls) == ["Ein rotes Kleid", "Kleid"]
    assert english == {"Ein rotes Kleid": "A red dress", "Kleid": "Dress"}


def test_words_found_unchanged_in_a_translation_are_untranslated(glossary):
    # As a neural backend might write it: Quarkbrot copied, elegant/Top/Shorts the same in English.
    source = "Ein elegantes Top mit Shorts aus Quarkbrot, elegant und Quarkbrot."
    english = "An elegant Top with Shorts of Quarkbrot, elegant and quarkbrot."
    assert untranslated_words(source, english, glossary) == ["quarkbrot", "quarkbrot"]
    assert untranslated_words(source, "An elegant top with shorts of curd bread.", glossary) == []


def test_transformers_is_not_imported_by_the_glossary_backend(tmp_path):
    code = (
        "import sys; from fashion_tagger.text import translate\n"
        "from fashion_tagger.text.glossary import Lexicon\n"
        "params = translate.TranslateParams(backend='glossary')\n"
        "translator = translate.make_translator(params, Lexicon.load())\n"
        "assert translator.translate(['Ein rotes Kleid']) == ['A red dress']\n"
        "assert 'transformers' not in sys.modules and 'torch' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# The widened lexicon --------------------------------------------------------------------------


def read_fashion_words() -> list[tuple[str, list[str]]]:
    rows = [
        line.split("\t")
        for line in FASHION_WORDS.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert rows[0] == ["german", "accepted"]
    return [(german, accepted.split("|")) for german, accepted in rows[1:]]


def comparable(english: str) -> str:
    """Lower case, hyphens as spaces, no final punctuation: how the word list is compared."""
    return " ".join(re.sub(r"[-.,!]", " ", english.lower()).split())


def test_glossary_knows_common_fashion_words(glossary):
    words = read_fashion_words()
    assert len(words) >= 300
    wrong = [
        (german, english)
        for german, accepted in words
        if comparable(english := glossary.translate([german])[0])
        not in {comparable(option) for option in accepted}
    ]
    assert len(wrong) <= 0.05 * len(words), wrong


def test_colour_shades_compounds_and_spellings(glossary):
    assert english(glossary, "dunkelblaue hellgraues weinrote Dunkelgrün") == (
        "dark blue light gray burgundy dark green"
    )
    assert english(glossary, "Spitzeneinsatz Wasserfallausschnitt Knopfleiste") == (
        "Lace insert cowl neckline button placket"
    )
    assert english(glossary, "Aermel Reissverschluss Ruesche Blaettermuster") == (
        "Sleeve zipper ruffle leaf pattern"
    )


# The Ding dictionary --------------------------------------------------------------------------

DING_LINES = [
    "# Version :: test",
    "Kleid {n} | Kleider {pl} :: gown | gowns",
    "Mondlicht {n} [astron.] :: moonlight",
    "Quarkbrot {n}; Käsebrot {n} | Quarkbrote {pl} :: curd bread; cheese bread | curd breads",
    "funkelnd; glitzernd {adj} :: sparkling; glittering",
    "etw. verschmutzen {vt} | verschmutzend | verschmutzt :: to soil sth. | soiling | soiled",
    "das A und O [ugs.] :: the nuts and bolts [coll.]",
    "Tagundnachtgleiche {f} | Tagundnachtgleichen :: equinox",
]


@pytest.fixture
def ding_file(tmp_path):
    path = tmp_path / "de-en"
    path.write_text("\n".join(DING_LINES) + "\n", encoding="utf-8")
    return path


def test_ding_lines_become_lexicon_entries(ding_file):
    ding = load_ding(ding_file)
    noun = frozenset({"noun"})
    assert ding.find("quarkbrot", noun).english == "curd bread"
    assert ding.find("kaesebrot", noun).english == "curd bread"  # aligned by sub-entry
    assert ding.find("quarkbrote", noun).english == "curd breads"  # a plural headword
    assert ding.find("funkelnd", frozenset({"adj"})).english == "sparkling"
    assert ding.find("verschmutzen", frozenset({"verb"})).english == "soil"
    assert ding.find("verschmutzt", frozenset({"adj"})).english == "soiled"  # participle
    assert ding.find("a", frozenset({"noun", "adj"})) is None  # a phrase
    assert ding.find("tagundnachtgleiche", noun) is None  # sub-entries not aligned


def test_ding_is_consulted_only_for_words_the_lexicon_lacks(glossary, ding_file):
    with_ding = GlossaryTranslator(glossary.lexicon, load_ding(ding_file))
    text = "Ein funkelndes Kleid im Mondlicht mit Quarkbroten, verschmutzt."
    assert with_ding.translate([text]) == [
        "A sparkling dress in the moonlight with curd breads, soiled."
    ]
    assert with_ding.identity()["ding"] != glossary.identity()["ding"]


def test_missing_ding_file_is_a_one_line_error(tmp_path):
    with pytest.raises(PipelineError, match=r"param translate\.ding_path: .*not found"):
        load_ding(tmp_path / "no-such-file")


def test_stage_uses_the_ding_path_param(tmp_path, monkeypatch, ding_file):
    make_stage_folder(
        tmp_path, (["Kleid im Mondlicht"],), f"backend: glossary\nding_path: {ding_file}"
    )
    monkeypatch.chdir(tmp_path)
    translate.main()
    items = json.loads(paths.TRANSLATED_FILE.read_text(encoding="utf-8"))
    assert items[0]["english"] == ["Dress in the moonlight"]


def test_relative_clauses_take_english_word_order(glossary):
    assert english(glossary, "Ein Abendkleid aus roter Seide, das bis zum Boden reicht.") == (
        "An evening dress of red silk, that reaches to the floor."
    )
    # a main clause after a comma keeps its order: the word after "die" is a noun
    assert english(glossary, "Das Kleid ist weiß, die Ärmel sind kurz.") == (
        "The dress is white, the sleeves are short."
    )


def test_a_verb_that_is_also_a_colour_is_read_from_its_neighbours(glossary):
    assert english(glossary, "Jeder weiß, dass ein schwarzes Kleid immer passt.") == (
        "Each knows, that a black dress always fits."
    )
    assert english(glossary, "Es ist weiß.") == "It is white."
    assert english(glossary, "Ein weißes Kleid.") == "A white dress."


def test_idioms_and_repeated_prepositions(glossary):
    assert english(glossary, "Es ist in der Regel bodenlang.") == "It is usually floor-length."
    assert english(glossary, "Es reicht bis zu den Knöcheln.") == "It reaches to the ankles."


def test_the_lemma_library_reads_forms_the_rules_miss(tmp_path):
    lexicon = Lexicon.load(
        write_lexicon(
            tmp_path / "lexicon.tsv",
            ["tragen\twear\tverb", "fallen\tfall\tverb", "es\tit\tpron"],
        )
    )
    translator = GlossaryTranslator(lexicon)
    # the strong forms trägt and fiel are beyond the lexicon's own verb endings; a present
    # form in -t gets the English third person
    assert translator.translate(["es trägt", "es fiel"]) == ["it wears", "it fall"]


def test_present_forms_take_the_english_third_person(tmp_path):
    lexicon = Lexicon.load(
        write_lexicon(
            tmp_path / "lexicon.tsv",
            [
                "verfügen	have	verb",
                "passen	fit in	verb",
                "durchsetzen	prevail	verb",
            ]
            + ["es	it	pron", "hat	has	aux", "sich	-	pron"],
        )
    )
    translator = GlossaryTranslator(lexicon)
    assert translator.translate(["es verfügt", "es passt"]) == ["it has", "it fits in"]
    # a participle (one 'ge' more than the infinitive) gets the English participle
    assert translator.translate(["es hat sich durchgesetzt"]) == ["it has prevailed"]
    assert [past_participle(verb) for verb in ("sew on", "cover", "carry", "trim", "create")] == [
        "sewn on",
        "covered",
        "carried",
        "trimmed",
        "created",
    ]
    assert [third_person(verb) for verb in ("go", "be", "carry", "reach", "look for")] == [
        "goes",
        "is",
        "carries",
        "reaches",
        "looks for",
    ]


def test_words_cut_short_by_a_hyphen_share_the_next_head(glossary):
    assert english(glossary, "Es ist knie- bis wadenlang.") == "It is knee-length to calf-length."
    assert english(glossary, "Ein Ball- oder Galakleid.") == "A ball gown or gala dress."
    # no completion where the next word is no compound with a readable head
    assert english(glossary, "Eine Bolero- oder ähnliche Jacke.").startswith("A bolero-")


def test_a_verb_at_the_end_of_a_clause_with_an_auxiliary_is_a_participle(glossary):
    # the English tagger then reads a verb, not a noun after the phrase before it
    assert english(glossary, "Es wird durch Streifen erzeugt.").endswith("created.")
    assert english(glossary, "Die Ärmel sind bedeckt.") == "The sleeves are covered."
    assert english(glossary, "Die Schultern werden von Ärmeln bedeckt.").endswith("covered.")
    assert english(glossary, "Sie können von Ärmeln bedeckt werden.") == (
        "It can be from sleeves covered."
    )
    assert english(glossary, "Das Kleid bedeckt die Knie.") == "The dress covers the knee."
    assert english(glossary, "Der Saum endet weit oberhalb des Knies.") == (
        "The hem ends well above the knee."
    )


def test_general_words_are_translated(glossary):
    assert english(glossary, "Damals war sie sehr beliebt.") == "Back then was it very popular."


def test_proper_names_are_no_untranslated_words(glossary):
    text = "Sie trug ein Kleid von Catherine Walker und ein Kleid von McQueen."
    assert glossary.content_words(text) == ["trug", "kleid", "kleid"]
    # words the lexicon reads are never names, nor is a sentence's first word
    assert glossary.content_words("Schwarze Knöpfe. Minikleid Rot.") == [
        "schwarze",
        "knöpfe",
        "minikleid",
        "rot",
    ]
    assert glossary.content_words("Xyzzy ist neu.") == ["xyzzy", "neu"]


def test_instead_of_and_nowadays_read_as_phrases(glossary):
    assert english(glossary, "Heut zu Tage trägt man es an Stelle eines Etuikleides.") == (
        "Nowadays wears one it instead of a sheath dress."
    )


def test_shape_phrases_read_as_one_adjective(glossary):
    assert english(glossary, "Es ist hoch geschlossen.") == "It is high-necked."
    assert english(glossary, "Runde und spitz zulaufende Dekolletés.") == (
        "Round and v-shaped necklines."
    )
    assert english(glossary, "Eine hoch sitzende Taille.") == "A high waist."


def test_an_adjective_before_an_article_or_preposition_may_be_an_adverb(glossary):
    assert english(glossary, "Es reicht gerade bis zum Knie.") == "It reaches just to the knee."
    assert english(glossary, "Der Rock ist gerade.") == "The skirt is straight."
    assert english(glossary, "Ein schlichtes Kleid, eng verwandt mit dem Etuikleid.") == (
        "A simple dress, closely related with the sheath dress."
    )


def test_an_infinitive_at_the_clause_end_moves_behind_its_modal(glossary):
    assert english(glossary, "Die Ärmel können lang oder kurz sein.") == (
        "The sleeves can be long or short."
    )
    assert english(glossary, "Es kann sein.") == "It can be."
    # a relative clause keeps its own order
    assert english(glossary, "Das Kleid, das bis zum Boden reicht, ist rot.") == (
        "The dress, that reaches to the floor, is red."
    )


def test_weitere_is_further_and_weit_idioms_are_no_width(glossary):
    assert english(glossary, "Es gibt weitere Modelle.") == "There is further models."
    assert english(glossary, "Ein weiter Rock.") == "A wide skirt."
    assert english(glossary, "Es ist weit verbreitet.") == "It is widespread."
    assert english(glossary, "Das Kleid wird gerade getragen.") == "The dress is just worn."


def test_english_words_in_german_text_stay_as_they_are(glossary):
    # loanwords are no typing slips of German words (Dresses: not "press", Slip: not "slim")
    assert glossary.translate(["Cocktail Dresses sind kurz"]) == ["Cocktail Dresses are short"]
    assert glossary.translate(["Ein Maxi Dress mit Slip"]) == ["A maxi Dress with Slip"]
    source = "Cocktail Dresses mit Slip"
    assert untranslated_words(source, glossary.translate([source])[0], glossary) == []
