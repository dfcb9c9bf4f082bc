"""Tags: turn each item's English descriptions into a few labels from a small vocabulary.

The recipe, made well-defined:
1. POS-tag every description (text.postag: NLTK's averaged perceptron, offline weights).
2. Candidate terms are nouns (NN*) and adjectives (JJ*): lower-case, alphabetic words (hyphenated
   ones such as knee-length included), at least MIN_TERM_LENGTH letters, not scikit-learn's
   English stop words (the list behind the recipe's `TfidfVectorizer(stop_words='english')`).
   With `lemmatize`, plural nouns become singular (sleeves -> sleeve) by rules, because WordNet
   is not available offline. A word tagged NN in one place and JJ in another gets one kind, its
   majority tag over the corpus (ties: noun), so nouns and adjectives never share a term.
3. An item's document is all its descriptions together. Each candidate term is scored by its
   TF-IDF weight in that document: scikit-learn's TfidfVectorizer over the candidate terms, with
   raw counts as tf, smooth idf = ln((1 + n) / (1 + df)) + 1 and l2-normalised rows (the
   normalisation does not change an item's ranking). Each item keeps its top_k nouns and top_k
   adjectives, ties broken alphabetically.
4. The vocabulary is the vocab_size nouns and vocab_size adjectives selected by most items
   (ties alphabetical); an item's labels are its selections that are in the vocabulary.
Items that carry "tags" (a user's labelled images) skip all this and keep their own tags; then
every item must carry them and the vocabulary is every given tag.

Outputs: data/tags/items.json ([{"id", "tags": [sorted labels]}], sorted by id),
data/tags/vocabulary.json ({"nouns": [...], "adjectives": [...]} or {"given": [...]}, each in
frequency order) and metrics/tag_frequency.csv (tag,kind,items; a DVC bar plot).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from fashion_tagger.data.items import load_items
from fashion_tagger.errors import PipelineError
from fashion_tagger.params import StrictModel
from fashion_tagger.text.postag import TaggedSentence, TextTagger

NOUN, ADJECTIVE, GIVEN = "noun", "adjective", "given"
# Key of each kind in vocabulary.json, in the order the file lists them.
VOCABULARY_KEYS = {NOUN: "nouns", ADJECTIVE: "adjectives", GIVEN: "given"}

MIN_TERM_LENGTH = 3
TERM_PATTERN = re.compile(r"[a-z]+(?:-[a-z]+)*")

# Plurals that the suffix rules below would get wrong.
IRREGULAR_PLURALS = {
    "men": "man",
    "women": "woman",
    "children": "child",
    "feet": "foot",
    "teeth": "tooth",
    "geese": "goose",
    "mice": "mouse",
    "people": "person",
    "knives": "knife",
    "wives": "wife",
    "lives": "life",
    "leaves": "leaf",
    "halves": "half",
    "calves": "calf",
    "shelves": "shelf",
    "scarves": "scarf",
    "wolves": "wolf",
    "thieves": "thief",
    "heroes": "hero",
    "echoes": "echo",
    "potatoes": "potato",
    "tomatoes": "tomato",
    "criteria": "criterion",
    "phenomena": "phenomenon",
}
# Nouns that are plural in form only, or the same in both numbers: kept as they are.
UNCHANGED_PLURALS = frozenset(
    {
        "clothes",
        "trousers",
        "pants",
        "jeans",
        "shorts",
        "tights",
        "leggings",
        "culottes",
        "dungarees",
        "overalls",
        "pyjamas",
        "pajamas",
        "knickers",
        "glasses",
        "sunglasses",
        "scissors",
        "series",
        "species",
        "news",
        "means",
        "canvas",
        "physics",
        "mathematics",
        "economics",
        "graphics",
        "aesthetics",
    }
)
# Suffix rules, first match wins: (plural ending, singular ending).
PLURAL_SUFFIXES = (
    ("sses", "ss"),  # dresses -> dress
    ("zzes", "zz"),  # buzzes -> buzz
    ("xes", "x"),  # boxes -> box
    ("ches", "ch"),  # patches -> patch
    ("shes", "sh"),  # sashes -> sash
)


class TagsParams(StrictModel):
    """The `tags` section of params.yaml."""

    top_k: int = Field(gt=0, description="nouns and adjectives each item keeps (TF-IDF)")
    vocab_size: int = Field(gt=0, description="most frequent nouns (and adjectives) kept")
    lemmatize: bool = Field(description="turn plural nouns into singular ones")


def load_translated_items(path: Path | str) -> list[dict]:
    """Read the translate stage's items: normalised items plus "english", a list of strings."""
    items = load_items(path)
    for item in items:
        english = item.get("english")
        if not isinstance(english, list) or not all(isinstance(text, str) for text in english):
            raise PipelineError(f"{path}: item {item['id']!r}: 'english' must be a list of strings")
    return items


def singularize(word: str) -> str:
    """Singular of an English plural noun, by an exceptions list and suffix rules.

    Only the last part of a hyphenated word is changed (v-necks -> v-neck). Words that do not
    look plural (dress, chiffon) come back unchanged.
    """
    head, _, last = word.rpartition("-")
    prefix = f"{head}-" if head else ""
    if last in IRREGULAR_PLURALS:
        return prefix + IRREGULAR_PLURALS[last]
    if last in UNCHANGED_PLURALS or not last.endswith("s") or last.endswith(("ss", "us", "is")):
        return word
    for plural, singular in PLURAL_SUFFIXES:
        if last.endswith(plural):
            return prefix + last[: -len(plural)] + singular
    if last.endswith("ies") and len(last) > 4:  # accessories -> accessory, but ties -> tie
        return prefix + last[:-3] + "y"
    return prefix + last[:-1]  # sleeves -> sleeve, straps -> strap, shoes -> shoe


def candidate_terms(tagged: TaggedSentence, lemmatize: bool) -> list[tuple[str, str]]:
    """The (term, kind) of each noun and adjective token worth keeping, in text order."""
    terms = []
    for token, tag in tagged:
        if tag.startswith("NN"):
            kind = NOUN
        elif tag.startswith("JJ"):
            kind = ADJECTIVE
        else:
            continue
        term = token.lower()
        if kind == NOUN and lemmatize and tag in ("NNS", "NNPS"):
            term = singularize(term)
        if (
            len(term) >= MIN_TERM_LENGTH
            and TERM_PATTERN.fullmatch(term)
            and term not in ENGLISH_STOP_WORDS
        ):
            terms.append((term, kind))
    return terms


def majority_kinds(documents: Sequence[Sequence[tuple[str, str]]]) -> dict[str, str]:
    """Each term's kind: the one it was tagged with most often over all documents (ties: noun)."""
    counts = Counter(pair for document in documents for pair in document)
    terms = {term for term, _ in counts}
    return {
        term: NOUN if counts[term, NOUN] >= counts[term, ADJECTIVE] else ADJECTIVE for term in terms
    }


def _pretokenized(document: list[str]) -> list[str]:
    """Analyzer for TfidfVectorizer: documents arrive already as lists of terms."""
    return document


def tfidf_scores(documents: Sequence[list[str]]) -> list[dict[str, float]]:
    """TF-IDF weight of every term in every document (raw tf, smooth idf, l2 norm)."""
    vocabulary = sorted({term for document in documents for term in document})
    if not vocabulary:
        return [{} for _ in documents]
    vectorizer = TfidfVectorizer(
        analyzer=_pretokenized, vocabulary=vocabulary, smooth_idf=True, norm="l2"
    )
    matrix = vectorizer.fit_transform(documents).tocsr()
    scores = []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        scores.append(
            {
                vocabulary[column]: float(value)
                for column, value in zip(
                    matrix.indices[start:end], matrix.data[start:end], strict=True
                )
            }
        )
    return scores


def select_terms(
    scores: dict[str, float], kinds: dict[str, str], top_k: int
) -> dict[str, list[str]]:
    """An item's top_k nouns and top_k adjectives by score, ties broken by the term."""
    ranked = sorted(scores, key=lambda term: (-scores[term], term))
    return {
        kind: [term for term in ranked if kinds[term] == kind][:top_k] for kind in (NOUN, ADJECTIVE)
    }


def build_vocabulary(
    selections: Sequence[dict[str, list[str]]], vocab_size: int
) -> dict[str, list[str]]:
    """Per kind, the vocab_size terms selected by most items (ties by term), most frequent first."""
    vocabulary = {}
    for kind in (NOUN, ADJECTIVE):
        counts = Counter(term for selection in selections for term in selection[kind])
        ranked = sorted(counts, key=lambda term: (-counts[term], term))
        vocabulary[VOCABULARY_KEYS[kind]] = ranked[:vocab_size]
    return vocabulary


def extract_labels(
    texts: Sequence[Sequence[str]],
    params: TagsParams,
    tagger: TextTagger | None = None,
    progress: bool = False,
) -> tuple[list[list[str]], dict[str, list[str]]]:
    """Labels (sorted) of each item, given each item's English texts, and the vocabulary."""
    tagger = TextTagger() if tagger is None else tagger
    flat = [text for item_texts in texts for text in item_texts]
    tagged = iter(tagger.tag_texts(flat, progress=progress))
    documents = [
        [pair for _ in item_texts for pair in candidate_terms(next(tagged), params.lemmatize)]
        for item_texts in texts
    ]
    kinds = majority_kinds(documents)
    scores = tfidf_scores([[term for term, _ in document] for document in documents])
    selections = [select_terms(item_scores, kinds, params.top_k) for item_scores in scores]
    vocabulary = build_vocabulary(selections, params.vocab_size)
    in_vocabulary = {term for terms in vocabulary.values() for term in terms}
    labels = [
        sorted(term for terms in selection.values() for term in terms if term in in_vocabulary)
        for selection in selections
    ]
    return labels, vocabulary


def normalise_given_tags(tags: Sequence[str]) -> list[str]:
    """A user's own tags: lower-cased, stripped, without blanks or duplicates, sorted."""
    return sorted({tag.strip().lower() for tag in tags} - {""})


def given_vocabulary(labels: Sequence[list[str]]) -> dict[str, list[str]]:
    """Every given tag, most frequent first (ties by tag)."""
    counts = Counter(tag for item_labels in labels for tag in item_labels)
    return {VOCABULARY_KEYS[GIVEN]: sorted(counts, key=lambda tag: (-counts[tag], tag))}


def label_items(
    items: Sequence[dict],
    params: TagsParams,
    source: Path | str = "items",
    tagger: TextTagger | None = None,
    progress: bool = False,
) -> tuple[list[dict], dict[str, list[str]]]:
    """Label every item: extracted from its English texts, or its given tags if all have them.

    Returns ([{"id", "tags"}] sorted by id, vocabulary).
    """
    items = sorted(items, key=lambda item: item["id"])
    has_tags = "tags" in items[0]
    for item in items:
        if ("tags" in item) != has_tags:
            raise PipelineError(
                f"{source}: item {item['id']!r} {'lacks' if has_tags else 'has'} 'tags' while "
                f"item {items[0]['id']!r} {'has' if has_tags else 'lacks'} them; "
                "either every item carries given tags or none does"
            )
    if has_tags:
        labels = [normalise_given_tags(item["tags"]) for item in items]
        vocabulary = given_vocabulary(labels)
    else:
        texts = [item["english"] for item in items]
        labels, vocabulary = extract_labels(texts, params, tagger=tagger, progress=progress)
    if not any(vocabulary.values()):
        raise PipelineError(f"{source}: no tags found (no nouns or adjectives in any item)")
    labelled = [
        {"id": item["id"], "tags": item_labels}
        for item, item_labels in zip(items, labels, strict=True)
    ]
    return labelled, vocabulary


def tag_frequency(labelled: Sequence[dict], vocabulary: dict[str, list[str]]) -> list[dict]:
    """Rows {tag, kind, items}: how many items carry each vocabulary tag, most first."""
    counts = Counter(tag for item in labelled for tag in item["tags"])
    kind_of = {
        tag: kind for kind, key in VOCABULARY_KEYS.items() for tag in vocabulary.get(key, [])
    }
    rows = [{"tag": tag, "kind": kind, "items": counts[tag]} for tag, kind in kind_of.items()]
    return sorted(rows, key=lambda row: (-row["items"], row["tag"]))
