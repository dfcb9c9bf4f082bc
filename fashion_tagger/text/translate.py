"""Translation: the German descriptions in English, and how much of them got translated.

Reads `data/raw/items.json` and writes `data/translate/items.json`: the same items with every
key kept ("image" stays relative to data/raw) plus "english", one English string per German
description in the same order. Items that come with given "tags" (a labelled source) need no
text and get "english": []. Descriptions are normalised first (Unicode NFC, runs of white
space as one space), so that texts differing only in spacing are translated once.

The backend is `translate.backend` in params.yaml: `glossary` (offline lexicon, the default,
optionally backed by the Ding dictionary at `translate.ding_path`; see `text.glossary`) or
`marian` (a neural MarianMT model, `translate.marian`; see `text.marian`). A backend is any
object with the members of `Translator`; register its constructor in `BACKENDS` and add its
name to `TranslateParams.backend`.

Translations are kept in a cache outside DVC's outputs (`translate.cache_dir`, null: none; see
`text.translation_cache`), keyed by the backend's identity and the normalised text: a re-run
translates only descriptions it has not seen with the same backend settings.

Coverage, the same measure for every backend: the content words of all descriptions
(alphabetic words that are not German function words, by the lexicon's part-of-speech column),
and those left untranslated, i.e. found unchanged in the English although the lexicon does not
know them as the same in both languages (elegant, Top). Written to `metrics/translate.json`,
with the most frequent untranslated words in `metrics/untranslated.csv` (word,count) so the
lexicon can be extended where it matters.
"""

from __future__ import annotations

import contextlib
import csv
import io
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from tqdm import tqdm

from fashion_tagger.errors import PipelineError
from fashion_tagger.params import StrictModel
from fashion_tagger.paths import repo_path
from fashion_tagger.text.glossary import WORD, GlossaryTranslator, Lexicon, load_ding
from fashion_tagger.text.marian import MarianParams, MarianTranslator
from fashion_tagger.text.translation_cache import TranslationCache

UNTRANSLATED_TOP = 200


class TranslateParams(StrictModel):
    """The `translate` section of params.yaml."""

    backend: Literal["glossary", "marian"]
    cache_dir: str | None = None  # translations kept across runs; None: no cache
    ding_path: str | None = None  # Debian's trans-de-en file for the glossary; None: not used
    marian: MarianParams = MarianParams()


class Translator(Protocol):
    """What a translation backend provides."""

    name: str
    batch_size: int  # texts per translate() call: the stage's unit of progress and caching

    def translate(self, texts: Sequence[str]) -> list[str]:
        """English for each German text, in the same order."""
        ...

    def identity(self) -> dict:
        """JSON-able description of everything that determines the translations."""
        ...


def glossary_backend(
    params: TranslateParams, lexicon: Lexicon, device: str = "auto"
) -> GlossaryTranslator:
    """The lexicon translator, backed by the Ding dictionary when `ding_path` is set."""
    fallback = load_ding(repo_path(params.ding_path)) if params.ding_path else None
    return GlossaryTranslator(lexicon, fallback)


def marian_backend(
    params: TranslateParams, lexicon: Lexicon, device: str = "auto"
) -> MarianTranslator:
    """The neural translator on `device`, run by the engine `translate.marian.engine` (loads
    its libraries and the model only now)."""
    if params.marian.engine == "ctranslate2":
        from fashion_tagger.text.marian_ct2 import CTranslate2Marian

        return CTranslate2Marian.load(params.marian, device)
    return MarianTranslator.load(params.marian, device)


BACKENDS: dict[str, Callable[[TranslateParams, Lexicon, str], Translator]] = {
    "glossary": glossary_backend,
    "marian": marian_backend,
}


def make_translator(params: TranslateParams, lexicon: Lexicon, device: str = "auto") -> Translator:
    """The backend named by the params (neural ones on `device`); an unknown name is a one-line
    error naming the param."""
    if params.backend not in BACKENDS:
        choices = ", ".join(sorted(BACKENDS))
        raise PipelineError(
            f"param translate.backend: unknown backend {params.backend!r} ({choices})"
        )
    return BACKENDS[params.backend](params, lexicon, device)


@dataclass
class Coverage:
    """Counts of content words over all translated descriptions (repeats included)."""

    descriptions: int = 0
    content_tokens: int = 0
    untranslated: Counter = field(default_factory=Counter)

    @property
    def translated_tokens(self) -> int:
        return self.content_tokens - sum(self.untranslated.values())

    @property
    def share(self) -> float:
        """Translated share of the content words; 1.0 when there were none."""
        return self.translated_tokens / self.content_tokens if self.content_tokens else 1.0


def normalise(text: str) -> str:
    """A description as it is translated and cached: Unicode NFC, white space collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def texts_to_translate(items: list[dict]) -> list[str]:
    """All normalised German descriptions of the items without given tags, in item order."""
    return [
        normalise(text) for item in items if "tags" not in item for text in item["descriptions"]
    ]


def translate_texts(
    texts: Sequence[str], translator: Translator, cache: TranslationCache | None = None
) -> dict[str, str]:
    """English for each distinct text: identical texts are translated once, cached ones never.

    The rest go to the backend longest first, `translator.batch_size` at a time; each batch is
    stored in the cache as soon as it is done.
    """
    distinct = list(dict.fromkeys(texts))
    english = cache.get(distinct) if cache is not None else {}
    missing = sorted((text for text in distinct if text not in english), key=len, reverse=True)
    if cache is not None:
        damaged = f" ({cache.rejected} damaged entries redone)" if cache.rejected else ""
        print(
            f"translate: {len(english)} of {len(distinct)} distinct descriptions from the "
            f"cache {cache.path}{damaged}"
        )
    with tqdm(total=len(missing), desc=f"translate ({translator.name})", unit="desc") as progress:
        for start in range(0, len(missing), translator.batch_size):
            batch = missing[start : start + translator.batch_size]
            fresh = dict(zip(batch, translator.translate(batch), strict=True))
            if cache is not None:
                cache.put(fresh)
            english.update(fresh)
            progress.update(len(batch))
    return english


def untranslated_words(source: str, english: str, glossary: GlossaryTranslator) -> list[str]:
    """Content words of a German text (lower case, with repeats) left as they were in English.

    A word counts when it appears unchanged in the translation, unless the lexicon knows it
    as the same in both languages (elegant, Top, Shorts).
    """
    unchanged = {word.lower() for word in WORD.findall(english)}
    return [
        word
        for word in glossary.content_words(source)
        if word in unchanged and not glossary.keeps_word(word)
    ]


def measure_coverage(
    texts: Sequence[str], english: dict[str, str], glossary: GlossaryTranslator
) -> Coverage:
    """Content words of the texts and those the backend left untranslated."""
    coverage = Coverage(descriptions=len(texts))
    for text, repeats in Counter(texts).items():
        coverage.content_tokens += repeats * len(glossary.content_words(text))
        for word in untranslated_words(text, english[text], glossary):
            coverage.untranslated[word] += repeats
    return coverage


def translate_items(
    items: list[dict],
    translator: Translator,
    glossary: GlossaryTranslator,
    cache: TranslationCache | None = None,
) -> tuple[list[dict], Coverage]:
    """The items with "english" added (empty for items with given tags), and the coverage.

    `glossary` is the lexicon translator that judges coverage (the backend itself when it is
    the glossary).
    """
    texts = texts_to_translate(items)
    english = translate_texts(texts, translator, cache)

    def english_of(item: dict) -> list[str]:
        return [english[normalise(text)] for text in item["descriptions"]]

    translated = [{**item, "english": [] if "tags" in item else english_of(item)} for item in items]
    return translated, measure_coverage(texts, english, glossary)


def coverage_metrics(coverage: Coverage, backend: str) -> dict:
    """The metrics file: numbers for `dvc metrics show`, plus the backend's name."""
    return {
        "backend": backend,
        "descriptions": coverage.descriptions,
        "content_tokens": coverage.content_tokens,
        "translated_tokens": coverage.translated_tokens,
        "coverage": round(coverage.share, 4),
        "untranslated_words": len(coverage.untranslated),
    }


def untranslated_table(coverage: Coverage, top: int = UNTRANSLATED_TOP) -> str:
    """CSV word,count of the most frequent untranslated words (ties in alphabetical order)."""
    rows = sorted(coverage.untranslated.items(), key=lambda row: (-row[1], row[0]))[:top]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["word", "count"])
    writer.writerows(rows)
    return buffer.getvalue()


def open_cache(params: TranslateParams, translator: Translator):
    """The translator's cache as a context manager (a null one when `cache_dir` is null)."""
    if params.cache_dir is None:
        return contextlib.nullcontext()
    return TranslationCache(params.cache_dir, translator.identity())
