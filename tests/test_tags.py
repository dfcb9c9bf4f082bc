"""Tests of the tags stage: offline POS tagging, term extraction, TF-IDF selection, vocabulary."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from nltk.tag.perceptron import PerceptronTagger

from fashion_tagger import paths
from fashion_tagger.errors import PipelineError
from fashion_tagger.text import phrases, postag
from fashion_tagger.text.postag import TextTagger, load_tagger, split_sentences, tokenize_sentence
from fashion_tagger.text.tags import (
    ADJECTIVE,
    NOUN,
    PhrasesParams,
    TagResult,
    TagsParams,
    build_vocabulary,
    candidate_terms,
    extract_labels,
    label_items,
    load_translated_items,
    majority_kinds,
    make_word_normaliser,
    select_terms,
    singularize,
    tag_frequency,
    tag_report,
    tag_report_rows,
    tfidf_scores,
)
from stages import tags as tags_stage

PARAMS = TagsParams(method="recipe", top_k=10, vocab_size=25, lemmatize=True)
DATA = Path(__file__).parent / "data"

ENGLISH = [
    [
        "A red dress with short sleeves. The skirt has pleats.",
        "Red knee-length dress with a round neckline and short sleeves.",
    ],
    [
        "Black dress with thin straps. It has ruffles at the hem!",
        "The black dress is elegant and has thin straps.",
    ],
    [
        "A long blue dress with a floral print and long sleeves.",
        "Blue maxi dress with a floral print. The belt is black.",
    ],
    [
        "White lace dress with short sleeves and buttons.",
        "The white dress has a collar and buttons on the front.",
    ],
]


def make_items(english: list[list[str]] = ENGLISH) -> list[dict]:
    """Translated items in the translate stage's format, ids in order."""
    return [
        {
            "id": f"item{number:03d}",
            "image": f"images/item{number:03d}.jpg",
            "url": f"https://example.invalid/{number}.jpg",
            "descriptions": ["Ein Kleid."] * len(texts),
            "english": texts,
        }
        for number, texts in enumerate(english)
    ]


def write_stage_inputs(root: Path, items: list[dict], top_k: int = 10, vocab: int = 25) -> None:
    """params.yaml and data/translate/items.json under `root`, for running main()."""
    (root / "params.yaml").write_text(
        f"tags:\n  method: recipe\n  top_k: {top_k}\n  vocab_size: {vocab}\n  lemmatize: true\n",
        encoding="utf-8",
    )
    (root / "data/translate").mkdir(parents=True)
    (root / "data/translate/items.json").write_text(json.dumps(items), encoding="utf-8")


# --- POS tagging -------------------------------------------------------------------------------


def test_tagger_loads_offline_and_tags_a_description():
    tagged = TextTagger(workers=1).tag_text("A red dress with short sleeves")
    assert tagged == [
        ("a", "DT"),
        ("red", "JJ"),
        ("dress", "NN"),
        ("with", "IN"),
        ("short", "JJ"),
        ("sleeves", "NNS"),
    ]


def test_memoising_tagger_agrees_with_nltk():
    tagger = load_tagger()
    plain = PerceptronTagger(load=False)
    plain.model, plain.tagdict, plain.classes = tagger.model, tagger.tagdict, tagger.classes
    sentences = [tokenize_sentence(text) for texts in ENGLISH for text in texts] * 2
    assert [tagger.tag(tokens) for tokens in sentences] == [plain.tag(t) for t in sentences]
    assert tagger.predictions  # the second pass was answered from the memo


def test_tagger_rejects_a_file_with_the_wrong_hash(tmp_path):
    bad = tmp_path / "trontagger-0.1.0.pickle"
    bad.write_bytes(b"not the tagger")
    with pytest.raises(PipelineError, match=r"sha256 .*pip install"):
        load_tagger(bad)


def test_tagger_reports_a_missing_file(tmp_path):
    with pytest.raises(PipelineError, match="not found.*pip install textblob-aptagger"):
        load_tagger(tmp_path / "missing.pickle")


def test_tagger_reports_a_missing_package(monkeypatch):
    monkeypatch.setattr(postag, "TAGGER_PACKAGE", "no-such-package-for-tags")
    with pytest.raises(PipelineError, match="no-such-package-for-tags not found"):
        postag.find_tagger_file()


def test_sentences_are_split_on_end_punctuation_only():
    text = "Black dress with thin straps. It has ruffles!  Is it long? Yes, 3.5 cm longer"
    assert split_sentences(text) == [
        "Black dress with thin straps.",
        "It has ruffles!",
        "Is it long?",
        "Yes, 3.5 cm longer",
    ]
    assert split_sentences("  ") == []


def test_sentence_end_is_its_own_token():
    tokens = TextTagger(workers=1).tag_text("Thin straps. It has ruffles.")
    assert [token for token, _ in tokens] == ["thin", "straps", ".", "it", "has", "ruffles", "."]


def test_a_slash_between_words_is_a_token_of_its_own():
    assert tokenize_sentence("Red/black dress, 1/2 sleeves") == [
        *["red", "/", "black", "dress", ",", "1/2", "sleeves"]
    ]


def test_worker_processes_give_the_same_tags(monkeypatch):
    texts = [text for texts in ENGLISH for text in texts] * 3
    serial = TextTagger(workers=1).tag_texts(texts)
    monkeypatch.setattr(postag, "CHUNK_TEXTS", 2)
    assert TextTagger(workers=2).tag_texts(texts) == serial


# --- term extraction ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plural", "singular"),
    [
        ("sleeves", "sleeve"),
        ("dresses", "dress"),
        ("straps", "strap"),
        ("ruffles", "ruffle"),
        ("pleats", "pleat"),
        ("accessories", "accessory"),
        ("patches", "patch"),
        ("sashes", "sash"),
        ("boxes", "box"),
        ("blouses", "blouse"),
        ("shoes", "shoe"),
        ("ties", "tie"),
        ("knives", "knife"),
        ("women", "woman"),
        ("v-necks", "v-neck"),
        ("jeans", "jeans"),
        ("trousers", "trousers"),
        ("series", "series"),
        ("dress", "dress"),
        ("chiffon", "chiffon"),
        ("status", "status"),
    ],
)
def test_singularize(plural, singular):
    assert singularize(plural) == singular


def test_candidate_terms_keep_nouns_and_adjectives_without_stop_words():
    tagged = [
        ("the", "DT"),
        ("red", "JJ"),
        ("knee-length", "JJ"),
        ("dress", "NN"),
        ("has", "VBZ"),
        ("sleeves", "NNS"),
        ("other", "JJ"),  # a scikit-learn stop word
        ("v", "NN"),  # too short
        ("3cm", "NN"),  # not alphabetic
        ("pleats", "NNS"),
        ("quickly", "RB"),
    ]
    assert candidate_terms(tagged, lemmatize=True) == [
        ("red", ADJECTIVE),
        ("knee-length", ADJECTIVE),
        ("dress", NOUN),
        ("sleeve", NOUN),
        ("pleat", NOUN),
    ]
    assert ("sleeves", NOUN) in candidate_terms(tagged, lemmatize=False)


def test_majority_kind_decides_and_ties_go_to_nouns():
    documents = [
        [("print", NOUN), ("print", ADJECTIVE), ("floral", ADJECTIVE)],
        [("floral", ADJECTIVE), ("floral", NOUN), ("lace", ADJECTIVE)],
        [("lace", NOUN), ("lace", NOUN)],
    ]
    assert majority_kinds(documents) == {"print": NOUN, "floral": ADJECTIVE, "lace": NOUN}


# --- TF-IDF selection and vocabulary -----------------------------------------------------------


def test_tfidf_prefers_an_items_distinctive_term_over_a_common_one():
    documents = [["dress", "belt"], ["dress", "collar"], ["dress", "bow"], ["dress", "zip"]]
    kinds = {term: NOUN for document in documents for term in document}
    scores = tfidf_scores(documents)
    assert scores[0]["belt"] > scores[0]["dress"]
    assert [select_terms(item, kinds, top_k=1)[NOUN] for item in scores] == [
        ["belt"],
        ["collar"],
        ["bow"],
        ["zip"],
    ]


def test_selection_ties_are_broken_by_the_term():
    kinds = {"zip": NOUN, "belt": NOUN, "red": ADJECTIVE, "blue": ADJECTIVE}
    scores = {"zip": 0.5, "belt": 0.5, "red": 0.5, "blue": 0.5}
    assert select_terms(scores, kinds, top_k=1) == {NOUN: ["belt"], ADJECTIVE: ["blue"]}
    assert select_terms(scores, kinds, top_k=5) == {
        NOUN: ["belt", "zip"],
        ADJECTIVE: ["blue", "red"],
    }


def test_vocabulary_is_the_most_frequent_of_each_kind_ties_by_term():
    selections = [
        {NOUN: ["dress", "belt"], ADJECTIVE: ["red"]},
        {NOUN: ["dress", "zip"], ADJECTIVE: ["blue", "red"]},
        {NOUN: ["dress", "bow"], ADJECTIVE: ["white"]},
    ]
    assert build_vocabulary(selections, vocab_size=2) == {
        "nouns": ["dress", "belt"],
        "adjectives": ["red", "blue"],
    }


def test_extraction_respects_top_k_and_vocab_size_and_keeps_kinds_disjoint():
    texts = [item["english"] for item in make_items()]
    labels, vocabulary, *_ = extract_labels(
        texts, TagsParams(method="recipe", top_k=2, vocab_size=3, lemmatize=True)
    )
    assert len(vocabulary["nouns"]) == 3
    assert len(vocabulary["adjectives"]) == 3
    assert not set(vocabulary["nouns"]) & set(vocabulary["adjectives"])
    in_vocabulary = set(vocabulary["nouns"]) | set(vocabulary["adjectives"])
    for item_labels in labels:
        assert item_labels == sorted(item_labels)
        assert set(item_labels) <= in_vocabulary
        assert len(set(item_labels) & set(vocabulary["nouns"])) <= 2
        assert len(set(item_labels) & set(vocabulary["adjectives"])) <= 2


def test_extraction_finds_the_described_colours_and_parts():
    labels, vocabulary, *_ = extract_labels([item["english"] for item in make_items()], PARAMS)
    assert {"red", "sleeve", "pleat"} <= set(labels[0])
    assert {"black", "strap", "ruffle"} <= set(labels[1])
    assert "sleeves" not in vocabulary["nouns"]
    assert "the" not in labels[0]


# --- given tags, outputs, errors -------------------------------------------------------------


def test_given_tags_pass_through():
    items = make_items()[:2]
    items[0]["tags"] = ["Red ", "dress", "red"]
    items[1]["tags"] = ["dress", "Strap"]
    result = label_items(items, PARAMS)
    labelled, vocabulary = result.labelled, result.vocabulary
    assert labelled == [
        {
            "id": "item000",
            "tags": ["dress", "red"],
            "descriptions": 1,
            "mentions": {"dress": 1, "red": 1},
        },
        {
            "id": "item001",
            "tags": ["dress", "strap"],
            "descriptions": 1,
            "mentions": {"dress": 1, "strap": 1},
        },
    ]
    assert vocabulary == {"given": ["dress", "red", "strap"]}
    assert tag_frequency(labelled, vocabulary)[0] == {"tag": "dress", "kind": "given", "items": 2}


def test_a_mix_of_given_and_missing_tags_is_an_error():
    items = make_items()
    items[2]["tags"] = ["dress"]
    with pytest.raises(PipelineError, match="item 'item002' has 'tags'"):
        label_items(items, PARAMS, source="in.json")


def test_missing_input_file_is_an_error(tmp_path):
    with pytest.raises(PipelineError, match="file not found"):
        load_translated_items(tmp_path / "items.json")


def test_english_must_be_a_list_of_strings(tmp_path):
    items = make_items()
    items[1]["english"] = "Black dress."
    path = tmp_path / "items.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    with pytest.raises(PipelineError, match="item 'item001': 'english' must be a list"):
        load_translated_items(path)


def test_main_writes_outputs_deterministically(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_stage_inputs(tmp_path, make_items(), top_k=3, vocab=4)
    tags_stage.main()
    outputs = [
        paths.TAGGED_ITEMS_FILE,
        paths.VOCABULARY_FILE,
        paths.TAG_FREQUENCY_FILE,
        paths.TAG_REPORT_FILE,
        paths.TAG_REPORT_PLOT_FILE,
    ]
    first = [path.read_bytes() for path in outputs]
    tags_stage.main()
    assert [path.read_bytes() for path in outputs] == first

    labelled = json.loads(paths.TAGGED_ITEMS_FILE.read_text(encoding="utf-8"))
    vocabulary = json.loads(paths.VOCABULARY_FILE.read_text(encoding="utf-8"))
    assert [item["id"] for item in labelled] == ["item000", "item001", "item002", "item003"]
    assert set(vocabulary) == {"nouns", "adjectives"}
    with paths.TAG_FREQUENCY_FILE.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(vocabulary["nouns"]) + len(vocabulary["adjectives"])
    counts = [int(row["items"]) for row in rows]
    assert counts == sorted(counts, reverse=True)
    for row in rows:
        assert int(row["items"]) == sum(row["tag"] in item["tags"] for item in labelled)
    assert not list(tmp_path.rglob("*.tmp"))


def test_main_rejects_a_bad_param(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_stage_inputs(tmp_path, make_items(), top_k=0)
    with pytest.raises(PipelineError, match="param tags.top_k"):
        tags_stage.main()
    assert not paths.TAGGED_ITEMS_FILE.exists()


# --- method "phrases" ----------------------------------------------------------------------------

PHRASE_SETTINGS = PhrasesParams(
    vocab_size=20,
    max_df=0.8,
    min_items=1,
    carriers=["dress", "skirt", "gown", "silk"],
    generic_words=["color", "fabric", "cut", "pattern"],
)
PHRASE_PARAMS = TagsParams(
    method="phrases", top_k=10, vocab_size=25, lemmatize=True, phrases=PHRASE_SETTINGS
)


@pytest.fixture(scope="module")
def reader() -> Callable[[str], list[list[str]]]:
    """Read one English text into the term chains of its mentions ("-" marks a negated one,
    "|" starts a run's parts)."""
    text_tagger = TextTagger(workers=1)
    sentence_reader = phrases.SentenceReader(
        frozenset(PHRASE_SETTINGS.carriers) | frozenset(PHRASE_SETTINGS.generic_words),
        make_word_normaliser(lemmatize=True),
    )

    def read(text: str) -> list[list[str]]:
        mentions = sentence_reader.read(text_tagger.tag_text(text))
        return [
            [("-" if mention.negated else "") + term.text for term in mention.chain]
            + (["|", *(term.text for term in mention.parts)] if mention.parts else [])
            for mention in mentions
        ]

    return read


def phrase_labels_of(english: list[list[str]], params: TagsParams = PHRASE_PARAMS) -> TagResult:
    """Label hand-written items with the method "phrases"."""
    return label_items(make_items(english), params, tagger=TextTagger(workers=1))


def test_phrases_become_single_terms(reader):
    assert reader("It has a boat neckline and puff sleeves.") == [
        ["boat neckline", "neckline"],
        ["puff sleeve", "sleeve"],
    ]
    assert reader("A dress in light blue.") == [["dress"], ["light blue", "blue"]]
    assert reader("A dark green dress.") == [["dress"], ["dark green", "|", "dark", "green"]]


def test_modifiers_of_parts_stay_with_the_part(reader):
    assert reader("A gray dress with a black collar and white dots.") == [
        ["dress"],
        ["gray"],
        ["black collar", "collar"],
        ["white dotted", "dotted"],
    ]
    assert reader("The collar is red.") == [["red collar", "collar"]]
    assert reader("It is red.") == [["red"]]
    assert reader("The straps are narrow.") == [["narrow strap", "strap"]]


def test_relations_are_not_attributes(reader):
    assert reader("It ends at the hip.") == []
    assert reader("At the waist is a bow.") == [["bow"]]


def test_negated_attributes_are_marked(reader):
    assert reader("It has no pattern or print and short sleeves.") == [
        ["-pattern"],
        ["-print"],
        ["short sleeve", "sleeve"],
    ]
    assert reader("The dress is without sleeves, the neckline is round.") == [
        ["dress"],
        ["-sleeve"],
        ["round neckline", "neckline"],
    ]
    assert reader("It is not tight.") == [["-tight"]]
    assert reader("It has neither buttons nor a belt.") == [["-button"], ["-belt"]]
    assert reader("It has a strap instead of sleeves.") == [["strap"], ["-sleeve"]]


def test_spelling_variants_and_synonyms_merge(reader):
    assert reader("The colour is grey.") == [["color"], ["gray"]]
    assert reader("A flared dress with a crew neck.") == [
        ["dress"],
        ["a-line"],
        ["round neckline", "neck"],
    ]
    assert reader("The neckline is wide and flat.") == [
        ["boat neckline", "neckline"],
        ["boat neckline", "neckline"],
    ]


def test_negated_attributes_are_no_tags_or_become_their_positive_tag():
    result = phrase_labels_of(
        [
            ["A red dress without sleeves and without pattern.", "It is not tight."],
            ["A tight blue dress with long sleeves and a floral pattern."],
        ],
        TagsParams(
            method="phrases",
            top_k=10,
            vocab_size=25,
            lemmatize=True,
            phrases=PHRASE_SETTINGS.model_copy(update={"max_df": 1.0}),
        ),
    )
    first, second = (item["tags"] for item in result.labelled)
    assert {"red", "sleeveless", "plain"} <= set(first)
    assert not {"tight", "sleeve", "pattern"} & set(first)
    assert {"tight blue", "long sleeve", "floral"} <= set(second)
    assert result.negated_items["tight"] == 1 and result.negated_items["sleeve"] == 1


def test_too_frequent_generic_and_rare_terms_are_dropped():
    english = [
        ["A red dress with a black collar. The colour is red."],
        ["A red dress with a white belt."],
        ["A blue dress with a black collar."],
    ]
    settings = PHRASE_SETTINGS.model_copy(update={"max_df": 0.7, "min_items": 2})
    result = phrase_labels_of(english, PHRASE_PARAMS.model_copy(update={"phrases": settings}))
    assert result.dropped["dress"] == (3, "too frequent")
    assert result.dropped["color"] == (1, "generic")
    assert result.dropped["blue"] == (1, "too rare")
    assert result.dropped["belt"] == (1, "too rare")  # "white belt" fell back to it
    assert result.vocabulary == {"nouns": [], "adjectives": ["red"], "phrases": ["black collar"]}
    assert [item["tags"] for item in result.labelled] == [
        ["black collar", "red"],
        ["red"],
        ["black collar"],
    ]


def test_a_rare_run_of_dress_adjectives_falls_back_to_each_word():
    english = [["A tight blue dress."], ["A tight dress."], ["A blue dress."]]
    settings = PHRASE_SETTINGS.model_copy(update={"max_df": 0.9, "min_items": 2})
    result = phrase_labels_of(english, PHRASE_PARAMS.model_copy(update={"phrases": settings}))
    assert [item["tags"] for item in result.labelled] == [["blue", "tight"], ["tight"], ["blue"]]
    assert result.dropped["tight blue"] == (1, "too rare")


def test_a_word_inside_a_kept_phrase_is_no_tag_of_its_own():
    english = [["A dress with a boat neckline."], ["It has a boat neckline."], ["Red dress."]]
    result = phrase_labels_of(english)
    assert "boat neckline" in result.labelled[0]["tags"]
    assert "neckline" not in result.labelled[0]["tags"]
    assert "neckline" not in result.vocabulary["nouns"]


def test_phrases_method_needs_its_section():
    with pytest.raises(ValueError, match="tags.phrases"):
        TagsParams(method="phrases", top_k=10, vocab_size=25, lemmatize=True)


def test_tag_report_lists_tags_negations_and_dropped_terms():
    result = phrase_labels_of(
        [["A red dress without sleeves."], ["A red dress with short sleeves."], ["Blue dress."]]
    )
    report = tag_report(result, "phrases")
    assert report["items"] == 3 and report["method"] == "phrases"
    by_tag = {row["tag"]: row for row in report["tags"]}
    assert by_tag["red"] == {"tag": "red", "kind": "adjective", "items": 2, "negated_items": 0}
    assert by_tag["sleeveless"]["items"] == 1
    assert {"term": "dress", "items": 3, "reason": "too frequent"} in report["dropped"]
    rows = tag_report_rows(report)
    assert {"term": "red", "kind": "adjective", "status": "tag", "items": 2} in rows
    assert {"term": "dress", "kind": "dropped", "status": "too frequent", "items": 3} in rows


# --- method "recipe" is unchanged ---------------------------------------------------------------


def test_recipe_reproduces_its_labels_on_sample_items():
    """The recipe's labels and vocabulary on 60 sample items, as produced before the method
    "phrases" existed (tests/data/tags_recipe_sample.json)."""
    fixture = json.loads((DATA / "tags_recipe_sample.json").read_text(encoding="utf-8"))
    params = TagsParams(method="recipe", top_k=10, vocab_size=12, lemmatize=True)
    labels, vocabulary, *_ = extract_labels(fixture["english"], params, TextTagger(workers=1))
    assert vocabulary == fixture["vocabulary"]
    assert labels == fixture["labels"]


def test_main_with_method_phrases_writes_the_tag_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_stage_inputs(tmp_path, make_items())
    with (tmp_path / "params.yaml").open("a", encoding="utf-8") as handle:
        handle.write(
            "  method: phrases\n  phrases:\n    vocab_size: 5\n    max_df: 0.6\n"
            "    min_items: 1\n    carriers: [dress]\n    generic_words: [skirt]\n"
        )
    tags_stage.main()
    report = json.loads(paths.TAG_REPORT_FILE.read_text(encoding="utf-8"))
    vocabulary = json.loads(paths.VOCABULARY_FILE.read_text(encoding="utf-8"))
    assert report["method"] == "phrases" and report["items"] == 4
    assert set(vocabulary) == {"nouns", "adjectives", "phrases"}
    assert report["vocabulary_size"] == sum(map(len, vocabulary.values())) == len(report["tags"])
    assert {"term": "dress", "items": 4, "reason": "too frequent"} in report["dropped"]
    with paths.TAG_REPORT_PLOT_FILE.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["status"] for row in rows} >= {"tag", "negated", "too frequent"}


def test_a_v_shape_in_the_text_is_a_v_neckline(reader):
    """The glossary translates "Ausschnitt in V-Form" as "neckline in V-shape"."""
    assert reader("Neckline in V-shape.") == [["neckline"], ["v neckline"]]


def test_relations_to_body_landmarks_give_the_length(reader):
    assert reader("It ends well above the knee.") == [["short"]]
    assert reader("The dress reaches about to the knee.") == [["dress"], ["knee-length"]]
    assert reader("It reaches to the middle of the thighs.") == [["short"]]
    assert reader("It does not reach to the floor.") == [["-floor-length"]]
    # German verb-final order: "wenn sie knapp über dem Knie enden"
    assert reader("If it just above the knee end.") == [["knee-length"]]


def test_gowns_and_materials_carry_the_dress_modifiers(reader):
    assert reader("An evening dress of red silk, that reaches to the floor.") == [
        ["dress"],
        ["evening"],
        ["silk"],
        ["red"],
        ["floor-length"],
    ]
    assert reader("The gown is emerald green.") == [["gown"], ["green"]]


def test_modifier_runs_are_cut_at_parts_and_multi_word_variants(reader):
    assert reader("A sky blue long sleeve mini dress with button placket.") == [
        ["dress"],
        ["light blue"],
        ["long sleeve", "sleeve"],
        ["short"],
        ["button"],
    ]


def test_only_instead_of_negates(reader):
    assert reader("Instead of a belt it has a bow.") == [["-belt"], ["bow"]]
    assert reader("Instead, it has a bow.") == [["bow"]]


def test_a_relation_to_a_stop_word_does_not_reach_the_next_phrase(reader):
    assert reader("At the front are gold buttons.") == [["gold button", "button"]]


@pytest.mark.parametrize("method", ["recipe", "phrases"])
def test_mentions_count_the_texts_stating_each_label(method):
    """Agreement targets need, per label, how many of the item's texts state it: every label
    is stated by at least one text and by at most all of them, and a label said in one text
    only counts 1."""
    items = [
        {"id": "a", "english": ["A red dress with a belt.", "A red dress.", "Red dress, short."]},
        {"id": "b", "english": ["A blue dress with a belt.", "A blue dress.", "Blue dress."]},
    ]
    settings = PHRASE_SETTINGS.model_copy(update={"min_items": 1, "max_df": 1.0})
    params = PARAMS.model_copy(update={"method": method, "phrases": settings})
    result = label_items(items, params)
    first = result.labelled[0]
    assert first["descriptions"] == 3
    assert set(first["mentions"]) == set(first["tags"])
    assert first["mentions"]["red"] == 3
    assert first["mentions"]["belt"] == 1


def test_coordinated_adjectives_share_the_part_after_them(reader):
    assert reader("Sheath dresses with short and long sleeves.")[-2:] == [
        ["short sleeve", "sleeve"],
        ["long sleeve", "sleeve"],
    ]
    assert reader("It comes with long, short or slightly puffed sleeves.")[-3:] == [
        ["long sleeve", "sleeve"],
        ["short sleeve", "sleeve"],
        ["puff sleeve", "sleeve"],
    ]
    # not across other words, and not for heads that are no part of the dress
    assert reader("It is short and has long sleeves.")[0] == ["short"]
    assert reader("A black and white dress.")[:1] == [["black"]]


def test_a_degree_word_narrows_the_relation_to_the_knee(reader):
    assert reader("The hem ends just above the knee.")[-1] == ["knee-length"]
    assert reader("The hem ends well above the knee.")[-1] == ["short"]


def test_tagger_slips_are_repaired_before_chunking():
    assert phrases.repair_tags([("(", "JJ"), ("neckline", "JJ"), (")", "NN")]) == [
        ("(", "("),
        ("neckline", "NN"),
        (")", ")"),
    ]
    assert phrases.repair_tags([("the", "DT"), ("striped", "VBD"), ("dress", "NN")])[1] == (
        "striped",
        "VBN",
    )
    assert phrases.repair_tags([("it", "PRP"), ("faded", "VBD"), ("away", "RB")])[1] == (
        "faded",
        "VBD",
    )


def test_a_carrier_inside_a_modifier_run_ends_the_stretch(reader):
    assert reader("A light blue silk dress.") == [
        ["dress"],
        ["light blue", "|", "light", "blue"],
        ["silk"],
    ]


def test_a_relation_to_no_place_is_read_as_any_phrase(reader):
    assert reader("It has three rows of ruffles at the hem.")[-1:] == [["ruffle"]]
    assert reader("At this long black dress.") == [["dress"], ["long black", "|", "long", "black"]]
    assert reader("A bow at the waist.") == [["bow"]]
    # a part whose modifier makes a listed term states that term, though a relation leads in
    assert reader("Ruffles at the half-length sleeves.")[-1] == ["three-quarter sleeve", "sleeve"]
    assert reader("Ruffles from the collar to the hem.") == [["ruffle"]]


def test_a_verb_tag_joined_to_an_adjective_before_a_noun_is_an_adjective():
    tagged = [("can", "MD"), ("short", "VB"), ("or", "CC"), ("long", "JJ"), ("sleeves", "NNS")]
    assert phrases.repair_tags(tagged)[1] == ("short", "JJ")
    assert phrases.repair_tags([("go", "VB"), ("or", "CC"), ("stay", "VB")])[0] == ("go", "VB")


def test_a_noun_joined_to_an_adjective_is_one_where_it_names_a_listed_term():
    tagged = [("round", "NN"), ("and", "CC"), ("v-shaped", "JJ"), ("necklines", "NNS")]
    assert phrases.repair_tags(tagged)[0] == ("round", "JJ")  # round neckline is listed
    tagged = [("lace", "NN"), ("and", "CC"), ("long", "JJ"), ("sleeves", "NNS")]
    assert phrases.repair_tags(tagged)[0] == ("lace", "NN")  # "lace sleeve" is not


def test_a_noun_phrase_is_cut_after_a_plural_or_a_part_before_a_modifier(reader):
    assert reader("On the back large bows.") == [["large bow", "bow"]]
    assert reader("In small pleats laid shoulder areas.")[0] == ["small pleat", "pleat"]
    # German verb-second order: the verb after a plural subject is read as a noun
    assert reader("The modern v-necks lay the neckline bare.")[0] == [
        "modern v neckline",
        "v neckline",
    ]


def test_a_carrier_inside_a_noun_phrase_takes_the_modifiers_before_it(reader):
    assert reader("It has a flared skirt hem.") == [["skirt"], ["a-line"], ["hem"]]


def test_a_part_after_a_copula_is_a_thing_of_its_own(reader):
    assert reader("In the empire were small puff sleeves popular.")[-1] == [
        *["small puff sleeve", "puff sleeve", "sleeve"]
    ]


def test_another_verb_ends_what_the_copula_links(reader):
    read = reader("The collar looks formal and makes the dress in black.")
    assert ["black"] in read and ["formal collar", "collar"] in read


def test_a_relative_clause_is_about_the_noun_before_it(reader):
    assert reader("A zipper, that is white.") == [["white zipper", "zipper"]]
    assert reader("A dress, that is red.") == [["dress"], ["red"]]  # the dress's colour


def test_a_run_may_state_a_second_tag_besides_its_synonym(reader):
    assert reader("A dress with a large floral print.") == [
        *[["dress"], ["large floral print", "floral", "print"], ["printed"]]
    ]
    assert reader("Without floral print.") == [["-floral", "-print"], ["-printed"]]


def test_a_negated_approval_denies_what_the_clause_named(reader):
    assert reader("Black is not desired.") == [["-black"]]
    assert reader("The dress is red. Black is not desired.") == [["dress"], ["red"], ["-black"]]


def test_a_word_of_rejection_denies_what_its_clause_names(reader):
    assert reader("Black should be avoided.") == [["-black"]]
    assert reader("To avoid are plain dresses in red.") == [["dress"], ["-plain"], ["-red"]]
    assert reader("White, ivory and cream are better to avoid.")[0] == ["-white"]
    assert reader("The dress is red. Avoid black.") == [["dress"], ["red"], ["-black"]]


def test_what_the_dress_is_compared_with_is_not_the_dress(reader):
    assert reader("A red dress, less formal than a floor-length gown or black dress.") == [
        ["dress"],
        ["red"],
        ["formal"],
    ]
    assert reader("It is shorter than the knee, with a black collar.")[-1] == [
        "black collar",
        "collar",
    ]


def test_a_tone_falls_back_to_its_colour(reader):
    assert reader("Dresses in cream tones.") == [["dress"], ["cream tone", "cream"]]


def test_the_material_of_a_part_gives_its_modifiers_to_the_part(reader):
    assert reader("A collar of gold-colored silk.") == [["collar"], ["gold collar", "collar"]]
    assert reader("A dress of red silk.") == [["dress"], ["silk"], ["red"]]  # the dress's


def test_a_piece_falls_back_to_what_it_is_made_of(reader):
    assert reader("Crocheted lace inlays.") == [["crocheted lace inlay", "crocheted lace", "lace"]]
    assert reader("A stripe decor.") == [["striped decor", "striped"]]
    assert reader("A floral print.") == [["floral", "print"], ["printed"]]
    # its material's modifiers are the piece's: the border is purple, the dress is not
    assert reader("Appliqués with a purple-colored silk border.") == [
        ["purple-colored silk border", "purple-colored silk", "silk"]
    ]


def test_a_listed_plural_names_the_things_not_its_singular():
    normalise = make_word_normaliser(lemmatize=True)
    assert normalise("roses", "NNS") == "floral"  # the flowers
    assert normalise("rose", "JJ") == "rose"  # the colour
    assert normalise("sleeves", "NNS") == "sleeve"


def test_a_material_after_the_copula_is_the_dress_unless_a_part_is_the_subject(reader):
    # German order: what is characteristic is the red silk, not a red "characteristic"
    assert reader("Characteristic are a high waist and red silk.") == [
        *[["characteristic"], ["high waist", "waist"], ["silk"], ["red"]]
    ]
    assert reader("The collar is black silk.") == [["black collar", "collar"]]


def test_a_listed_term_tagged_as_an_adverb_after_a_copula_or_before_a_participle_is_one():
    tagged = [("it", "PRP"), ("sits", "VBZ"), ("loose", "RB"), ("in", "IN"), ("front", "NN")]
    assert phrases.repair_tags(tagged)[2] == ("loose", "JJ")
    assert phrases.repair_tags([("is", "VBZ"), ("tight", "RB"), ("fitted", "VBN")])[1] == (
        "tight",
        "JJ",
    )
    # an adverb that names no listed term stays one
    assert phrases.repair_tags([("is", "VBZ"), ("here", "RB"), ("in", "IN")])[1] == ("here", "RB")


def test_loose_is_wide(reader):
    assert reader("A loose dress.") == [["dress"], ["wide"]]
    assert reader("The skirt falls loose.") == [["skirt"], ["wide"]]


def test_a_past_form_at_the_clause_end_is_a_participle():
    assert phrases.repair_tags([("gladly", "RB"), ("checked", "VBD"), (".", ".")])[1] == (
        "checked",
        "VBN",
    )


def test_with_after_a_copula_lists_what_the_subject_has(reader):
    assert reader("The bolero is with lace and beads bordered.")[:3] == [
        ["bolero"],
        ["lace"],
        ["bead"],
    ]
    assert reader("The collar is black.") == [["black collar", "collar"]]


def test_a_copula_after_and_describes_the_clause_subject(reader):
    # the skirt is the subject, not the object of "has": its adjectives describe the dress
    assert reader("The skirt has much volume and is wide.")[-1] == ["wide"]
    # a part as the subject keeps them; a relative clause describes the noun before it
    assert reader("The collar has buttons and is black.")[0] == ["black collar", "collar"]
    assert reader("The dress has a collar that is black.")[-1] == ["black collar", "collar"]


def test_verbs_of_fit_link_the_subject_to_its_adjectives(reader):
    assert reader("The waist sits high.") == [["high waist", "waist"]]
    assert reader("The dress falls wide.") == [["dress"], ["wide"]]


def test_a_colored_compound_stands_for_its_colour():
    assert phrases.canonical("turquoise-colored") == "turquoise"
    assert phrases.canonical("gold-colored") == "gold"
    assert phrases.canonical("fuchsia-colored") == "pink"
    assert phrases.canonical("-colored") == "-colored"


def test_an_adverb_tag_where_only_an_adjective_fits_is_an_adjective():
    def tags(tagged):
        return [tag for _, tag in phrases.repair_tags(tagged)]

    assert tags([("has", "VBZ"), ("long", "RB"), ("sleeves", "NNS")])[1] == "JJ"
    assert tags([("long", "RB"), (",", ","), ("wide", "JJ"), ("sleeves", "NNS")])[0] == "JJ"
    assert tags([("sleeves", "NNS"), ("are", "VBP"), ("long", "RB"), (".", ".")])[2] == "JJ"
    assert tags([("is", "VBZ"), ("just", "RB"), ("knee-length", "NN")])[1] == "RB"


def test_sleeve_headings_wrists_and_elbows_give_the_sleeve(reader):
    assert reader("Sleeve: short.") == [["short sleeve", "sleeve"]]
    assert reader("The sleeves reach to the wrist.")[-1] == ["long sleeve"]
    assert reader("The sleeves end above the elbow.")[-1] == ["short sleeve"]
    assert reader("The long sleeves are tight.") == [
        ["long sleeve", "sleeve"],
        ["tight sleeve", "sleeve"],
    ]


def test_length_words_with_length_merge_into_the_length_tag(reader):
    assert reader("A dress in knee length.") == [["dress"], ["knee-length"]]
    assert reader("An above-knee dress.") == [["dress"], ["short"]]
