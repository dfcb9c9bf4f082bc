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

Outputs: data/tags/items.json ([{"id", "tags": [sorted labels], "descriptions": number of
texts, "mentions": {label: texts stating it}}], sorted by id; given tags: 1 text),
data/tags/vocabulary.json ({"nouns": [...], "adjectives": [...]} or {"given": [...]}, each in
frequency order) and metrics/tag_frequency.csv (tag,kind,items; a DVC bar plot).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from fashion_tagger.data.items import load_items
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import read_table
from fashion_tagger.params import StrictModel
from fashion_tagger.text import phrases
from fashion_tagger.text.postag import TaggedSentence, TextTagger

NOUN, ADJECTIVE, PHRASE, GIVEN = phrases.NOUN, phrases.ADJECTIVE, phrases.PHRASE, "given"
# Key of each kind in vocabulary.json, in the order the file lists them.
VOCABULARY_KEYS = {NOUN: "nouns", ADJECTIVE: "adjectives", PHRASE: "phrases", GIVEN: "given"}

MIN_TERM_LENGTH = 3
TERM_PATTERN = re.compile(r"[a-z]+(?:-[a-z]+)*")

PLURALS_FILE = phrases.RESOURCES / "english_plurals.tsv"
PLURAL_KINDS = ("irregular", "unchanged", "suffix")


def plural_rules(path: Path = PLURALS_FILE) -> dict[str, list[tuple[str, str]]]:
    """English plural rules by kind (irregular plurals, nouns kept as they are, suffix rules
    in order), from english_plurals.tsv."""
    rules: dict[str, list[tuple[str, str]]] = {kind: [] for kind in PLURAL_KINDS}
    for kind, plural, singular in read_table(path, 3):
        if kind not in rules:
            raise PipelineError(f"{path}: plural {plural!r}: unknown kind {kind!r}")
        rules[kind].append((plural, singular))
    return rules


PLURAL_RULES = plural_rules()
IRREGULAR_PLURALS = dict(PLURAL_RULES["irregular"])
UNCHANGED_PLURALS = frozenset(plural for plural, _ in PLURAL_RULES["unchanged"])
PLURAL_SUFFIXES = tuple(PLURAL_RULES["suffix"])  # (plural ending, singular ending), first wins


class PhrasesParams(StrictModel):
    """The `tags.phrases` section: settings of the method "phrases" (`extract_phrase_labels`)."""

    vocab_size: int = Field(gt=0, description="tags kept per kind (nouns, adjectives, phrases)")
    max_df: float = Field(gt=0, le=1, description="terms on more than this share of items drop")
    min_items: int = Field(ge=1, description="terms on fewer items than this drop")
    generic_words: list[str] = Field(description="words of descriptions that name no attribute")
    carriers: list[str] = Field(description="nouns whose modifiers describe the whole garment")


class TagsParams(StrictModel):
    """The `tags` section of params.yaml."""

    # no default: params.yaml is the one place that chooses (docs/tags.md describes both)
    method: Literal["recipe", "phrases"] = Field(
        description="recipe: the recipe's TF-IDF top-k rule; phrases: extract_phrase_labels"
    )
    top_k: int = Field(gt=0, description="recipe: nouns and adjectives each item keeps (TF-IDF)")
    vocab_size: int = Field(gt=0, description="recipe: most frequent nouns (and adjectives) kept")
    lemmatize: bool = Field(description="turn plural nouns into singular ones")
    phrases: PhrasesParams | None = None

    @model_validator(mode="after")
    def _method_settings(self) -> TagsParams:
        if self.method == "phrases" and self.phrases is None:
            raise ValueError("method 'phrases' needs the section tags.phrases")
        return self


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


def token_word(token: str, tag: str, lemmatize: bool) -> str:
    """A token lower-cased, and singular if it is a plural noun and `lemmatize` is on."""
    word = token.lower()
    if lemmatize and tag in ("NNS", "NNPS"):
        word = singularize(word)
    return word


def is_term_word(word: str) -> bool:
    """Whether a word can be a term: MIN_TERM_LENGTH letters or more, alphabetic (hyphens
    inside allowed), not an English stop word."""
    return (
        len(word) >= MIN_TERM_LENGTH
        and TERM_PATTERN.fullmatch(word) is not None
        and word not in ENGLISH_STOP_WORDS
    )


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
        term = token_word(token, tag, lemmatize)
        if is_term_word(term):
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


def tag_items(
    texts: Sequence[Sequence[str]], tagger: TextTagger | None, progress: bool
) -> list[list[TaggedSentence]]:
    """POS-tag every item's texts in one batch; the tagged texts regrouped by item."""
    tagger = TextTagger() if tagger is None else tagger
    flat = [text for item_texts in texts for text in item_texts]
    tagged = iter(tagger.tag_texts(flat, progress=progress))
    return [[next(tagged) for _ in item_texts] for item_texts in texts]


def extract_labels(
    texts: Sequence[Sequence[str]],
    params: TagsParams,
    tagger: TextTagger | None = None,
    progress: bool = False,
) -> tuple[list[list[str]], dict[str, list[str]], dict[str, tuple[int, str]], list[dict]]:
    """Labels (sorted) of each item, given each item's English texts, the vocabulary, the
    selected terms left out of it ({term: (items selecting it, "beyond vocab_size")}) and per
    item how many of its texts contain each label."""
    tagged = tag_items(texts, tagger, progress)
    per_text = [
        [{term for term, _ in candidate_terms(sentence, params.lemmatize)} for sentence in item]
        for item in tagged
    ]
    documents = [
        [pair for sentence in sentences for pair in candidate_terms(sentence, params.lemmatize)]
        for sentences in tagged
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
    selected = Counter(
        term for selection in selections for terms in selection.values() for term in terms
    )
    dropped = {
        term: (count, "beyond vocab_size")
        for term, count in selected.items()
        if term not in in_vocabulary
    }
    counts = [
        {label: sum(label in text for text in texts) for label in item_labels}
        for item_labels, texts in zip(labels, per_text, strict=True)
    ]
    return labels, vocabulary, dropped, counts


def normalise_given_tags(tags: Sequence[str]) -> list[str]:
    """A user's own tags: lower-cased, stripped, without blanks or duplicates, sorted."""
    return sorted({tag.strip().lower() for tag in tags} - {""})


def given_vocabulary(labels: Sequence[list[str]]) -> dict[str, list[str]]:
    """Every given tag, most frequent first (ties by tag)."""
    counts = Counter(tag for item_labels in labels for tag in item_labels)
    return {VOCABULARY_KEYS[GIVEN]: sorted(counts, key=lambda tag: (-counts[tag], tag))}


@dataclass
class TagResult:
    """What the tags stage writes: labelled items, vocabulary, and the report's counts."""

    labelled: list[dict]  # [{"id", "tags"}] sorted by id
    vocabulary: dict[str, list[str]]
    negated_items: Counter  # term -> items whose text negates it
    dropped: dict[str, tuple[int, str]]  # term -> (items, why it is no tag)


def label_items(
    items: Sequence[dict],
    params: TagsParams,
    source: Path | str = "items",
    tagger: TextTagger | None = None,
    progress: bool = False,
) -> TagResult:
    """Label every item: extracted from its English texts by params.method, or its given tags
    if all have them."""
    items = sorted(items, key=lambda item: item["id"])
    has_tags = "tags" in items[0]
    for item in items:
        if ("tags" in item) != has_tags:
            raise PipelineError(
                f"{source}: item {item['id']!r} {'lacks' if has_tags else 'has'} 'tags' while "
                f"item {items[0]['id']!r} {'has' if has_tags else 'lacks'} them; "
                "either every item carries given tags or none does"
            )
    negated_items: Counter = Counter()
    if has_tags:
        labels = [normalise_given_tags(item["tags"]) for item in items]
        vocabulary, dropped = given_vocabulary(labels), {}
        counts = [dict.fromkeys(item_labels, 1) for item_labels in labels]
    else:
        texts = [item["english"] for item in items]
        if params.method == "recipe":
            labels, vocabulary, dropped, counts = extract_labels(texts, params, tagger, progress)
        else:
            labels, vocabulary, dropped, negated_items, counts = extract_phrase_labels(
                texts, params, tagger, progress
            )
    if not any(vocabulary.values()):
        raise PipelineError(f"{source}: no tags found (no nouns or adjectives in any item)")
    labelled = [
        {
            "id": item["id"],
            "tags": item_labels,
            "descriptions": 1 if has_tags else len(item["english"]),
            "mentions": item_counts,
        }
        for item, item_labels, item_counts in zip(items, labels, counts, strict=True)
    ]
    return TagResult(labelled, vocabulary, negated_items, dropped)


def tag_frequency(labelled: Sequence[dict], vocabulary: dict[str, list[str]]) -> list[dict]:
    """Rows {tag, kind, items}: how many items carry each vocabulary tag, most first."""
    counts = Counter(tag for item in labelled for tag in item["tags"])
    kind_of = {
        tag: kind for kind, key in VOCABULARY_KEYS.items() for tag in vocabulary.get(key, [])
    }
    rows = [{"tag": tag, "kind": kind, "items": counts[tag]} for tag, kind in kind_of.items()]
    return sorted(rows, key=lambda row: (-row["items"], row["tag"]))


# --- Method "phrases" ---------------------------------------------------------------------------
# 1. Every description is POS-tagged and read into mentions (text.phrases): noun and adjective
#    phrases with fallbacks, negation, relations and attached modifiers resolved; words and
#    phrases pass through the synonym table. Carriers, whose modifiers describe the dress, are
#    the nouns listed as carriers ("dress", "skirt") and the generic words ("color").
# 2. A negated mention becomes its positive tag where negated_tags.tsv has one, else it is no
#    tag of that item.
# 3. Phrase tags: phrases (each mention's preferred term) on at least min_items and at most
#    max_df of the items, not generic, ranked by their summed TF-IDF weight over the items;
#    the first vocab_size are kept. Every other mention falls back to the first kept phrase or
#    the single word of its chain.
# 4. Noun and adjective tags: the same rule over the single words the mentions fell back to.
# 5. An item's tags are all its mentions' vocabulary terms: no per-item top-k cut, so every
#    attribute the text states that made the vocabulary is a tag.


# Labels, vocabulary, dropped terms (as extract_labels returns them), items negating each term.
PhraseLabels = tuple[list[list[str]], dict[str, list[str]], dict[str, tuple[int, str]], Counter]


def make_word_normaliser(lemmatize: bool):
    """Token -> candidate word: lower-case alphabetic words (plurals singular with `lemmatize`,
    unless the synonym table lists the plural: "roses" are flowers, "rose" also a colour)
    through the synonym table; "" for anything else (numbers, stop words, short words)."""

    def normalise(token: str, tag: str) -> str:
        word = token.lower()
        if word not in phrases.synonyms():
            word = token_word(token, tag, lemmatize)
        if word in phrases.synonyms():
            return phrases.canonical(word)
        return word if is_term_word(word) else ""

    return normalise


def positive_mention(mention: phrases.Mention) -> phrases.Mention | None:
    """A negated mention as its positive tag ("no sleeve" -> sleeveless), or None."""
    positives = phrases.negated_tags()
    for term in mention.chain + mention.parts:
        if term.text in positives:
            return phrases.Mention((phrases.Term(positives[term.text], ADJECTIVE),), False)
    return None


def term_kinds(mentions: Sequence[Sequence[phrases.Mention]]) -> dict[str, str]:
    """Each term's kind: phrase for several words, else its majority word kind (ties: noun)."""
    kinds = majority_kinds(
        [[(term.text, term.kind) for m in item for term in m.chain + m.parts] for item in mentions]
    )
    return {text: phrases.PHRASE if " " in text else kind for text, kind in kinds.items()}


def choose_terms(
    documents: Sequence[list[str]], params: PhrasesParams, dropped: dict[str, tuple[int, str]]
) -> list[str]:
    """The vocab_size terms with the largest summed TF-IDF weight among the informative ones
    (min_items <= items <= max_df * all items, not generic); records why the others drop."""
    items = Counter(term for document in documents for term in set(document))
    limit = params.max_df * len(documents)
    generic = set(params.generic_words)
    eligible = set()
    for term, count in items.items():
        if count > limit:
            dropped[term] = (count, "too frequent")
        elif term in generic:
            dropped[term] = (count, "generic")
        elif count < params.min_items:
            dropped[term] = (count, "too rare")
        else:
            eligible.add(term)
    scores = tfidf_scores(
        [[term for term in document if term in eligible] for document in documents]
    )
    totals: Counter = Counter()
    for item_scores in scores:
        totals.update(item_scores)
    ranked = sorted(eligible, key=lambda term: (-totals[term], term))
    for term in ranked[params.vocab_size :]:
        dropped[term] = (items[term], "beyond vocab_size")
    return ranked[: params.vocab_size]


def resolve(mention: phrases.Mention, kept_phrases: set[str]) -> list[str]:
    """The first term of the chain that is a kept phrase or a single word; where there is none,
    the mention's parts (each word of a run of adjectives)."""
    for term in mention.chain:
        if term.kind != phrases.PHRASE or term.text in kept_phrases:
            return [term.text]
    return [term.text for term in mention.parts]


def phrase_labels(
    mentions: Sequence[Sequence[phrases.Mention]], params: PhrasesParams
) -> PhraseLabels:
    """Labels of each item, vocabulary, dropped terms and items negating each term, from each
    item's mentions (steps 2 to 5 above)."""
    negated_items: Counter = Counter()
    positive: list[list[phrases.Mention]] = []
    for item in mentions:
        kept, negated = [], set()
        for mention in item:
            if mention.negated:
                negated.update(term.text for term in mention.chain + mention.parts)
                mention = positive_mention(mention)
            if mention is not None:
                kept.append(mention)
        negated_items.update(negated)
        positive.append(kept)
    kinds = term_kinds(positive)
    dropped: dict[str, tuple[int, str]] = {}
    phrase_documents = [
        [m.chain[0].text for m in item if m.chain[0].kind == phrases.PHRASE] for item in positive
    ]
    kept_phrases = choose_terms(phrase_documents, params, dropped)
    phrase_set = set(kept_phrases)
    resolved = [[term for m in item for term in resolve(m, phrase_set)] for item in positive]
    vocabulary = {}
    for kind in (NOUN, ADJECTIVE):
        # Kept phrases are multi-word, so of kind phrase: never among these documents.
        documents = [[t for t in item if kinds.get(t) == kind] for item in resolved]
        vocabulary[VOCABULARY_KEYS[kind]] = choose_terms(documents, params, dropped)
    vocabulary[VOCABULARY_KEYS[phrases.PHRASE]] = kept_phrases
    in_vocabulary = {term for terms in vocabulary.values() for term in terms}
    labels = [sorted(set(item) & in_vocabulary) for item in resolved]
    return labels, vocabulary, dropped, negated_items


def extract_phrase_labels(
    texts: Sequence[Sequence[str]],
    params: TagsParams,
    tagger: TextTagger | None = None,
    progress: bool = False,
) -> PhraseLabels:
    """Like extract_labels, by the method "phrases": labels, vocabulary, dropped terms, the
    items negating each term, and per item how many of its texts state each label."""
    normalise = make_word_normaliser(params.lemmatize)
    carriers = frozenset(params.phrases.carriers) | frozenset(params.phrases.generic_words)
    reader = phrases.SentenceReader(carriers, normalise)
    per_text = [
        [reader.read(sentence) for sentence in sentences]
        for sentences in tag_items(texts, tagger, progress)
    ]
    mentions = [[mention for text in item for mention in text] for item in per_text]
    labels, vocabulary, dropped, negated_items = phrase_labels(mentions, params.phrases)
    return labels, vocabulary, dropped, negated_items, text_counts(per_text, labels, vocabulary)


def text_counts(
    per_text: Sequence[Sequence[Sequence[phrases.Mention]]],
    labels: Sequence[list[str]],
    vocabulary: dict[str, list[str]],
) -> list[dict[str, int]]:
    """Per item, how many of its texts state each of its labels (their mentions resolved as
    `phrase_labels` resolves the item's pooled mentions)."""
    kept_phrases = set(vocabulary[VOCABULARY_KEYS[phrases.PHRASE]])
    counts = []
    for item, item_labels in zip(per_text, labels, strict=True):
        stated: Counter = Counter()
        for text in item:
            tags = set()
            for mention in text:
                if mention.negated:
                    mention = positive_mention(mention)
                if mention is not None:
                    tags.update(resolve(mention, kept_phrases))
            stated.update(tags & set(item_labels))
        counts.append({label: stated[label] for label in item_labels})
    return counts


# --- Tag report ---------------------------------------------------------------------------------

TOP_DROPPED = 20  # dropped terms listed in the report, most items first
REPORT_COLUMNS = ["term", "kind", "status", "items"]


def tag_report(result: TagResult, method: str) -> dict:
    """metrics/tags.json: sizes, per vocabulary tag its kind, items and items negating it, and
    the TOP_DROPPED most frequent terms that are no tag, with why."""
    frequency = tag_frequency(result.labelled, result.vocabulary)
    dropped = sorted(result.dropped.items(), key=lambda pair: (-pair[1][0], pair[0]))
    labelled = result.labelled
    return {
        "method": method,
        "items": len(labelled),
        "items_without_tags": sum(not item["tags"] for item in labelled),
        "tags_per_item": round(sum(len(item["tags"]) for item in labelled) / len(labelled), 4),
        "vocabulary_size": sum(len(terms) for terms in result.vocabulary.values()),
        "tags": [{**row, "negated_items": result.negated_items[row["tag"]]} for row in frequency],
        "dropped": [
            {"term": term, "items": items, "reason": reason}
            for term, (items, reason) in dropped[:TOP_DROPPED]
        ],
    }


def tag_report_rows(report: dict) -> list[dict]:
    """The report as one table for a DVC bar chart: per vocabulary tag a row of items and one
    of items negating it; per listed dropped term a row with its reason as the status."""
    rows = []
    for tag in report["tags"]:
        rows.append(
            {"term": tag["tag"], "kind": tag["kind"], "status": "tag", "items": tag["items"]}
        )
        rows.append(
            {
                "term": tag["tag"],
                "kind": tag["kind"],
                "status": "negated",
                "items": tag["negated_items"],
            }
        )
    for term in report["dropped"]:
        rows.append(
            {
                "term": term["term"],
                "kind": "dropped",
                "status": term["reason"],
                "items": term["items"],
            }
        )
    return rows
