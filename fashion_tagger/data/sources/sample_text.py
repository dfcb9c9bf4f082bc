"""The sample source's text: five simulated annotators describe a dress in German.

Each mentions a random subset of its attributes, with synonyms, subjective words and occasional
sloppy spelling. The German word material is in `resources/sample_german.json` (phrases by
attribute value and grammatical form, sentence templates, clause openers) and in
`resources/sample_colours.json` (colour words).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

from fashion_tagger.data.sources.sample_attributes import COLOURS, RESOURCES, Attributes, pick

# The German phrase material (resources/sample_german.json, "phrases").
#
# For every attribute value, how an annotator may say it, by grammatical form:
#   attr    adjective stem before "Kleid"; the template adds the ending ("rot" -> "ein rotes Kleid")
#   pred    after "Das Kleid ist ..."
#   mit     a prepositional phrase after the noun ("mit kurzen Ärmeln", "ohne Ärmel")
#   hat     accusative object of "Das Kleid hat ..." ("einen V-Ausschnitt", "kurze Ärmel")
#   clause  a main clause of its own, without full stop, starting with a word that may be
#           written in lower case after a comma ("Es reicht bis zum Knie")
#   noun    colour as a noun ("Kleid in Rot"); compound: a head noun instead of "Kleid"
# Colour markers inside a phrase: {main}, {accent}, {trim} (the dress, pattern or detail
# colour as an adjective; {main:en} adds an ending) and {Main} (the colour as a noun).
# Kind "style" holds subjective impressions, not tied to any attribute.

GERMAN = json.loads((RESOURCES / "sample_german.json").read_text("utf-8"))
PHRASES: dict[str, dict[str, dict[str, list[str]]]] = GERMAN["phrases"]

# Sentence templates ("templates" in the same file), one tuple of sentences each. Slots take
# the next unused mention that has the form: {A:es} one adjective with ending -es, {AA:es}
# one or two; {P}/{PP} one or two predicatives; {MM} one to three "mit" phrases; {HH} one to
# three objects; {K} a clause, {k} a clause after a comma; {N} "Kleid" or a compound; {C} the
# colour as a noun.
# A slot ending in "?" may stay empty; a template whose other slots cannot be filled is skipped.
TEMPLATES: list[tuple[str, ...]] = [tuple(template) for template in GERMAN["templates"]]
FALLBACK_TEMPLATE = ("{K}",)

# First words of clauses, written in lower case when a clause follows a comma.
CLAUSE_OPENERS = set(GERMAN["clause_openers"])
# German adjectives that take no ending ("ein rosa Kleid", "ein beige Kleid").
INVARIABLE_ADJECTIVES = set(GERMAN["invariable_adjectives"])

# How often an annotator mentions each attribute (colour: most of the time).
MENTION_CHANCE = {
    "colour": 0.9, "pattern": 0.8, "plain": 0.2, "sleeves": 0.6, "neckline": 0.5, "hem": 0.6,
    "silhouette": 0.4, "detail": 0.55, "style": 0.35,
}  # fmt: skip
MAX_MENTIONS = 5
COMPOUND_CHANCE = 0.3
LOWER_CASE_CHANCE, NO_UMLAUT_CHANCE, TYPO_CHANCE, NO_FULL_STOP_CHANCE = 0.06, 0.08, 0.12, 0.08
UMLAUT_FREE = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
)

# Which phrase form each template slot takes (by its first letter).
SLOT_FORMS = {
    "A": "attr",
    "P": "pred",
    "M": "mit",
    "H": "hat",
    "K": "clause",
    "k": "clause",
    "C": "noun",
}
SLOT = re.compile(r"\{(AA|A|PP|P|MM|M|HH|H|K|k|N|C)(?::(\w+))?(\?)?\}")
MARKER = re.compile(r"\{([Mm]ain|[Aa]ccent|[Tt]rim)(?::(\w+))?\}")


class MissingSlot(Exception):
    """A template slot that none of the remaining mentions can fill."""


@dataclass
class Mention:
    """One thing an annotator will say: the phrase forms of one attribute value."""

    kind: str  # "colour", "pattern", ... (a key of PHRASES)
    value: str  # the attribute value said ("red", "v_neck", "belt"); "any" for style
    forms: dict[str, list[str]]
    trim: str | None = None  # colour of the detail, for {trim} markers

    def facts(self, phrase: str) -> set[tuple[str, str]]:
        """The (attribute, value) pairs that saying `phrase` states, in the form of
        sample_truth.facts: a detail with its colour where the phrase names it."""
        if self.kind == "style":
            return set()
        stated = {(self.kind, self.value)}
        trim_said = any(m.group(1).lower() == "trim" for m in MARKER.finditer(phrase))
        if self.trim is not None and trim_said:
            stated.add(("trim", f"{self.value}:{self.trim}"))
        return stated


@dataclass(frozen=True)
class Description:
    """One annotator's text and the attribute facts it states (before spelling noise)."""

    text: str
    stated: frozenset[tuple[str, str]]


def inflect(adjective: str, ending: str) -> str:
    """Add a German adjective ending to the last word, unless that word takes none (rosa)."""
    last = adjective.rsplit(" ", 1)[-1]
    return adjective if last in INVARIABLE_ADJECTIVES else adjective + ending


def colour_word(rng: np.random.Generator, colour: str, noun: bool = False) -> str:
    """A German word for a colour: the usual one most of the time, sometimes a synonym."""
    entry = COLOURS[colour]
    words = entry.nouns if noun else entry.adjectives
    return words[0] if len(words) == 1 or rng.random() < 0.75 else pick(rng, words[1:])


def _resolve(phrase: str, mention: Mention, attributes: Attributes, rng) -> str:
    """Replace colour markers in a phrase by inflected colour words."""

    def replace(match: re.Match) -> str:
        name, ending = match.group(1), match.group(2) or ""
        colour = {"main": attributes.colour, "accent": attributes.accent, "trim": mention.trim}[
            name.lower()
        ]
        if name[0].isupper():
            return colour_word(rng, colour, noun=True)
        return inflect(colour_word(rng, colour), ending)

    return MARKER.sub(replace, phrase)


def choose_mentions(attributes: Attributes, rng: np.random.Generator) -> list[Mention]:
    """What one annotator mentions, in order: usually the colour first, then a random subset."""
    candidates: list[Mention] = []
    chance = MENTION_CHANCE
    pattern_chance = chance["plain"] if attributes.pattern == "plain" else chance["pattern"]
    for kind, value, probability in [
        ("pattern", attributes.pattern, pattern_chance),
        ("sleeves", attributes.sleeves, chance["sleeves"]),
        ("neckline", attributes.neckline, chance["neckline"]),
        ("hem", attributes.hem, chance["hem"]),
        ("silhouette", attributes.silhouette, chance["silhouette"]),
        *[("detail", detail, chance["detail"]) for detail in attributes.details],
        ("style", "any", chance["style"]),
    ]:
        if rng.random() < probability:
            trim = attributes.trims.get(value)
            candidates.append(Mention(kind, value, PHRASES[kind][value], trim))
    order = rng.permutation(len(candidates))
    mentions = [candidates[i] for i in order]
    if rng.random() < chance["colour"] or not mentions:
        colour = Mention("colour", attributes.colour, PHRASES["colour"]["any"])
        position = 0 if rng.random() < 0.85 else int(rng.integers(len(mentions) + 1))
        mentions.insert(position, colour)
    return mentions[:MAX_MENTIONS]


def _lower_opener(clause: str) -> str:
    first, _, rest = clause.partition(" ")
    return f"{first.lower()} {rest}" if first in CLAUSE_OPENERS else clause


def _join(parts: list[str], drop_repeated_mit: bool = False) -> str:
    """'a', 'a und b', 'a, b und c'; repeated 'mit' is said once ('mit X und Y')."""
    if drop_repeated_mit:
        parts = [parts[0]] + [
            part[4:] if part.startswith("mit ") and previous.startswith("mit ") else part
            for previous, part in zip(parts, parts[1:], strict=False)
        ]
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " und " + parts[-1]


def fill_template(
    template: tuple[str, ...], mentions: list[Mention], attributes: Attributes, rng
) -> tuple[str, set[int], set[tuple[str, str]]] | None:
    """Fill a template from the mentions: the text, the mentions used and the facts they
    state; None when a required slot finds nothing to say."""
    used: set[int] = set()
    stated: set[tuple[str, str]] = set()
    colour_for_noun = any("{C}" in sentence for sentence in template)

    def take(form: str, most: int) -> list[str]:
        taken = []
        for index, mention in enumerate(mentions):
            if len(taken) == most:
                break
            if index in used or not mention.forms.get(form):
                continue
            if colour_for_noun and mention.kind == "colour" and form != "noun":
                continue  # the colour is kept for {C}
            used.add(index)
            phrase = pick(rng, mention.forms[form])
            stated.update(mention.facts(phrase))
            taken.append(_resolve(phrase, mention, attributes, rng))
        return taken

    def head_noun() -> str:
        if rng.random() < COMPOUND_CHANCE:
            for index, mention in enumerate(mentions):
                if index not in used and mention.forms.get("compound"):
                    used.add(index)
                    compound = pick(rng, mention.forms["compound"])
                    stated.update(mention.facts(compound))
                    return compound
        return "Kleid"

    def fill(match: re.Match) -> str:
        slot, ending, optional = match.group(1), match.group(2), match.group(3)
        many = int(rng.integers(1, 3 if slot in ("AA", "PP") else 4))
        if slot == "N":
            return head_noun()
        form = SLOT_FORMS[slot[0]]
        parts = take(form, many if len(slot) == 2 else 1)
        if not parts:
            if optional:
                return ""
            raise MissingSlot
        if form == "attr":
            parts = [inflect(part, ending) for part in parts]
            return ", ".join(parts) if rng.random() < 0.7 else " und ".join(parts)
        if slot == "k":
            return _lower_opener(parts[0])
        return _join(parts, drop_repeated_mit=form == "mit")

    sentences = []
    try:
        for sentence in template:
            text = re.sub(r"\s+", " ", SLOT.sub(fill, sentence)).strip(" ,")
            if text:
                sentences.append(text[0].upper() + text[1:] + ".")
    except MissingSlot:
        return None
    return " ".join(sentences), used, stated


def add_noise(text: str, rng: np.random.Generator) -> str:
    """Crowd-worker spelling: sometimes all lower case, no umlauts, a typo or no full stop."""
    if rng.random() < LOWER_CASE_CHANCE:
        text = text.lower()
    if rng.random() < NO_UMLAUT_CHANCE:
        text = text.translate(UMLAUT_FREE)
    if rng.random() < TYPO_CHANCE:
        words = list(re.finditer(r"[A-Za-zÄÖÜäöüß]{5,}", text))
        if words:
            word = pick(rng, words)
            letters, at = word.group(), int(rng.integers(1, len(word.group()) - 1))
            typo = pick(rng, ("swap", "drop", "double"))
            if typo == "swap":
                changed = letters[:at] + letters[at + 1] + letters[at] + letters[at + 2 :]
            elif typo == "drop":
                changed = letters[:at] + letters[at + 1 :]
            else:
                changed = letters[:at] + letters[at] + letters[at:]
            text = text[: word.start()] + changed + text[word.end() :]
    if rng.random() < NO_FULL_STOP_CHANCE and text.endswith("."):
        text = text[:-1]
    return text


def describe(attributes: Attributes, rng: np.random.Generator) -> Description:
    """One annotator's German description (1-3 sentences) of a dress, and what it states."""
    mentions = choose_mentions(attributes, rng)
    order = [TEMPLATES[i] for i in rng.permutation(len(TEMPLATES))]
    for template in [*order, FALLBACK_TEMPLATE]:
        filled = fill_template(template, mentions, attributes, rng)
        if filled is not None:
            break
    text, used, stated = filled
    unused = [m for i, m in enumerate(mentions) if i not in used and m.forms.get("clause")]
    if unused and text.count(".") < 3 and rng.random() < 0.5:
        phrase = pick(rng, unused[0].forms["clause"])
        stated.update(unused[0].facts(phrase))
        text = f"{text} {_resolve(phrase, unused[0], attributes, rng)}."
    return Description(add_noise(text, rng), frozenset(stated))
