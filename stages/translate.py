"""Stage `translate`: the German descriptions in English, and how much of them got translated.

Writes `data/translate/items.json` (the items plus "english"), `metrics/translate.json`
(coverage) and `metrics/untranslated.csv`. See `fashion_tagger.text.translate`.
"""

from __future__ import annotations

from fashion_tagger.data.items import load_items, write_items
from fashion_tagger.errors import run_stage
from fashion_tagger.io import write_json, write_text
from fashion_tagger.params import read_params
from fashion_tagger.paths import (
    ITEMS_FILE,
    TRANSLATE_METRICS_FILE,
    TRANSLATED_FILE,
    UNTRANSLATED_FILE,
)
from fashion_tagger.text.glossary import GlossaryTranslator, Lexicon
from fashion_tagger.text.marian import MarianRuntime
from fashion_tagger.text.translate import (
    TranslateParams,
    coverage_metrics,
    make_translator,
    open_cache,
    translate_items,
    untranslated_table,
)


def main() -> None:
    params = read_params("translate", TranslateParams)
    runtime = read_params("runtime.translate", MarianRuntime)
    items = load_items(ITEMS_FILE)
    lexicon = Lexicon.load()
    translator = make_translator(params, lexicon, runtime.device)
    # Coverage is judged by the lexicon translator: the backend itself when it is the glossary.
    is_glossary = isinstance(translator, GlossaryTranslator)
    glossary = translator if is_glossary else GlossaryTranslator(lexicon)
    with open_cache(params, translator) as cache:
        translated, coverage = translate_items(items, translator, glossary, cache)
    write_items(TRANSLATED_FILE, translated)
    write_json(TRANSLATE_METRICS_FILE, coverage_metrics(coverage, params.backend))
    write_text(UNTRANSLATED_FILE, untranslated_table(coverage))
    print(
        f"translate: {coverage.descriptions} descriptions with backend '{params.backend}' "
        f"-> {TRANSLATED_FILE}; coverage {coverage.share:.2%} of {coverage.content_tokens} "
        f"content words ({len(coverage.untranslated)} distinct words untranslated)"
    )


if __name__ == "__main__":
    run_stage(main)
