"""Mentions of attributes in POS-tagged English: phrases, negation, attached modifiers.

Used by the tags method "phrases" (text.tags). A sentence's tokens are chunked by NLTK's
RegexpParser into noun phrases (modifiers + head noun: "boat neckline", "light blue", "black
collar") and adjective phrases ("short", "light blue"). Each phrase becomes a Mention: the term
it names, with fallbacks ("black collar" -> "collar") for when the full phrase is too rare to be
a tag. The data tables are files in text/resources:
- tag_synonyms.tsv: spelling variants and synonyms, one tag per visual attribute;
- tag_cues.tsv: words that negate the next phrase, make it a relation ("above the knee"), link a
  subject to its adjectives ("the collar is black"), or end a clause;
- negated_tags.tsv: the positive tag of a negated term ("without sleeves" -> "sleeveless").

Who a modifier belongs to: modifiers of a noun belong to it ("white dots", "red belt") unless
that noun is a carrier (a generic word such as "color" or "skirt", or a word on most items such
as "dress"): then they describe the dress ("a black dress" -> black). After a copula, adjectives
go to the clause's subject ("the collar is black" -> "black collar"; "it is black" -> black).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import nltk

from fashion_tagger.errors import PipelineError
from fashion_tagger.text.postag import TaggedSentence

RESOURCES = Path(__file__).parent / "resources"
SYNONYMS_FILE = RESOURCES / "tag_synonyms.tsv"
CUES_FILE = RESOURCES / "tag_cues.tsv"
NEGATED_FILE = RESOURCES / "negated_tags.tsv"

NOUN, ADJECTIVE, PHRASE = "noun", "adjective", "phrase"
NEGATION, RELATION, COPULA, BOUNDARY = "negation", "relation", "copula", "boundary"
CUE_ROLES = (NEGATION, RELATION, COPULA, BOUNDARY)
# Noun phrase: any modifiers, then a noun; adjective phrase: adjectives (past participles
# count: "flared"). Adverbs ("very", "slightly") are not part of either.
GRAMMAR = r"""
NP: {<JJ.*|VBN|VBG|NN.*>*<NN.*>}
AP: {<JJ.*|VBN>+}
"""
# Words that join a negated phrase to the next one, which is then negated too ("no X or Y").
NEGATION_JOINERS = frozenset({"or", "nor"})
DETERMINERS = frozenset({"DT", "PRP$", "CD"})
PRONOUN_TAGS = frozenset({"PRP"})


@dataclass(frozen=True)
class Term:
    """A candidate tag: its text (words joined by spaces) and kind (noun, adjective, phrase)."""

    text: str
    kind: str


@dataclass(frozen=True)
class Mention:
    """One statement of an attribute: the preferred term first, then shorter fallbacks; or,
    for adjectives of the dress ("tight blue dress"), the run and then each of its words."""

    chain: tuple[Term, ...]
    negated: bool
    parts: tuple[Term, ...] = ()  # used together where the run is no tag


def read_table(path: Path, columns: int) -> list[tuple[str, ...]]:
    """Rows of a tab-separated data file: '#' lines are comments, the first other line is a
    header."""
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    data = [line for line in lines if line.strip() and not line.startswith("#")][1:]
    for number, line in enumerate(data, start=1):
        fields = line.split("\t")
        if len(fields) != columns or not all(field.strip() for field in fields):
            raise PipelineError(
                f"{path}: data line {number}: expected {columns} tab-separated fields"
            )
        rows.append(tuple(field.strip() for field in fields))
    return rows


@functools.cache
def synonyms(path: Path = SYNONYMS_FILE) -> dict[str, str]:
    """Variant -> tag, from tag_synonyms.tsv."""
    return dict(read_table(path, 2))


@functools.cache
def cues(path: Path = CUES_FILE) -> dict[str, str]:
    """Cue word -> role, from tag_cues.tsv."""
    table = dict(read_table(path, 2))
    for word, role in table.items():
        if role not in CUE_ROLES:
            raise PipelineError(f"{path}: word {word!r}: unknown role {role!r}")
    return table


@functools.cache
def negated_tags(path: Path = NEGATED_FILE) -> dict[str, str]:
    """Negated term -> positive tag, from negated_tags.tsv."""
    return dict(read_table(path, 2))


@functools.cache
def chunker() -> nltk.RegexpParser:
    """NLTK's regular-expression chunker with GRAMMAR (built once per process)."""
    return nltk.RegexpParser(GRAMMAR)


def canonical(text: str) -> str:
    """The tag a word or phrase stands for, through the synonym table."""
    return synonyms().get(text, text)


def word_kind(tag: str) -> str:
    """Noun for NN* tags, adjective otherwise (JJ*, VBN, VBG)."""
    return NOUN if tag.startswith("NN") else ADJECTIVE


def make_term(words: Sequence[str], kinds: Sequence[str]) -> Term:
    """The term for a run of words: one word keeps its kind, several make a phrase; a repeated
    word counts once ("v neckline" + neckline) and the synonym table is applied to the whole."""
    parts = [part for word in words for part in word.split(" ")]
    unique = [part for index, part in enumerate(parts) if part not in parts[:index]]
    text = canonical(" ".join(unique))
    if " " in text:
        return Term(text, PHRASE)
    return Term(text, kinds[-1] if len(words) == 1 else ADJECTIVE)


def dress_modifiers(words: Sequence[str], kinds: Sequence[str], negated: bool) -> Mention:
    """Adjectives of the dress: the whole run ("light blue") as the preferred term, its single
    words ("tight", "blue") where the run is no tag."""
    run = make_term(words, kinds)
    parts = tuple(make_term([word], [kind]) for word, kind in zip(words, kinds, strict=True))
    if run.kind != PHRASE:
        return Mention((run,), negated)
    return Mention((run,), negated, tuple(dict.fromkeys(parts)))


def fallback_chain(words: Sequence[str], kinds: Sequence[str]) -> tuple[Term, ...]:
    """The run itself, then the run without its first word, and so on down to its last word."""
    chain: list[Term] = []
    for start in range(len(words)):
        term = make_term(words[start:], kinds[start:])
        if term not in chain:
            chain.append(term)
    return tuple(chain)


def merge_word_pairs(tagged: TaggedSentence) -> TaggedSentence:
    """Two adjacent tokens that the synonym table maps to one word become that word, a noun
    ("cut out" -> neckline)."""
    merged: TaggedSentence = []
    index = 0
    while index < len(tagged):
        pair = " ".join(token for token, _ in tagged[index : index + 2])
        word = synonyms().get(pair, "")
        if index + 1 < len(tagged) and word and " " not in word:
            merged.append((word, "NN"))
            index += 2
        else:
            merged.append(tagged[index])
            index += 1
    return merged


class SentenceReader:
    """Turns one tagged sentence into mentions (see the module docstring)."""

    def __init__(self, carriers: Collection[str], normalise_word):
        self.carriers = carriers
        self.normalise_word = normalise_word

    def words(self, chunk: nltk.Tree) -> tuple[list[str], list[str]]:
        """Normalised words of a chunk and the kind of each."""
        pairs = [(self.normalise_word(token, tag), word_kind(tag)) for token, tag in chunk.leaves()]
        pairs = [(word, kind) for word, kind in pairs if word]
        return [word for word, _ in pairs], [kind for _, kind in pairs]

    def read(self, tagged: TaggedSentence) -> list[Mention]:
        """Mentions of one sentence, in text order."""
        tagged = merge_word_pairs(tagged)
        if not tagged:
            return []
        mentions: list[Mention] = []
        state = ClauseState()
        for node in chunker().parse(tagged):
            if isinstance(node, nltk.Tree):
                self.read_chunk(node, state, mentions)
                continue
            token, tag = node
            role = cues().get(token)
            if role == BOUNDARY:
                state.reset()
            elif role == NEGATION:
                state.negation = True
            elif role == RELATION and tag in ("IN", "TO", "RP", "RB"):
                state.relation = True
            elif role == COPULA:
                state.after_copula = True
            elif tag in PRONOUN_TAGS and not state.after_copula:
                state.subject = None
                state.subject_index = None
            if token not in NEGATION_JOINERS and role != NEGATION and tag not in DETERMINERS:
                state.negated_run = False
            if tag not in DETERMINERS and token != "of":
                state.determiner = False
            if tag in DETERMINERS:
                state.determiner = True
        return mentions

    def read_chunk(self, chunk: nltk.Tree, state: ClauseState, mentions: list[Mention]) -> None:
        """Add the mentions of one noun or adjective phrase, updating the clause state."""
        words, kinds = self.words(chunk)
        negated = state.negation or state.negated_run
        state.negation = False
        state.negated_run = negated
        if not words:
            return
        if state.relation:  # "above the knee": a place, not an attribute
            state.relation = False
            return
        subject = state.subject
        attach = (
            state.after_copula
            and subject is not None
            and (chunk.label() == "AP" or not state.determiner)
        )
        if attach:  # "the collar is black": black collar ("v-shaped cut": v neckline)
            pairs = [(w, k) for w, k in zip(words, kinds, strict=True) if w not in self.carriers]
            if not pairs:
                return
            chain = fallback_chain(
                [w for w, _ in pairs] + [subject], [k for _, k in pairs] + [NOUN]
            )
            mention = Mention(chain, negated)
            if state.subject_index is not None:
                mentions[state.subject_index] = mention
                state.subject_index = None
            else:
                mentions.append(mention)
            return
        head, modifiers = words[-1], words[:-1]
        if chunk.label() == "AP":  # "it is light blue"
            mentions.append(dress_modifiers(words, kinds, negated))
            return
        if head not in self.carriers:
            mentions.append(Mention(fallback_chain(words, kinds), negated))
            if not state.after_copula and state.subject is None:
                state.subject = head
                state.subject_index = len(mentions) - 1
            return
        # A carrier ("dress", "color"): its modifiers describe the dress. The carrier is a
        # mention too, so that the report counts it (as too frequent or generic).
        mentions.append(Mention((Term(head, NOUN),), negated and not modifiers))
        if modifiers:
            mentions.append(dress_modifiers(modifiers, kinds[:-1], negated))


@dataclass
class ClauseState:
    """What the reader knows inside the current clause."""

    subject: str | None = None  # head noun of the clause's first noun phrase, if no carrier
    subject_index: int | None = None  # its mention, replaced when adjectives attach to it
    after_copula: bool = False
    negation: bool = False  # a negation cue waits for its phrase
    negated_run: bool = False  # the last phrase was negated ("no X or Y")
    relation: bool = False  # a relational preposition waits for its phrase
    determiner: bool = False  # the last token was a determiner ("is a long dress")

    def reset(self) -> None:
        """Forget everything at a clause boundary."""
        self.__init__()
