"""Offline German->English translation of fashion descriptions with a word lexicon.

The lexicon `fashion_tagger/text/resources/glossary_de_en.tsv` has one entry a line: German
word, English, part of speech (see `POS_TAGS`). A German word may have one entry per part of
speech; an exact match takes the first. English for a noun may give an irregular plural as
`leaf|leaves`; an English `-` means the word has no English counterpart and is left out
(`sich`).

Each word of a description is looked up on its own (German word order stays, which is fine
for extracting nouns and adjectives) in this order:
1. the folded form: lower case, umlauts and ß written out (Ärmel, aermel, AERMEL -> aermel),
   hyphens removed (V-Ausschnitt, V-ausschnitt);
2. inflected forms: adjective endings (blaue, blauen -> blau), noun plurals and dative
   plurals with umlaut (Knöpfen -> Knopf, Kleider -> Kleid), which give the English plural;
3. compounds of known parts with linking s/n/en/es (Spitzeneinsatz -> lace insert,
   Seitentaschen -> side pockets, knielang -> knee-length);
4. the lemma that the `simplemma` library (MIT; word lists of German inflection) gives a word
   the rules above cannot read: strong verbs and participles (trägt, getragenen -> tragen),
   plurals the endings miss (Glasknöpfen -> Glasknopf), read by 1-3;
5. a typing slip of one letter (Kleeid, Klied), common in crowd-written text;
6. optionally, for words that 1-4 cannot read, the Ding dictionary (Debian's `trans-de-en`,
   read at run time from the user's copy, see `load_ding`): whole words and inflected forms.
   It comes after the typing slips because its 400,000 words, many rare, would read a slip
   in a fashion word as some other word (Streifn -> patrols);
7. hyphenated words part by part; anything else passes through unchanged.
Then the neighbours settle what one word cannot: plural or singular (die Ärmel sind), a
genitive (Mitte der Waden), a separable verb particle (sieht ... aus), a verb that is also an
adjective (jeder weiß, dass: knows; das Kleid ist weiß: white), a/an and capitals. A relative
clause gets English word order (das bis zum Boden reicht -> that reaches to the floor).
Multi-word entries (handelt sich um) replace word-by-word readings. Results are memoised per
distinct word and per distinct text, so a large corpus costs little more than its vocabulary.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import simplemma

from fashion_tagger.errors import PipelineError
from fashion_tagger.io import read_table

LEXICON_FILE = Path(__file__).parent / "resources" / "glossary_de_en.tsv"
GENERAL_FILE = Path(__file__).parent / "resources" / "general_de_en.tsv"  # frequent words
PARTICIPLES_FILE = Path(__file__).parent / "resources" / "english_participles.tsv"
# Bump when a change of this module alters translations: cached translations (keyed by the
# lexicon's content, the participle table's and this number, see text.translation_cache) are
# then not reused.
VERSION = 6
HEADER = ("german", "english", "pos")

POS_TAGS = {
    "noun": "countable noun (takes an English plural)",
    "mass": "uncountable noun (lace, cotton): never pluralised",
    "adj": "adjective or participle used as one",
    "adv": "adverb that carries content (oben, vorne)",
    "verb": "verb form",
    "num": "number or quantity",
    "prefix": "first part of compounds only (Wickel-, Zier-)",
    "suffix": "last part of compounds only; English -x is hyphenated, +x is glued on",
    "art": "article or determiner",
    "pron": "pronoun",
    "prep": "preposition",
    "conj": "conjunction",
    "aux": "auxiliary or modal verb",
    "part": "particle or function adverb (nicht, sehr)",
}
FUNCTION_POS = frozenset({"art", "pron", "prep", "conj", "aux", "part"})
NOUN_POS = frozenset({"noun", "mass"})
MODIFIER_POS = frozenset({"noun", "mass", "adj", "prefix", "num"})
HEAD_POS = frozenset({"noun", "mass", "adj", "suffix"})
SUFFIX_POS = frozenset({"suffix"})
STANDALONE_POS = frozenset(POS_TAGS) - {"suffix"}
TYPO_POS = STANDALONE_POS - {"prefix"}
OMIT = "-"

# A word: letters and digits (or a fraction such as 3/4), possibly joined by hyphens.
WORD = re.compile(r"((?:\d+/\d+|[^\W_]+)(?:-(?:\d+/\d+|[^\W_]+))*)")
ALPHABETIC = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
SENTENCE_END = re.compile(r"[.!?]")
CLAUSE_END = re.compile(r"[.,;:!?)]")
FOLDING = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "-": ""})
UMLAUTS = (("aeu", "au"), ("ae", "a"), ("oe", "o"), ("ue", "u"))

MIN_PART = 3  # shortest compound part, so that short words never split into noise
MIN_TYPO_LENGTH = 4  # shorter words are too close to each other to guess a typing slip
LETTERS = "abcdefghijklmnopqrstuvwxyzäöüß"
NOUN_ENDINGS = (  # ending, German number, whether the stem may carry a plural umlaut
    ("n", "pl", False),
    ("en", "pl", True),
    ("e", "pl", True),
    ("er", "pl", True),
    ("ern", "pl", True),
    ("s", "pl-or-genitive", False),
    ("es", "sg", False),
    ("", "pl", True),
)
ADJECTIVE_ENDINGS = ("e", "en", "er", "es", "em", "ere", "eren", "erer", "eres", "erem")
VERB_ENDINGS = (("t", "en"), ("et", "en"), ("e", "en"), ("st", "en"))
LINKS = ("s", "es", "n", "en", "e", "er", "ns")  # between the parts of a compound
SAME_PLURAL_ENDINGS = ("el", "er", "en", "chen", "lein")  # Ärmel, Träger, Kragen, Knöpfchen
PLURAL_VERBS = frozenset(
    {"sind", "haben", "waren", "hatten", "wirken", "reichen", "enden", "gehen", "sitzen"}
    | {"liegen", "fallen", "haengen"}
    | {"koennen", "muessen", "sollen", "sollten", "duerfen", "wollen", "werden", "wuerden"}
)
PLURAL_DETERMINERS = frozenset(  # folded, as they are compared with folded words
    {"zwei", "drei", "vier", "fuenf", "sechs", "sieben", "acht", "zehn", "beide", "beiden"}
    | {"alle", "allen", "viele", "vielen", "einige", "einigen", "mehrere", "mehreren"}
    | {"wenige", "wenigen", "paar", "zahlreiche", "zahlreichen"}
)
PLURAL_ARTICLES = frozenset({"die", "keine", "meine", "ihre", "seine", "diese"})
GENITIVE_ARTICLES = frozenset({"des", "eines", "keines", "dieses", "ihres", "seines"})
COMPARISON_WORDS = frozenset({"weniger", "mehr"})  # weniger formell als: less formal than
SEPARABLE_PARTICLES = frozenset({"an", "aus", "ab", "auf", "zu", "hervor", "vor", "zusammen"})
VOWELS = "aeiouAEIOU"
# Words before a verb that is also an adjective that make it the verb: jeder weiß (knows).
SUBJECTS = frozenset({"ich", "du", "er", "sie", "wir", "ihr", "man", "jeder", "jede", "wer"})
SUBJECTS |= frozenset({"jemand", "niemand", "keiner", "keine", "jedermann"})
# ... and words after it, behind a comma: weiß, dass (knows that).
SUBORDINATORS = frozenset({"dass", "ob", "wie", "was", "wo", "warum", "wann"})
# Parts of speech after a word that make it an adverb where it may be one (gerade bis zum).
ADVERB_CONTEXT = frozenset({"art", "prep", "pron"})
# Forms of werden, sein, haben: a verb at the end of their clause is a participle.
AUXILIARIES = frozenset(
    {"wird", "werden", "wurde", "wurden", "worden", "ist", "sind", "war", "waren"}
    | {"hat", "haben", "hatte", "hatten", "kann", "koennen", "muss", "muessen", "soll"}
)
# A word cut short before one of these joiners shares the next word's head: knie- bis wadenlang.
SUSPENDED = re.compile(r"-\s+")
JOINERS = frozenset({"bis", "oder", "und", "bzw", "sowie"})
# Relative pronouns (subject case) and the English that opens the clause: Kleid, das ... reicht.
RELATIVE_PRONOUNS = {key: "that" for key in ("der", "die", "das", "welcher", "welche", "welches")}
VERB_POS = frozenset({"verb", "aux"})
# Modal verbs (folded) whose infinitive stands at the end of the clause: kann ... sein.
MODALS = frozenset(
    {"kann", "koennen", "muss", "muessen", "soll", "sollen", "sollte", "sollten", "darf"}
    | {"duerfen", "will", "wollen", "moechte", "moechten", "wuerde", "wuerden", "koennte"}
    | {"koennten", "sollte", "muesste", "duerfte"}
)
MAX_VERB_GROUP = 3  # verbs at the end of a German relative clause: getragen werden kann

# The Ding dictionary: lines "Kleid {n} | Kleider {pl} :: dress | dresses". Sub-entries are
# separated by " | " on both sides, alternatives by "; "; braces tag the part of speech.
DING_POS = {"m": "noun", "f": "noun", "n": "noun", "pl": "noun", "adj": "adj", "adv": "adv"}
DING_POS |= dict.fromkeys(("v", "vt", "vi", "vr"), "verb")
DING_TAG = re.compile(r"\{([^}]*)\}")
DING_NOTES = re.compile(r"\[[^\]]*\]|\([^)]*\)|\{[^}]*\}|<[^>]*>")
DING_PLACEHOLDERS = re.compile(r"(?<!\w)(?:etw|jdn|jdm|jds|sth|sb)\.|\bsich\b")


def fold(word: str) -> str:
    """The lookup key of a German word: lower case, umlauts written out, no hyphens."""
    return word.lower().translate(FOLDING)


def remove_umlaut(stem: str) -> str:
    """The stem with its last umlaut undone (knoepf -> knopf), or '' when it has none."""
    positions = [(stem.rfind(umlaut), umlaut, plain) for umlaut, plain in UMLAUTS]
    at, umlaut, plain = max(positions, key=lambda found: found[0])
    if at < 0:
        return ""
    return stem[:at] + plain + stem[at + len(umlaut) :]


def pluralise(english: str) -> str:
    """English plural of a noun phrase: its last word gets -s, -es or -ies."""
    head, _, last = english.rpartition(" ")
    if re.search(r"(s|x|z|ch|sh)$", last):
        last += "es"
    elif re.search(r"[^aeiou]y$", last):
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{head} {last}" if head else last


IRREGULAR_THIRD_PERSON = {"be": "is", "have": "has", "do": "does", "go": "goes"}


@cache
def irregular_participles(path: Path = PARTICIPLES_FILE) -> dict[str, str]:
    """English verbs whose past participle is not the -ed form (sew -> sewn)."""
    return dict(read_table(path, 2))


def past_participle(english: str) -> str:
    """English past participle of a verb phrase: its first word (sew on -> sewn on)."""
    first, space, rest = english.partition(" ")
    irregular = irregular_participles()
    if first in irregular:
        first = irregular[first]
    elif first.endswith("e"):
        first += "d"
    elif re.search(r"[^aeiou]y$", first):
        first = first[:-1] + "ied"
    elif re.fullmatch(r"[^aeiou]*[aeiou][bdgmnprt]", first):  # one syllable: trim -> trimmed
        first += first[-1] + "ed"
    else:
        first += "ed"
    return first + space + rest


def third_person(english: str) -> str:
    """English third person singular of a verb phrase: its first word (fit in -> fits in)."""
    first, space, rest = english.partition(" ")
    if first in IRREGULAR_THIRD_PERSON:
        first = IRREGULAR_THIRD_PERSON[first]
    elif re.search(r"(s|x|z|ch|sh|o)$", first):
        first += "es"
    elif re.search(r"[^aeiou]y$", first):
        first = first[:-1] + "ies"
    else:
        first += "s"
    return first + space + rest


@dataclass(frozen=True)
class Entry:
    """One lexicon line: German word, English (singular and plural) and part of speech."""

    german: str
    english: str
    plural: str
    pos: str


class Lexicon:
    """The German->English word list, indexed by folded German form."""

    def __init__(
        self,
        entries: Sequence[Entry],
        fingerprint: str | None = None,
        general: Sequence[Entry] = (),
    ):
        """`general`: frequent words of any German text, read after `entries` and never the
        guess for a typing slip."""
        every = [*entries, *general]
        self.fingerprint = fingerprint or self._fingerprint(every)  # content hash, for caches
        self._by_key: dict[str, list[Entry]] = {}
        self._fashion_by_key: dict[str, list[Entry]] = {}  # the same without general words
        self.phrases: dict[tuple[str, ...], Entry] = {}  # multi-word entries: handelt sich um
        for index, entry in enumerate(every):
            if " " in entry.german:
                self.phrases[tuple(fold(word) for word in entry.german.split())] = entry
                continue
            self._by_key.setdefault(fold(entry.german), []).append(entry)
            if index < len(entries):
                self._fashion_by_key.setdefault(fold(entry.german), []).append(entry)
        self.longest_phrase = max(map(len, self.phrases), default=1)
        self.phrase_starts = {words[0] for words in self.phrases}
        # first letters of the words a typing slip may be guessed as, to rule out guesses fast
        self.openings = {key[:MIN_PART] for key in self._fashion_by_key}
        # the one-word English of the fashion nouns and adjectives, singular and plural: an
        # English word in German text ("Cocktail Dresses", "Slip") stays as it is
        self.english: dict[str, tuple[Entry, str]] = {}
        for entry in entries:
            if entry.pos in ("noun", "adj"):
                for form, number in ((entry.english, "sg"), (entry.plural, "pl")):
                    if " " not in form:
                        self.english.setdefault(form.lower(), (entry, number))
        self.size = len(every)

    @classmethod
    def load(
        cls, path: Path | str = LEXICON_FILE, general: Path | str | None = GENERAL_FILE
    ) -> Lexicon:
        """Read a lexicon TSV and the TSV of general words (same format; None: none); a
        malformed line is a one-line error naming file and line."""
        seen: set[tuple[str, str]] = set()
        entries = cls._read(Path(path), seen)
        return cls(entries, general=cls._read(Path(general), seen) if general else ())

    @staticmethod
    def _read(path: Path, seen: set[tuple[str, str]]) -> list[Entry]:
        """The entries of one lexicon TSV; `seen` holds the (word, part of speech) pairs read
        so far, so that a repeat in either file is an error."""
        if not path.exists():
            raise PipelineError(f"{path}: file not found")
        entries: list[Entry] = []
        header_seen = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            where = f"{path}: line {number}"
            if not header_seen:
                if tuple(fields) != HEADER:
                    raise PipelineError(f"{where}: expected the header {' '.join(HEADER)}")
                header_seen = True
                continue
            if len(fields) != 3 or not all(field.strip() == field and field for field in fields):
                raise PipelineError(f"{where}: expected 3 tab-separated non-empty fields")
            german, english, pos = fields
            if pos not in POS_TAGS:
                raise PipelineError(f"{where}: unknown part of speech {pos!r}")
            if (fold(german), pos) in seen:
                raise PipelineError(f"{where}: duplicate entry {german!r} ({pos})")
            seen.add((fold(german), pos))
            singular, _, plural = english.partition("|")
            if not plural:
                plural = pluralise(singular) if pos == "noun" else singular
            entries.append(Entry(german, singular, plural, pos))
        if not entries:
            raise PipelineError(f"{path}: no entries")
        return entries

    @staticmethod
    def _fingerprint(entries: Sequence[Entry]) -> str:
        """SHA-256 of the entries: changes whenever any translation could change."""
        digest = hashlib.sha256()
        for entry in entries:
            digest.update(
                f"{entry.german}\t{entry.english}\t{entry.plural}\t{entry.pos}\n".encode()
            )
        return digest.hexdigest()

    def find(self, key: str, allowed: frozenset[str], general: bool = True) -> Entry | None:
        """The first entry of a folded form whose part of speech is allowed (of the fashion
        words only, without `general`)."""
        for entry in (self._by_key if general else self._fashion_by_key).get(key, ()):
            if entry.pos in allowed:
                return entry
        return None

    def is_function_word(self, word: str) -> bool:
        """Whether a word's exact form is first listed as a function word (der, mit, ist)."""
        entries = self._by_key.get(fold(word))
        return bool(entries) and entries[0].pos in FUNCTION_POS

    def is_content_word(self, word: str) -> bool:
        """An alphabetic word of three letters or more that is not a function word: what
        translation coverage counts (cm, St. and D.C. are abbreviations, kept as they are)."""
        return (
            len(word) > 2 and bool(ALPHABETIC.fullmatch(word)) and not self.is_function_word(word)
        )

    def content_words(self, text: str) -> list[str]:
        """The content words of a German text, in lower case, with repeats."""
        return [word.lower() for word in WORD.findall(text) if self.is_content_word(word)]


def load_ding(path: Path | str) -> Lexicon:
    """The single-word entries of a Ding dictionary file as a lexicon (first sense first).

    Nouns, adjectives, adverbs and verbs are kept; a sub-entry without a tag takes the first
    sub-entry's (schöner after schön {adj}), and the participles after a verb are adjectives
    (verschmutzt after verschmutzen {vt}). Plural headwords (Kleider {pl}) keep Ding's plural.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(
            f"param translate.ding_path: {path}: file not found (install Debian's "
            "trans-de-en, which provides /usr/share/trans/de-en, or set it to null)"
        )
    data = path.read_bytes()
    entries = [
        entry
        for line in data.decode("utf-8", errors="replace").splitlines()
        if not line.startswith("#")
        for entry in _ding_entries(line)
    ]
    if not entries:
        raise PipelineError(f"param translate.ding_path: {path}: no Ding entries found")
    return Lexicon(entries, fingerprint=hashlib.sha256(data).hexdigest())


def _ding_entries(line: str) -> Iterator[Entry]:
    """Lexicon entries of one Ding line (none for phrases, examples or malformed lines)."""
    german, separator, english = line.partition(" :: ")
    german_parts, english_parts = german.split(" | "), english.split(" | ")
    if not separator or len(german_parts) != len(english_parts):
        return
    entry_pos = None
    parts = zip(german_parts, english_parts, strict=True)
    for index, (german_part, english_part) in enumerate(parts):
        part_pos = _ding_pos(german_part)
        if index == 0:
            entry_pos = part_pos
        if entry_pos is None:
            return
        pos = part_pos or ("adj" if entry_pos == "verb" else entry_pos)
        translation = _ding_english(english_part, pos)
        if not translation:
            continue
        for alternative in german_part.split("; "):
            word = " ".join(DING_PLACEHOLDERS.sub(" ", DING_NOTES.sub(" ", alternative)).split())
            if ALPHABETIC.fullmatch(word):
                plural = "pl" in DING_TAG.findall(alternative)
                plural_english = translation if plural else pluralise(translation)
                yield Entry(word, translation, plural_english, pos)


def _ding_pos(german_part: str) -> str | None:
    """Our part of speech for the first known Ding tag of a sub-entry, None if it has none."""
    return next((DING_POS[tag] for tag in DING_TAG.findall(german_part) if tag in DING_POS), None)


def _ding_english(english_part: str, pos: str) -> str:
    """The first usable English alternative of a sub-entry, without notes; '' if none."""
    for alternative in english_part.split("; "):
        text = " ".join(DING_PLACEHOLDERS.sub(" ", DING_NOTES.sub(" ", alternative)).split())
        if pos == "verb":
            text = text.removeprefix("to ")
        if text and not any(mark in text for mark in "/…|\t"):
            return text
    return ""


@dataclass(frozen=True)
class Analysis:
    """How one German word translates, before its context (number, sentence start) is known."""

    singular: str  # the English; for a noun its singular
    plural: str  # the English plural of a noun, else the same as `singular`
    number: str  # German number: sg, pl, pl-or-genitive (Rocks) or sg-or-pl (Ärmel)
    pos: str  # part of speech of the word's head, '' when unknown
    known: bool  # every part was found in the lexicon
    content: bool  # a content word (Lexicon.is_content_word): counted for coverage
    participle: str = ""  # for a verb read as a present form: its English past participle


@dataclass(frozen=True)
class _Part:
    entry: Entry
    number: str  # as in Analysis


class GlossaryTranslator:
    """The `glossary` translation backend: lexicon look-ups, memoised per distinct word."""

    name = "glossary"
    batch_size = 512  # texts per call of translate(): the stage's unit of progress and caching

    def __init__(self, lexicon: Lexicon, fallback: Lexicon | None = None):
        self.lexicon = lexicon
        self.fallback = fallback  # consulted for words the lexicon cannot read (Ding)
        self._analyse = cache(self._analyse_word)
        self._translate = cache(self._translate_text)
        self._parse = cache(self._parse_compound)

    @classmethod
    def load(cls, path: Path | str = LEXICON_FILE) -> GlossaryTranslator:
        return cls(Lexicon.load(path))

    # Backend interface ------------------------------------------------------------------------

    def translate(self, texts: Sequence[str]) -> list[str]:
        """English for each German text, in order."""
        return [self._translate(text)[0] for text in texts]

    def identity(self) -> dict:
        """What determines this backend's translations: the key of its translation cache."""
        return {
            "backend": self.name,
            "version": VERSION,
            "lexicon": self.lexicon.fingerprint,
            "participles": hashlib.sha256(PARTICIPLES_FILE.read_bytes()).hexdigest(),
            "ding": self.fallback.fingerprint if self.fallback else None,
        }

    def keeps_word(self, word: str) -> bool:
        """Whether a known German word is the same in English (elegant, Top, Shorts).

        Such a word found unchanged in a translation was translated, not left as it was.
        """
        analysis = self._analyse(word)
        return analysis.known and word.lower() in (
            analysis.singular.lower(),
            analysis.plural.lower(),
        )

    def content_words(self, text: str) -> list[str]:
        """The content words of a German text (the lexicon's), without proper names: those
        stay as they are in any language (see `_is_name`)."""
        pieces = WORD.split(text)
        gaps, words = pieces[0::2], pieces[1::2]
        return [
            word.lower()
            for index, word in enumerate(words)
            if self.lexicon.is_content_word(word) and not self._is_name(index, words, gaps)
        ]

    def _is_name(self, index: int, words: Sequence[str], gaps: Sequence[str]) -> bool:
        """Whether a word is part of a proper name: a capitalised word that the lexicon cannot
        read, not the first of its sentence, with capitals inside it (McQueen, ESMOD) or next
        to another such capitalised word (Catherine Walker, Herzogin Kate)."""

        def capitalised(at: int) -> bool:
            starts_sentence = at == 0 or bool(SENTENCE_END.search(gaps[at]))
            return words[at][:1].isupper() and not starts_sentence

        if not capitalised(index) or self._analyse(words[index]).known:
            return False
        if any(piece[1:] != piece[1:].lower() for piece in words[index].split("-")):
            return True
        return any(
            0 <= other < len(words) and not gap.strip(" -") and capitalised(other)
            for other, gap in ((index - 1, gaps[index]), (index + 1, gaps[index + 1]))
        )

    # Sentences --------------------------------------------------------------------------------

    def translate_text(self, text: str) -> tuple[str, list[str]]:
        """One description: its English and its untranslated content words (memoised)."""
        english, untranslated = self._translate(text)
        return english, list(untranslated)

    def _translate_text(self, text: str) -> tuple[str, tuple[str, ...]]:
        pieces = WORD.split(text)
        gaps, words = pieces[0::2], pieces[1::2]
        self._complete_suspended(words, gaps)
        analyses = [self._analyse(word) for word in words]
        english = [self._in_context(index, words, gaps, analyses) for index in range(len(words))]
        known = [analysis.known for analysis in analyses]
        for start, length, phrase in self._phrases(words, gaps):
            english[start : start + length] = [phrase.english] + [OMIT] * (length - 1)
            known[start : start + length] = [True] * length
        order = self._modal_order(
            words, gaps, analyses, self._relative_clause_order(words, gaps, analyses)
        )
        english = [english[index] for index in order]
        analyses = [analyses[index] for index in order]
        untranslated = tuple(
            word.lower()
            for word, analysis, found in zip(words, analyses, known, strict=True)
            if analysis.content and not found
        )
        return self._assemble(words, gaps, english, analyses), untranslated

    def _in_context(
        self, index: int, words: list[str], gaps: list[str], analyses: list[Analysis]
    ) -> str:
        """The English of one word given its neighbours (number, genitive, verb particles)."""
        analysis = analyses[index]
        key = fold(words[index])
        previous = fold(words[index - 1]) if index else ""
        joined_before = index > 0 and gaps[index].isspace()
        if analysis.number == "pl":
            return analysis.plural
        if analysis.number == "pl-or-genitive":
            return analysis.singular if previous in GENITIVE_ARTICLES else analysis.plural
        if analysis.number == "sg-or-pl" and self._plural_in_context(index, words, gaps, analyses):
            return analysis.plural
        if analysis.pos == "adj" and (verb := self._verb_in_context(index, words, gaps)):
            return verb
        if analysis.pos == "adj" and (adverb := self._adverb_in_context(index, words, gaps)):
            return adverb
        if key in RELATIVE_PRONOUNS and self._relative_clause(index, words, gaps, analyses):
            return RELATIVE_PRONOUNS[key]
        if key == "der" and joined_before and analyses[index - 1].pos in NOUN_POS:
            return "of the"  # genitive after a noun: die Mitte der Waden
        if key == "als" and joined_before and self._closes_comparison(index, words, analyses):
            return "than"  # kürzer als hinten: shorter than at the back
        last = index == len(words) - 1
        clause_end = last or bool(CLAUSE_END.search(gaps[index + 1]))
        if key in SEPARABLE_PARTICLES and clause_end:
            return OMIT  # a separable verb particle at the clause end: sieht ... aus
        if analysis.participle and (
            (clause_end and self._auxiliary_before(index, words, gaps))
            or self._auxiliary_after(index, words, gaps)
        ):
            return analysis.participle  # wird ... erzeugt, bedeckt werden: created, covered
        return analysis.singular

    def _adverb_in_context(self, index: int, words: list[str], gaps: list[str]) -> str:
        """The English adverb of an adjective that the lexicon also lists as an adverb, when an
        article, preposition, pronoun or verb follows it (gerade bis zum Knie: just to the knee;
        gerade die Ärmel: just the sleeves; wird gerade getragen: is just worn), else ''."""
        adverb = self.lexicon.find(fold(words[index]), frozenset({"adv"}))
        if adverb is None or index + 1 >= len(words) or not gaps[index + 1].isspace():
            return ""
        following = self.lexicon.find(fold(words[index + 1]), FUNCTION_POS)
        if following and following.pos in ADVERB_CONTEXT:
            return adverb.english
        return adverb.english if self._analyse(words[index + 1]).pos in VERB_POS else ""

    @staticmethod
    def _auxiliary_after(index: int, words: list[str], gaps: list[str]) -> bool:
        """Whether the word opens the verbs that end its clause, a form of werden, sein or haben
        among them (bedeckt werden, durchgesetzt haben, getragen werden kann)."""
        group, after = [], index + 1
        while after < len(words) and len(group) < MAX_VERB_GROUP and gaps[after].isspace():
            group.append(fold(words[after]))
            after += 1
        clause_end = after == len(words) or bool(CLAUSE_END.search(gaps[after]))
        return bool(group) and clause_end and all(w in AUXILIARIES | MODALS for w in group)

    @staticmethod
    def _auxiliary_before(index: int, words: list[str], gaps: list[str]) -> bool:
        """Whether a form of werden, sein or haben stands earlier in the word's clause."""
        for before in range(index - 1, -1, -1):
            if CLAUSE_END.search(gaps[before + 1]):
                return False
            if fold(words[before]) in AUXILIARIES:
                return True
        return False

    def _complete_suspended(self, words: list[str], gaps: list[str]) -> None:
        """Words cut short by a hyphen take the head of the compound after the joiner
        (knie- bis wadenlang: knielang bis wadenlang; Ball- oder Galakleid: Ballkleid), in
        place; the head is the longest end of that compound that the lexicon reads, and the
        completed word must read too."""
        for index in range(len(words) - 2):
            if not SUSPENDED.fullmatch(gaps[index + 1]) or fold(words[index + 1]) not in JOINERS:
                continue
            whole, noun_first = words[index + 2], words[index][:1].isupper()
            for cut in range(MIN_PART, len(whole) - MIN_PART + 1):
                head, candidate = fold(whole[cut:]), fold(words[index] + whole[cut:])
                if self._reads(head, noun_first) and self._reads(candidate, noun_first):
                    words[index] = words[index] + whole[cut:]
                    gaps[index + 1] = " "
                    break

    def _reads(self, key: str, noun_first: bool) -> bool:
        """Whether the lexicon reads a folded word, alone or as a compound (no typo guesses)."""
        return bool(self._lookup(key, noun_first, STANDALONE_POS) or self._parse(key, noun_first))

    def _verb_in_context(self, index: int, words: list[str], gaps: list[str]) -> str:
        """The English verb of a word that is also an adjective when its neighbours make it the
        verb (jeder weiß; weiß, dass), else ''."""
        verb = self.lexicon.find(fold(words[index]), frozenset({"verb"}))
        if verb is None:
            return ""
        previous = fold(words[index - 1]) if index and gaps[index].isspace() else ""
        following = fold(words[index + 1]) if index + 1 < len(words) else ""
        comma_after = index + 1 < len(words) and gaps[index + 1].strip() == ","
        if previous in SUBJECTS or (comma_after and following in SUBORDINATORS):
            return verb.english
        return ""

    @staticmethod
    def _relative_clause(
        start: int, words: list[str], gaps: list[str], analyses: list[Analysis]
    ) -> tuple[int, int] | None:
        """Where the verbs at the end of the relative clause opened by words[start] begin and
        where the clause ends; None when words[start] opens none.

        A clause counts as relative when a relative pronoun follows a comma, the word after it
        is no noun (", die Ärmel sind kurz" is a main clause) and the clause ends in verbs.
        """
        if fold(words[start]) not in RELATIVE_PRONOUNS or not start or gaps[start].strip() != ",":
            return None
        end = start + 1
        while end < len(words) and not CLAUSE_END.search(gaps[end]):
            end += 1  # the clause is words[start:end]
        verbs = end
        while verbs > start + 1 and analyses[verbs - 1].pos in VERB_POS:
            verbs -= 1
        if verbs in (end, start + 1) or end - verbs > MAX_VERB_GROUP:
            return None
        if analyses[start + 1].pos in NOUN_POS:
            return None
        return verbs, end

    def _relative_clause_order(
        self, words: list[str], gaps: list[str], analyses: list[Analysis]
    ) -> list[int]:
        """Word indices in English order: in a relative clause the verbs at its end move behind
        the pronoun (", das bis zum Boden reicht": ", that reaches to the floor")."""
        order = list(range(len(words)))
        for start in range(len(words)):
            clause = self._relative_clause(start, words, gaps, analyses)
            if clause:
                verbs, end = clause
                order[start + 1 : end] = order[verbs:end] + order[start + 1 : verbs]
        return order

    @staticmethod
    def _modal_order(
        words: list[str], gaps: list[str], analyses: list[Analysis], order: list[int]
    ) -> list[int]:
        """Word indices in English order: an infinitive at the end of a main clause moves to
        just behind the modal verb of that clause ("Die Ärmel können lang oder kurz sein": the
        sleeves can be long or short)."""
        order = list(order)
        start = 0
        for end in range(1, len(order) + 1):
            if end < len(order) and not CLAUSE_END.search(gaps[order[end]]):
                continue
            clause = order[start:end]  # the clause's word indices, in the current order
            last = clause[-1] if clause else None
            modals = [at for at, index in enumerate(clause[:-1]) if fold(words[index]) in MODALS]
            infinitive = last is not None and fold(words[last]).endswith("n")
            if (
                modals
                and infinitive
                and analyses[last].pos in VERB_POS
                and modals[0] + 1 < len(clause) - 1
            ):
                at = modals[0] + 1
                order[start:end] = clause[:at] + [last] + clause[at:-1]
            start = end
        return order

    @staticmethod
    def _closes_comparison(index: int, words: list[str], analyses: list[Analysis]) -> bool:
        """Whether the adjective before "als" (at `index`) ends a comparison: a comparative in
        English (kürzer: shorter), one whose German -er the lexicon read as an ending
        (eleganter als: elegant than) but not after an article, or one after weniger or mehr
        (weniger formell als: less formal than)."""
        analysis = analyses[index - 1]
        if analysis.pos != "adj":
            return False
        if analysis.singular.endswith("er") or analysis.singular.startswith("more "):
            return True
        if index > 1 and fold(words[index - 2]) in COMPARISON_WORDS:
            return True
        # after an article, -er is an ending: ein schwarzer als Klassiker bekannter Stil
        after_article = index > 1 and analyses[index - 2].pos == "art"
        return fold(words[index - 1]).endswith("er") and not after_article

    @staticmethod
    def _plural_in_context(
        index: int, words: list[str], gaps: list[str], analyses: list[Analysis]
    ) -> bool:
        """Whether a noun that is the same in both numbers (Ärmel, Träger) is plural here.

        Signs: a plural verb right after it (die Ärmel sind), a number or plural determiner
        before it (zwei Träger), an adjective with a plural ending before it (die langen Ärmel,
        lange Ärmel without an article).
        """
        following = index + 1 < len(words) and gaps[index + 1].isspace()
        if following and fold(words[index + 1]) in PLURAL_VERBS:
            return True
        before = index - 1
        adjective = ""
        while before >= 0 and not gaps[before + 1].strip(" ,") and analyses[before].pos == "adj":
            adjective = adjective or fold(words[before])
            before -= 1
        determiner = fold(words[before]) if before >= 0 and gaps[before + 1].isspace() else ""
        if determiner in PLURAL_DETERMINERS or (determiner.isdigit() and int(determiner) > 1):
            return True
        if determiner in PLURAL_ARTICLES:
            return adjective.endswith("en")
        bare = before < 0 or analyses[before].pos not in {"art", "pron"}
        return bare and adjective.endswith("e")

    def _phrases(self, words: list[str], gaps: list[str]) -> Iterator[tuple[int, int, Entry]]:
        """Multi-word lexicon entries in the text (handelt sich um): start, length, entry."""
        keys = [fold(word) for word in words]
        index = 0
        while index < len(words):
            length = 1
            if keys[index] in self.lexicon.phrase_starts:
                for length in range(min(self.lexicon.longest_phrase, len(words) - index), 0, -1):
                    joined = all(gap.isspace() for gap in gaps[index + 1 : index + length])
                    entry = self.lexicon.phrases.get(tuple(keys[index : index + length]))
                    if joined and entry:
                        yield index, length, entry
                        break
            index += max(length, 1)

    def _assemble(
        self, words: list[str], gaps: list[str], english: list[str], analyses: list[Analysis]
    ) -> str:
        """Join the English words with the original gaps: a/an, capitals, no 'to to (the)'."""
        output = [gaps[0]]
        sentence_start = True
        previous = ""
        for index, word in enumerate(words):
            translation = english[index]
            last = previous.rsplit(" ", 1)[-1]
            if translation == last and analyses[index].pos == "prep" and output[-1].isspace():
                translation = OMIT  # bis zu den Knöcheln: to the ankles, not to to the ankles
            if translation == OMIT:
                if output[-1].isspace():
                    output.pop()
            else:
                if translation == "a" and self._next_starts_with_vowel(english, index):
                    translation = "an"
                first, _, rest = translation.partition(" ")
                stutter = last == first and output[-1].isspace()
                if stutter and rest and analyses[index].pos in ("prep", "art"):
                    translation = rest  # bis zum Knie: to the knee, not to to the knee
                if sentence_start and word[0].isupper():
                    translation = translation[0].upper() + translation[1:]
                output.append(translation)
                previous = translation
                sentence_start = False
            output.append(gaps[index + 1])
            if SENTENCE_END.search(gaps[index + 1]):
                sentence_start = True
        return "".join(output)

    @staticmethod
    def _next_starts_with_vowel(english: list[str], index: int) -> bool:
        following = [word for word in english[index + 1 :] if word != OMIT]
        return bool(following) and following[0][:1] in VOWELS

    # Words ------------------------------------------------------------------------------------

    def _analyse_word(self, word: str) -> Analysis:
        content = self.lexicon.is_content_word(word)
        noun_first = word[:1].isupper()
        key = fold(word)
        found = self._lookup(key, noun_first, STANDALONE_POS)
        parts = [found] if found else self._parse(key, noun_first)
        if not parts:
            parts = self._lemma_parts(word, noun_first)
        if not parts and (english := self.lexicon.english.get(word.lower())):
            entry, number = english
            return Analysis(word, word, number, entry.pos, True, content)
        if not parts:
            parts = self._correct_typo(word, noun_first)
        if not parts and self.fallback:
            found = self._lookup(key, noun_first, STANDALONE_POS, lexicon=self.fallback)
            parts = [found] if found else None
        if parts:
            *modifiers, head = parts
            participle = ""
            if self._is_participle(key, head.entry):  # durchgesetzt -> prevailed
                head = _Part(replace(head.entry, english=past_participle(head.entry.english)), "sg")
            elif self._is_present_form(key, head.entry):  # verfügt -> has, not have
                participle = past_participle(head.entry.english)
                head = _Part(replace(head.entry, english=third_person(head.entry.english)), "sg")
            elif head.entry.pos == "verb" and (infinitive := self._infinitive_of(key)):
                participle = past_participle(infinitive.english)  # bedeckt (covers): covered
            singular = self._join(modifiers, head.entry, plural=False)
            plural = self._join(modifiers, head.entry, plural=True)
            return Analysis(
                singular, plural, head.number, head.entry.pos, True, content, participle
            )
        if "-" in word.strip("-"):
            pieces = [self._analyse(piece) for piece in word.split("-") if piece]
            *first, last = [piece for piece in pieces if piece.singular != OMIT] or pieces
            singular, plural = (
                " ".join([*(p.singular for p in first), end])
                for end in (last.singular, last.plural)
            )
            known = all(piece.known for piece in pieces)
            return Analysis(singular, plural, last.number, last.pos, known, content)
        return Analysis(word, word, "sg", "", False, content)

    def _infinitive_of(self, key: str) -> Entry | None:
        """The lexicon's infinitive of a folded present form in -t that it lists on its own
        (bedeckt -> bedecken, aendert -> aendern), or None."""
        if not key.endswith("t"):
            return None
        for ending in ("en", "n"):
            found = self.lexicon.find(key[:-1] + ending, frozenset({"verb"}))
            if found:
                return found
        return None

    @staticmethod
    def _is_participle(key: str, entry: Entry) -> bool:
        """Whether a folded word read as the infinitive `entry` is its participle: it ends in -t
        or -en and holds one 'ge' more (durchgesetzt, angenaeht, gelegt)."""
        lemma = fold(entry.german)
        return (
            entry.pos == "verb"
            and key != lemma
            and key.endswith(("t", "en"))
            and key.count("ge") > lemma.count("ge")
        )

    @staticmethod
    def _is_present_form(key: str, entry: Entry) -> bool:
        """Whether a folded word read as the infinitive `entry` is its third person singular:
        it ends in -t and holds no 'ge' more than the infinitive (verfügt, besticht; not the
        participle durchgesetzt), so that the English tagger sees a verb ("has", "impresses")."""
        lemma = fold(entry.german)
        return (
            entry.pos == "verb"
            and lemma.endswith("n")
            and key != lemma
            and key.endswith("t")
            and key.count("ge") <= lemma.count("ge")
        )

    def _lemma_parts(self, word: str, noun_first: bool) -> list[_Part] | None:
        """The reading of the lemma simplemma gives an inflected form (trägt -> tragen), or None.

        A noun read this way may be singular or plural (Glasknöpfen, Kleides): its neighbours
        decide, as for nouns that are the same in both numbers.
        """
        key = fold(simplemma.lemmatize(word, lang="de"))
        if key == fold(word):
            return None
        found = self._lookup(key, noun_first, STANDALONE_POS)
        parts = [found] if found else self._parse(key, noun_first)
        if not parts:
            return None
        *modifiers, head = parts
        number = "sg-or-pl" if head.entry.pos == "noun" else head.number
        return [*modifiers, _Part(head.entry, number)]

    def _correct_typo(self, word: str, noun_first: bool) -> list[_Part] | None:
        """The reading of a word one typing slip away (Kleeid, Klied, Könpfe); None if none.

        Slips are tried from the most to the least likely: a doubled letter, two letters
        swapped, a letter left out, a letter too many, a wrong letter. The first two may also
        give compounds; the others only single words, which keeps the search cheap. A guess
        is never one of the general words (lanen is langen, not planen): slips in descriptions
        are made in the words of dresses.
        """
        word = word.lower()
        if len(word) < MIN_TYPO_LENGTH:
            return None
        cuts = range(len(word))
        doubled = [word[:at] + word[at + 1 :] for at in cuts[1:] if word[at] == word[at - 1]]
        swapped = [word[:at] + word[at + 1] + word[at] + word[at + 2 :] for at in cuts[:-1]]
        for candidate in dict.fromkeys(map(fold, doubled + swapped)):
            found = self._lookup(candidate, noun_first, TYPO_POS, diminutives=False, general=False)
            parts = [found] if found else self._parse(candidate, noun_first)
            if parts:
                return parts
        inserted = [word[:at] + add + word[at:] for at in range(len(word) + 1) for add in LETTERS]
        dropped = [word[:at] + word[at + 1 :] for at in cuts]
        replaced = [word[:at] + add + word[at + 1 :] for at in cuts for add in LETTERS]
        for candidate in dict.fromkeys(map(fold, inserted + dropped + replaced)):
            if candidate[:MIN_PART] in self.lexicon.openings:
                found = self._lookup(
                    candidate, noun_first, TYPO_POS, diminutives=False, general=False
                )
                if found:
                    return [found]
        return None

    def _lookup(
        self,
        key: str,
        noun_first: bool,
        exact_pos: frozenset[str],
        diminutives: bool = True,
        lexicon: Lexicon | None = None,
        general: bool = True,
    ) -> _Part | None:
        """The word itself or, failing that, the lemma of an inflected form or diminutive.

        Looks in `lexicon` (the Ding fallback: no diminutives) or else in the main lexicon;
        without `general`, among the fashion words only.
        """
        if lexicon:
            diminutives = False
        lexicon = lexicon or self.lexicon
        for lemma, allowed, number in self._inflections(key, noun_first, exact_pos):
            entry = lexicon.find(lemma, allowed, general)
            if entry and entry.pos != "noun":
                return _Part(entry, "sg")
            if entry:
                same_plural = lemma == key and key.endswith(SAME_PLURAL_ENDINGS)
                return _Part(entry, "sg-or-pl" if same_plural else number)
        if diminutives and exact_pos & NOUN_POS:
            return self._diminutive(key, exact_pos & NOUN_POS)
        return None

    def _diminutive(self, key: str, allowed: frozenset[str]) -> _Part | None:
        """A -chen/-lein form of a known noun (Herzchen, Blümchen): 'little' and the noun."""
        for ending in ("chen", "lein"):
            stem = key.removesuffix(ending)
            if stem == key or len(stem) < MIN_PART:
                continue
            plain = remove_umlaut(stem)
            for lemma in (stem, stem + "e", *((plain, plain + "e") if plain else ())):
                entry = self.lexicon.find(lemma, allowed)
                if entry:
                    little = Entry(key, f"little {entry.english}", f"little {entry.plural}", "noun")
                    return _Part(little, "sg-or-pl")
        return None

    @staticmethod
    def _inflections(
        key: str, noun_first: bool, exact_pos: frozenset[str]
    ) -> Iterator[tuple[str, frozenset[str], str]]:
        """Candidate (lemma, allowed parts of speech, German number) of a folded word."""
        noun_pos, adjective_pos = exact_pos & NOUN_POS, exact_pos & {"adj", "suffix"}
        nouns = [(key, noun_pos, "sg")]
        for ending, number, umlaut in NOUN_ENDINGS if noun_pos else ():
            if key.endswith(ending) and len(key) - len(ending) >= MIN_PART:
                stem = key[: len(key) - len(ending)]
                if ending:
                    nouns.append((stem, noun_pos, number))
                if umlaut and remove_umlaut(stem):
                    nouns.append((remove_umlaut(stem), noun_pos, number))
        adjectives = []
        for ending in ADJECTIVE_ENDINGS if adjective_pos else ():
            if key.endswith(ending) and len(key) - len(ending) >= MIN_PART:
                stem = key[: -len(ending)]
                adjectives.append((stem, adjective_pos, "sg"))
                if len(ending) == 2:  # the lemma ends in -e: geraden -> gerade
                    adjectives.append((stem + "e", adjective_pos, "sg"))
                if stem[-1] in "lr" and stem[-2] not in "aeiou":  # dunkle -> dunkel
                    adjectives.append((stem[:-1] + "e" + stem[-1], adjective_pos, "sg"))
                if ending.startswith("er") and remove_umlaut(stem):  # laenger -> lang
                    adjectives.append((remove_umlaut(stem), adjective_pos, "sg"))
        other = [(key, exact_pos - NOUN_POS, "sg")]
        yield from (nouns + other + adjectives) if noun_first else (other + adjectives + nouns)
        for ending, infinitive in VERB_ENDINGS if "verb" in exact_pos else ():
            if key.endswith(ending) and len(key) - len(ending) >= MIN_PART:
                yield key[: -len(ending)] + infinitive, frozenset({"verb"}), "sg"

    def _parse_compound(self, key: str, noun_first: bool) -> list[_Part] | None:
        """Fewest known parts that make up `key`: modifiers, then an (inflected) head."""
        if len(key) < 2 * MIN_PART:
            return None
        best: list[_Part] | None = None
        for cut in range(MIN_PART, len(key) - MIN_PART + 1):
            modifier = self._modifier(key[:cut])
            if not modifier:
                continue
            rest = key[cut:]
            head = self._lookup(rest, noun_first, SUFFIX_POS, general=False) or self._lookup(
                rest, noun_first, HEAD_POS, general=False
            )
            tail = [head] if head else self._parse(rest, noun_first)
            if tail and (best is None or len(tail) + 1 < len(best)):
                best = [_Part(modifier, "sg"), *tail]
        return best

    def _modifier(self, text: str) -> Entry | None:
        """A lexicon entry that `text` spells as the first part of a compound (general words
        are whole words only: Knopfleise is no Knopf-leise)."""
        entry = self.lexicon.find(text, MODIFIER_POS, general=False)
        if entry:
            return entry
        for link in LINKS:
            if text.endswith(link) and len(text) - len(link) >= MIN_PART:
                stem = text[: -len(link)]
                plain = remove_umlaut(stem)  # a plural with umlaut: Blättermuster, Fädenzug
                entry = self.lexicon.find(stem, NOUN_POS, general=False) or (
                    plain and self.lexicon.find(plain, NOUN_POS, general=False)
                )
                if entry:
                    return entry
        return self.lexicon.find(text + "e", NOUN_POS, general=False)  # Hueftguertel

    @staticmethod
    def _join(modifiers: list[_Part], head: Entry, plural: bool) -> str:
        """English of a compound: modifiers before the head (Spitzeneinsatz: lace insert)."""
        words = [part.entry.english for part in modifiers if part.entry.english != OMIT]
        head_english = head.plural if plural else head.english
        if not words:
            return head_english
        if head.pos == "suffix":  # knie + -length -> knee-length, ärmel + +less -> sleeveless
            glue = "" if head_english.startswith("+") else "-"
            return " ".join(words) + glue + head_english[1:]
        if head.pos == "adj" and modifiers[-1].entry.pos in NOUN_POS:  # hautfarben: skin-colored
            return " ".join(words) + "-" + head_english
        return " ".join([*words, head_english])
