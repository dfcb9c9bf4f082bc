"""Mentions of attributes in POS-tagged English: phrases, negation, attached modifiers.

Used by the tags method "phrases" (text.tags). A sentence's tokens are chunked by NLTK's
RegexpParser into noun phrases (modifiers + head noun: "boat neckline", "light blue", "black
collar") and adjective phrases ("short", "light blue"). Each phrase becomes a Mention: the term
it names, with fallbacks ("black collar" -> "collar") for when the full phrase is too rare to be
a tag. The data tables are files in text/resources:
- tag_synonyms.tsv: spelling variants and synonyms, one tag per visual attribute;
- tag_cues.tsv: words (or word pairs: "instead of") that negate the next phrase, make it a
  relation ("above the knee"), link a subject to its adjectives ("the collar is black"), end a
  clause, name a part of the dress ("sleeve"), another place a relation may point at
  ("waist", "side"), or a piece whose modifiers say what it is made of ("lace inlay": lace);
- negated_tags.tsv: the positive tag of a negated term ("without sleeves" -> "sleeveless");
- length_phrases.tsv: the length tag of a relation to a body landmark ("reaches to the knee"
  -> knee-length, "well above the knee" -> short);
- implied_tags.tsv: a second tag that a word run states besides its synonym ("floral print":
  floral and printed).

Who a modifier belongs to: modifiers of a noun belong to it ("white dots", "red belt") unless
that noun is a carrier (a generic word such as "color" or "skirt", or a word on most items such
as "dress"): then they describe the dress ("a black dress" -> black). After a copula, adjectives
go to the clause's subject ("the collar is black" -> "black collar"; "it is black" -> black).
A run of modifiers before a carrier is cut where it holds a part of the dress or a listed
multi-word variant: "sky blue long sleeve mini dress" -> light blue, long sleeve, short.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nltk

from fashion_tagger.errors import PipelineError
from fashion_tagger.io import read_table
from fashion_tagger.text.postag import TaggedSentence

RESOURCES = Path(__file__).parent / "resources"
SYNONYMS_FILE = RESOURCES / "tag_synonyms.tsv"
CUES_FILE = RESOURCES / "tag_cues.tsv"
NEGATED_FILE = RESOURCES / "negated_tags.tsv"
LENGTHS_FILE = RESOURCES / "length_phrases.tsv"
IMPLIED_FILE = RESOURCES / "implied_tags.tsv"

NOUN, ADJECTIVE, PHRASE = "noun", "adjective", "phrase"
NEGATION, RELATION, COPULA, BOUNDARY, PART = "negation", "relation", "copula", "boundary", "part"
PLACE, PIECE, APPROVAL, REJECTION = "place", "piece", "approval", "rejection"
COMPARISON = "comparison"
CUE_ROLES = (
    *(NEGATION, RELATION, COPULA, BOUNDARY, PART),
    *(PLACE, PIECE, APPROVAL, REJECTION, COMPARISON),
)
# Noun phrase: any modifiers, then a noun; adjective phrase: adjectives (past participles
# count: "flared"). Adverbs ("very", "slightly") are not part of either.
GRAMMAR = r"""
NP: {<JJ.*|VBN|VBG|NN.*>*<NN.*>}
AP: {<JJ.*|VBN>+}
"""
# Words that join a negated phrase to the next one, which is then negated too ("no X or Y").
NEGATION_JOINERS = frozenset({"or", "nor"})
# Relative pronouns after a comma: the clause they open is about the noun before the comma.
RELATIVE_PRONOUNS = frozenset({"that", "which", "who"})
DETERMINERS = frozenset({"DT", "PRP$", "CD"})
PRONOUN_TAGS = frozenset({"PRP"})
FINITE_VERBS = frozenset({"VBZ", "VBP", "VBD"})
# Relational heads that point on to the next phrase: "to the middle of the thighs".
POINTERS = frozenset({"middle", "mid", "height", "level"})
# Tokens between coordinated adjectives that share the next head: "long, short or puffed
# sleeves" (adverbs such as "slightly" may stand before the last one).
COORDINATORS = frozenset({",", "and", "or"})
ADVERB_TAGS = frozenset({"RB", "RBR", "RBS"})
# Adverbs that stay adverbs before a noun or adjective ("just knee-length", "only sleeves").
DEGREE_ADVERBS = frozenset(
    {"just", "only", "also", "even", "very", "too", "quite", "rather", "slightly", "well"}
    | {"so", "still", "almost", "nearly", "about", "approximately", "exactly", "mostly"}
    | {"often", "usually", "always", "never", "mainly", "partly", "especially", "relatively"}
)


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


@functools.cache
def synonyms(path: Path = SYNONYMS_FILE) -> dict[str, str]:
    """Variant -> tag, from tag_synonyms.tsv."""
    return dict(read_table(path, 2))


@functools.cache
def synonym_tags(path: Path = SYNONYMS_FILE) -> frozenset[str]:
    """The tags the synonym table maps to."""
    return frozenset(synonyms(path).values())


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
def implied_tags(path: Path = IMPLIED_FILE) -> dict[tuple[str, ...], str]:
    """Word run -> the second tag it states besides its synonym ("floral print": printed)."""
    return {tuple(run.split(" ")): tag for run, tag in read_table(path, 2)}


@functools.cache
def length_phrases(path: Path = LENGTHS_FILE) -> dict[tuple[str, str], str]:
    """(relation word, landmark) -> length tag, from length_phrases.tsv."""
    return {(relation, landmark): tag for relation, landmark, tag in read_table(path, 3)}


@functools.cache
def length_relations(path: Path = LENGTHS_FILE) -> frozenset[str]:
    """The relation words and word pairs of length_phrases.tsv ("above", "just above")."""
    return frozenset(relation for relation, _ in length_phrases(path))


@functools.cache
def landmarks(path: Path = LENGTHS_FILE) -> frozenset[str]:
    """The body landmarks of length_phrases.tsv (knee, floor, ...)."""
    return frozenset(landmark for _, landmark in length_phrases(path))


@functools.cache
def chunker() -> nltk.RegexpParser:
    """NLTK's regular-expression chunker with GRAMMAR (built once per process)."""
    return nltk.RegexpParser(GRAMMAR)


COLORED = "-colored"


def canonical(text: str) -> str:
    """The tag a word or phrase stands for, through the synonym table; "X-colored" stands for
    X ("turquoise-colored": turquoise)."""
    if text in synonyms():
        return synonyms()[text]
    if text.endswith(COLORED) and len(text) > len(COLORED):
        return canonical(text.removesuffix(COLORED))
    return text


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


def carrier_modifiers(
    words: Sequence[str], kinds: Sequence[str], negated: bool, carriers: Collection[str] = ()
) -> list[Mention]:
    """Mentions of the modifiers before a carrier. A listed multi-word variant ("sky blue") is
    one unit; a part of the dress ("sleeve") takes the unit before it as its own phrase ("long
    sleeve"); another carrier ("silk") is a mention of its own that ends a stretch ("light
    blue silk dress": light blue); the other stretches of the run are adjectives of the dress
    (dress_modifiers)."""
    units: list[tuple[list[str], list[str]]] = []
    start = 0
    while start < len(words):
        end = next(
            (
                end
                for end in range(len(words), start + 1, -1)
                if " ".join(words[start:end]) in synonyms()
            ),
            start + 1,
        )
        units.append((list(words[start:end]), list(kinds[start:end])))
        start = end
    if len(units) == len(words) and not any(
        cues().get(word) == PART or word in carriers for word in words
    ):
        return [dress_modifiers(words, kinds, negated)]  # nothing to cut: the run as it was
    mentions: list[Mention] = []
    stretch: tuple[list[str], list[str]] = ([], [])

    def close_stretch() -> None:
        if stretch[0]:
            mentions.append(dress_modifiers(*stretch, negated))
            stretch[0].clear()
            stretch[1].clear()

    for unit_words, unit_kinds in units:
        if cues().get(unit_words[-1]) == PART:
            owner = ([stretch[0].pop()], [stretch[1].pop()]) if stretch[0] else ([], [])
            close_stretch()
            chain_words, chain_kinds = owner[0] + unit_words, owner[1] + unit_kinds
            mentions.append(Mention(fallback_chain(chain_words, chain_kinds), negated))
        elif len(unit_words) > 1:
            close_stretch()
            mentions.append(Mention((make_term(unit_words, unit_kinds),), negated))
        elif unit_words[0] in carriers:
            close_stretch()
            mentions.append(Mention((Term(unit_words[0], NOUN),), negated))
        else:
            stretch[0].extend(unit_words)
            stretch[1].extend(unit_kinds)
    close_stretch()
    return mentions


def fallback_chain(words: Sequence[str], kinds: Sequence[str]) -> tuple[Term, ...]:
    """The run itself, then the run without its first word, and so on down to its last word."""
    chain: list[Term] = []
    for start in range(len(words)):
        term = make_term(words[start:], kinds[start:])
        if term not in chain:
            chain.append(term)
    return tuple(chain)


def repair_tags(tagged: TaggedSentence) -> TaggedSentence:
    """Fix tagger slips that break phrases: punctuation tagged as a word ("(" as JJ) gets its
    own tag, a part of the dress read as an adjective or verb is a noun ("square
    neckline/JJ )"), a word joined by "or"/"and" to an adjective before a noun is an
    adjective ("short/VB or long sleeves"; a noun only where it names a listed term with that
    noun: "round/NN and v-shaped necklines"), so is an adverb tag where only an adjective fits
    (see adverb_as_adjective), and a past form between a modifier and a noun or
    at the end of a clause is a participle ("the blue striped/VBD dress", "gladly
    checked/VBD.")."""
    repaired: TaggedSentence = []
    for index, (token, tag) in enumerate(tagged):
        if not any(character.isalnum() for character in token):
            tag = token
        elif tag.startswith(("JJ", "VB")) and cues().get(token.rstrip("s")) == PART:
            tag = "NNS" if token.endswith("s") else "NN"
        elif tag in ("VB", "VBP", "RB") and (
            coordinated_with_adjective(tagged, index)
            or (tag == "RB" and adverb_as_adjective(tagged, index))
        ):
            tag = "JJ"
        elif (
            tag == "NN"
            and coordinated_with_adjective(tagged, index)
            and names_with_head(token, tagged[index + 3][0])
        ):
            tag = "JJ"  # "round/NN and v-shaped necklines": round neckline is a listed term
        elif (
            tag == "VB" and 0 < index < len(tagged) - 1 and between_modifier_and_noun(tagged, index)
        ):
            tag = "NN"  # "the strapless empire/VB dress": a base verb cannot stand there
        elif tag == "VBD" and 0 < index < len(tagged) - 1:
            before, after = tagged[index - 1][1], tagged[index + 1][1]
            if after.startswith("NN") and (before.startswith("JJ") or before in DETERMINERS):
                tag = "VBN"
            elif not any(character.isalnum() for character in tagged[index + 1][0]):
                tag = "VBN"  # at the clause end, in German order: "often checked."
        repaired.append((token, tag))
    return repaired


def between_modifier_and_noun(tagged: TaggedSentence, index: int) -> bool:
    """Whether tagged[index] stands after a determiner, an adjective or a singular noun and
    before a noun, where only a modifier fits."""
    before, after = tagged[index - 1][1], tagged[index + 1][1]
    return after.startswith("NN") and (before in ("DT", "NN") or before.startswith("JJ"))


def adverb_as_adjective(tagged: TaggedSentence, index: int) -> bool:
    """Whether an adverb tag is an adjective's ("long/RB"): before a noun, before a comma and
    an adjective ("long, wide sleeves"), or after a copula at the end of a clause ("the
    sleeves are long.") or, for a listed term, anywhere after a copula ("it sits loose in the
    chest area") and before a participle ("tight fitted")."""
    following = [tag for _, tag in tagged[index + 1 : index + 3]]
    if cues().get(tagged[index][0]) or tagged[index][0].lower() in DEGREE_ADVERBS:
        return False
    if following[:1] and following[0].startswith("NN"):
        return True
    if following == [",", "JJ"]:
        return True
    after_copula = index > 0 and cues().get(tagged[index - 1][0]) == COPULA
    ends_clause = not following or following[0] in (".", ",", ";", ":", "CC")
    word = tagged[index][0].lower()
    if is_listed(word):
        return after_copula or following[:1] == ["VBN"]
    return after_copula and ends_clause


def coordinated_with_adjective(tagged: TaggedSentence, index: int) -> bool:
    """Whether tagged[index] is followed by "or"/"and", an adjective and a noun."""
    following = tagged[index + 1 : index + 4]
    return (
        len(following) == 3
        and following[0][0] in ("or", "and")
        and following[1][1].startswith("JJ")
        and following[2][1].startswith("NN")
    )


def names_with_head(word: str, head: str) -> bool:
    """Whether word + head (made singular) is a listed variant or tag ("round" + "necklines":
    round neckline), so that the word is read as a modifier of that head."""
    return is_listed(f"{word} {head.removesuffix('s')}")


def is_listed(phrase: str) -> bool:
    """Whether a word or phrase is a listed variant or tag ("half-length sleeve")."""
    return phrase in synonyms() or phrase in synonym_tags()


def implies(run: str) -> bool:
    """Whether a word run states a second tag (implied_tags.tsv)."""
    return tuple(run.split(" ")) in implied_tags()


def merge_word_pairs(tagged: TaggedSentence) -> TaggedSentence:
    """Two adjacent tokens that the synonym table maps to one word become that word, a noun
    ("cut out" -> neckline)."""
    merged: TaggedSentence = []
    index = 0
    while index < len(tagged):
        pair = " ".join(token for token, _ in tagged[index : index + 2])
        word = synonyms().get(pair, "")
        # a pair that also states a second tag stays two words for SentenceReader.implied
        if index + 1 < len(tagged) and word and " " not in word and not implies(pair):
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

    def split_phrase(self, node):
        """A noun phrase cut where a plural noun or a part or place of the dress is followed
        by a modifier, which starts the next phrase: "the back | large bows", "small pleats |
        laid shoulder areas" (a plural or a part is no modifier of what follows it), and where
        a plural is followed by a singular noun, in German order a verb read as a noun
        ("the v-necks | lay")."""
        if not isinstance(node, nltk.Tree) or node.label() != "NP":
            return [node]
        leaves = node.leaves()
        pieces, start = [], 0
        for index in range(len(leaves) - 1):
            (token, tag), following = leaves[index], leaves[index + 1][1]
            role = cues().get(self.normalise_word(token, tag) or token.lower())
            ends = tag == "NNS" or role in (PART, PLACE)
            modifier_follows = following.startswith(("JJ", "VBN", "VBG"))
            if (tag.startswith("NN") and ends and modifier_follows) or (
                tag == "NNS" and token.endswith("s") and following == "NN"
            ):
                pieces.append(leaves[start : index + 1])
                start = index + 1
        if not pieces:
            return [node]
        pieces.append(leaves[start:])
        return [
            nltk.Tree("NP" if piece[-1][1].startswith("NN") else "AP", piece) for piece in pieces
        ]

    def words(self, chunk: nltk.Tree) -> tuple[list[str], list[str]]:
        """Normalised words of a chunk and the kind of each."""
        pairs = [(self.normalise_word(token, tag), word_kind(tag)) for token, tag in chunk.leaves()]
        pairs = [(word, kind) for word, kind in pairs if word]
        return [word for word, _ in pairs], [kind for _, kind in pairs]

    def read(self, tagged: TaggedSentence) -> list[Mention]:
        """Mentions of one sentence, in text order."""
        tagged = merge_word_pairs(repair_tags(tagged))
        if not tagged:
            return []
        mentions: list[Mention] = []
        state = ClauseState()
        nodes = [part for node in chunker().parse(tagged) for part in self.split_phrase(node)]
        for index, node in enumerate(nodes):
            if isinstance(node, nltk.Tree):
                if state.comparison or state.compared_run:
                    # "less formal than a floor-length gown": what the item is compared with
                    state.comparison, state.compared_run, state.last_noun = False, True, None
                    continue
                self.read_chunk(node, state, mentions)
                mentions.extend(self.implied(node, state.negated_run))
                continue
            token, tag = node
            if token not in COORDINATORS and tag not in ADVERB_TAGS:
                state.coordinated.clear()
            following = nodes[index + 1] if index + 1 < len(nodes) else None
            pair = f"{token} {following[0]}" if isinstance(following, tuple) else ""
            role = cues().get(pair) or cues().get(token)
            if role == BOUNDARY:
                coordinated = state.coordinated if token in COORDINATORS else []
                subject = (state.subject, state.subject_index) if token == ":" else (None, None)
                relative = token == "," and pair.split(" ")[-1] in RELATIVE_PRONOUNS
                last_noun, clause_start = state.last_noun, state.clause_start
                state.reset()
                # a comma inside a list of adjectives keeps the clause: "white, ivory and
                # cream are to avoid" denies all three
                state.clause_start = clause_start if coordinated else len(mentions)
                state.coordinated = coordinated
                if relative and last_noun is not None:
                    # "a zipper, that is white lacquered": the relative clause is about it
                    state.subject, state.subject_index = last_noun
                if subject[0] is not None and cues().get(subject[0]) == PART:
                    state.subject, state.subject_index = subject  # "sleeve: short"
                    state.after_copula = True
            elif role == NEGATION:
                state.negation = True
            elif role == COMPARISON:
                state.comparison = True
            elif role == REJECTION:
                reject(state, mentions)
            elif role == RELATION and tag in ("IN", "TO", "RP", "RB"):
                degree = nodes[index - 1] if index else None
                degree_word = degree[0] if isinstance(degree, tuple) else ""
                state.relation = (
                    f"{degree_word} {token}"
                    if f"{degree_word} {token}" in length_relations()
                    else token
                )
            elif role == COPULA:
                state.after_copula = True
                previous = nodes[index - 1] if index else None
                if state.dress_subject and isinstance(previous, tuple) and previous[1] == "CC":
                    # "the skirt has volume and is wide": the clause's subject, the dress
                    state.subject = state.subject_index = None
            elif token == "with" or tag in FINITE_VERBS:
                # "the bolero is with lace": it has lace, no "lace bolero"; "the collar looks
                # formal and makes the dress ...": another verb ends what the copula links
                state.after_copula = False
            elif token == "of" and state.last_noun and cues().get(state.last_noun[0]) == PART:
                state.material_of = state.last_noun[0]
            elif tag in PRONOUN_TAGS and not state.after_copula:
                state.subject = None
                state.subject_index = None
            # a run ("no X or Y", "than X or Y") goes on over its cue, "or"/"nor", determiners
            run_goes_on = token in NEGATION_JOINERS or tag in DETERMINERS
            state.negated_run &= run_goes_on or role == NEGATION
            state.compared_run &= run_goes_on or role == COMPARISON
            if tag not in DETERMINERS and token != "of":
                state.determiner = False
            if tag in DETERMINERS:
                state.determiner = True
        return mentions

    def implied(self, chunk: nltk.Tree, negated: bool) -> list[Mention]:
        """The second tags that runs of the chunk's words state (implied_tags.tsv): "a large
        floral print" is floral (its synonym) and printed."""
        words = [token.lower() for token, _ in chunk.leaves()]
        return [
            Mention((Term(tag, ADJECTIVE),), negated)
            for run, tag in implied_tags().items()
            if any(tuple(words[i : i + len(run)]) == run for i in range(len(words)))
        ]

    def read_chunk(self, chunk: nltk.Tree, state: ClauseState, mentions: list[Mention]) -> None:
        """Add the mentions of one noun or adjective phrase, updating the clause state."""
        words, kinds = self.words(chunk)
        state.last_noun = None
        coordinated, state.coordinated = state.coordinated, []
        negated = state.negation or state.negated_run or state.rejecting
        state.negation = False
        state.negated_run = negated
        if state.relation and self.read_relation(chunk, state, mentions, negated):
            return  # "above the knee": a place, not an attribute, but maybe a length
        owner, state.material_of = state.material_of, None
        if not words:
            return
        if negated and state.after_copula and all(cues().get(w) == APPROVAL for w in words):
            # "black is not desired": the clause's mentions before the copula are denied
            deny(mentions, state.clause_start)
            return
        if cues().get(words[0]) == REJECTION:  # "avoid black dresses", "is avoided"
            reject(state, mentions)
            words, kinds = words[1:], kinds[1:]
            if not words:
                return
            negated = state.negated_run = True
        if owner and words[-1] in self.carriers and len(words) > 1:
            # "a collar of gold-colored silk": gold collar, the dress is not gold
            mentions.append(
                Mention(fallback_chain([*words[:-1], owner], [*kinds[:-1], NOUN]), negated)
            )
            return
        subject = state.subject
        attach = (
            state.after_copula
            and subject is not None
            and (chunk.label() == "AP" or not state.determiner)
            and cues().get(words[-1]) != PART  # "... were puff sleeves": a thing of its own
            # "the collar is black silk": a black collar; but "characteristic are ... the red
            # damask" (German order): a material or garment after the copula is the dress's
            and (words[-1] not in self.carriers or cues().get(subject) == PART)
        )
        if attach:  # "the collar is black": black collar ("v-shaped cut": v neckline)
            pairs = [(w, k) for w, k in zip(words, kinds, strict=True) if w not in self.carriers]
            if not pairs:
                return
            chain = fallback_chain(
                [w for w, _ in pairs] + [subject], [k for _, k in pairs] + [NOUN]
            )
            mention = Mention(chain, negated)
            bare = state.subject_index is not None and len(mentions[state.subject_index].chain) == 1
            if bare:  # "the collar is black": black collar, not collar too
                mentions[state.subject_index] = mention
                state.subject_index = None
            else:
                mentions.append(mention)
            return
        head, modifiers = words[-1], words[:-1]
        if chunk.label() == "AP":  # "it is light blue"
            mentions.append(dress_modifiers(words, kinds, negated))
            state.coordinated = [*coordinated, (len(mentions) - 1, words, kinds)]
            return
        if cues().get(head) == PART:
            share_head(head, coordinated, mentions)
        inner = [index for index, word in enumerate(modifiers) if word in self.carriers]
        # "flared skirt hem": flared for the dress; but a piece keeps its material's modifiers
        # ("purple silk border": the border is purple, the dress is not)
        if inner and head not in self.carriers and cues().get(head) != PIECE:
            mentions.append(Mention((Term(modifiers[inner[-1]], NOUN),), negated))
            if inner[-1]:
                mentions.extend(
                    carrier_modifiers(
                        words[: inner[-1]], kinds[: inner[-1]], negated, self.carriers
                    )
                )
            words, kinds = words[inner[-1] + 1 :], kinds[inner[-1] + 1 :]
        if head not in self.carriers:
            chain = fallback_chain(words, kinds)
            if cues().get(head) == PIECE and len(words) > 1:  # "lace inlay": lace
                chain = tuple(dict.fromkeys(chain[:1] + fallback_chain(words[:-1], kinds[:-1])))
            mentions.append(Mention(chain, negated))
            state.last_noun = (head, len(mentions) - 1)
            if not state.after_copula and state.subject is None:
                state.subject = head
                state.subject_index = len(mentions) - 1
            return
        # A carrier ("dress", "color"): its modifiers describe the dress. The carrier is a
        # mention too, so that the report counts it (as too frequent or generic).
        if not state.after_copula and state.subject is None:
            state.dress_subject = True  # the clause's first noun phrase: it is about the dress
        mentions.append(Mention((Term(head, NOUN),), negated and not modifiers))
        if modifiers:
            mentions.extend(carrier_modifiers(modifiers, kinds[:-1], negated, self.carriers))

    def read_relation(
        self, chunk: nltk.Tree, state: ClauseState, mentions: list[Mention], negated: bool
    ) -> bool:
        """The phrase after a relation word, when it names a place: the length it gives where
        its head is a landmark ("to the knee": knee-length); "the middle of" passes the
        relation on to the next one. False when the head is no place ("from white ruffles",
        "at this long black dress"): the phrase is then read as any other."""
        words = [self.normalise_word(*leaf) for leaf in chunk.leaves()]
        landmark = words[-1]
        if landmark not in landmarks():  # "above the knee end": a German final verb as a noun
            landmark = next((word for word in reversed(words) if word in landmarks()), landmark)
        if landmark in POINTERS:
            return True
        tag = length_phrases().get((state.relation, landmark))
        state.relation = ""
        if tag:
            mentions.append(Mention((Term(tag, ADJECTIVE),), negated))
            return True
        if cues().get(landmark) == PART and len(words) > 1 and is_listed(" ".join(words[-2:])):
            return False  # "ruffles at the half-length sleeves": the sleeves' own attribute
        return landmark in landmarks() or cues().get(landmark) in (PART, PLACE)


def deny(mentions: list[Mention], start: int) -> None:
    """Negate the mentions from `start` on (those of the clause so far)."""
    for index in range(start, len(mentions)):
        mentions[index] = Mention(mentions[index].chain, True, mentions[index].parts)


def reject(state: ClauseState, mentions: list[Mention]) -> None:
    """A word of rejection: after a copula it denies what the clause named before it ("black
    is better to avoid"); otherwise it denies what the clause names after it ("to avoid are
    plain dresses in red", "avoid black dresses")."""
    if state.after_copula and len(mentions) > state.clause_start:
        deny(mentions, state.clause_start)
    else:
        state.rejecting = True


def share_head(
    head: str, coordinated: Sequence[tuple[int, list[str], list[str]]], mentions: list[Mention]
) -> None:
    """Adjectives coordinated before a part's phrase take the part as their head too:
    "long, short or rolled sleeves" -> long sleeve, short sleeve, rolled sleeve."""
    for index, words, kinds in coordinated:
        chain = fallback_chain([*words, head], [*kinds, NOUN])
        mentions[index] = Mention(chain, mentions[index].negated)


@dataclass
class ClauseState:
    """What the reader knows inside the current clause."""

    subject: str | None = None  # head noun of the clause's first noun phrase, if no carrier
    subject_index: int | None = None  # its mention, replaced when adjectives attach to it
    dress_subject: bool = False  # the clause's first noun phrase was a carrier: the dress
    after_copula: bool = False
    negation: bool = False  # a negation cue waits for its phrase
    negated_run: bool = False  # the last phrase was negated ("no X or Y")
    rejecting: bool = False  # a word of rejection opened the clause ("to avoid are ...")
    comparison: bool = False  # "than" waits for the phrase the item is compared with
    compared_run: bool = False  # the last phrase was compared with ("than X or Y")
    relation: str = ""  # a relation word ("above") waits for its phrase
    material_of: str | None = None  # "collar of": the part whose material the next phrase names
    last_noun: tuple[str, int] | None = None  # the last phrase's head and mention, no carrier
    clause_start: int = 0  # the first mention of the clause
    determiner: bool = False  # the last token was a determiner ("is a long dress")
    # adjective phrases joined by commas, "and", "or" so far: (mention index, words, kinds)
    coordinated: list[tuple[int, list[str], list[str]]] = field(default_factory=list)

    def reset(self) -> None:
        """Forget everything at a clause boundary."""
        self.__init__()
