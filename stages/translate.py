"""Stage `translate`: the German descriptions in English, and how much of them got translated.

Reads `data/raw/items.json` and writes `data/translate/items.json`: the same items with every
key kept ("image" stays relative to data/raw) plus "english", one English string per German
description in the same order. Items that come with given "tags" (a labelled source) need no
text and get "english": [].

The backend is `translate.backend` in params.yaml. A backend is any object with the methods of
`Translator`; register its constructor (which receives the glossary lexicon, for backends that
want its word lists) in `BACKENDS` and add its name to `TranslateParams.backend`. Only the
offline `glossary` backend exists today (see `stages.glossary`); a neural MarianMT backend
would be another entry.

Coverage: the content words of all descriptions (alphabetic words that are not German function
words, by the lexicon's part-of-speech column) and how many of them the backend translated,
written to `metrics/translate.json`, with the most frequent untranslated words in
`metrics/untranslated.csv` (word,count) so the lexicon can be extended where it matters.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from tqdm import tqdm

from stages.common import (
    PipelineError,
    StrictModel,
    read_params,
    run_stage,
    write_json,
    write_text,
)
from stages.glossary import GlossaryTranslator, Lexicon
from stages.items import ITEMS_FILE, load_items, write_items

OUT_FILE = Path("data/translate/items.json")
METRICS_FILE = Path("metrics/translate.json")
UNTRANSLATED_FILE = Path("metrics/untranslated.csv")
UNTRANSLATED_TOP = 200
BATCH_SIZE = 512  # texts handed to the backend at once (a neural backend batches them)


class TranslateParams(StrictModel):
    """The `translate` section of params.yaml."""

    backend: Literal["glossary"]


class Translator(Protocol):
    """What a translation backend provides."""

    def translate(self, texts: Sequence[str]) -> list[str]:
        """English for each German text, in the same order."""
        ...

    def untranslated_words(self, text: str) -> list[str]:
        """Content words of a German text (lower case, with repeats) left untranslated."""
        ...


BACKENDS: dict[str, Callable[[Lexicon], Translator]] = {"glossary": GlossaryTranslator}


def make_translator(backend: str, lexicon: Lexicon) -> Translator:
    """The backend called `backend`; an unknown name is a one-line error naming the param."""
    if backend not in BACKENDS:
        choices = ", ".join(sorted(BACKENDS))
        raise PipelineError(f"param translate.backend: unknown backend {backend!r} ({choices})")
    return BACKENDS[backend](lexicon)


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


def texts_to_translate(items: list[dict]) -> list[str]:
    """All German descriptions of the items without given tags, in item order."""
    return [text for item in items if "tags" not in item for text in item["descriptions"]]


def translate_texts(
    texts: Sequence[str], translator: Translator, batch_size: int = BATCH_SIZE
) -> dict[str, str]:
    """English for each distinct text: identical descriptions are translated once."""
    distinct = list(dict.fromkeys(texts))
    english: dict[str, str] = {}
    with tqdm(total=len(distinct), desc="translate", unit="text") as progress:
        for start in range(0, len(distinct), batch_size):
            batch = distinct[start : start + batch_size]
            english.update(zip(batch, translator.translate(batch), strict=True))
            progress.update(len(batch))
    return english


def measure_coverage(texts: Sequence[str], translator: Translator, lexicon: Lexicon) -> Coverage:
    """Content words of the texts and those the backend left untranslated."""
    coverage = Coverage(descriptions=len(texts))
    for text, repeats in Counter(texts).items():
        coverage.content_tokens += repeats * len(lexicon.content_words(text))
        for word in translator.untranslated_words(text):
            coverage.untranslated[word] += repeats
    return coverage


def translate_items(
    items: list[dict], translator: Translator, lexicon: Lexicon
) -> tuple[list[dict], Coverage]:
    """The items with "english" added (empty for items with given tags), and the coverage."""
    texts = texts_to_translate(items)
    english = translate_texts(texts, translator)
    translated = [
        {
            **item,
            "english": [] if "tags" in item else [english[text] for text in item["descriptions"]],
        }
        for item in items
    ]
    return translated, measure_coverage(texts, translator, lexicon)


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


def main() -> None:
    params = read_params("translate", TranslateParams)
    items = load_items(ITEMS_FILE)
    lexicon = Lexicon.load()
    translator = make_translator(params.backend, lexicon)
    translated, coverage = translate_items(items, translator, lexicon)
    write_items(OUT_FILE, translated)
    write_json(METRICS_FILE, coverage_metrics(coverage, params.backend))
    write_text(UNTRANSLATED_FILE, untranslated_table(coverage))
    print(
        f"translate: {coverage.descriptions} descriptions with backend '{params.backend}' "
        f"-> {OUT_FILE}; coverage {coverage.share:.2%} of {coverage.content_tokens} content "
        f"words ({len(coverage.untranslated)} distinct words untranslated)"
    )


if __name__ == "__main__":
    run_stage(main)
