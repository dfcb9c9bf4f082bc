"""Stage `tags`: each item's tags from its English descriptions (NLTK POS tags + TF-IDF).

Writes `data/tags/items.json` (id and tags per item), `data/tags/vocabulary.json` (the tags by
kind) and `metrics/tag_frequency.csv`. The rule is in `fashion_tagger.text.tags`.
"""

from __future__ import annotations

import time

from fashion_tagger.errors import run_stage
from fashion_tagger.io import write_csv, write_json
from fashion_tagger.params import read_params
from fashion_tagger.paths import (
    TAG_FREQUENCY_FILE,
    TAGGED_ITEMS_FILE,
    TRANSLATED_FILE,
    VOCABULARY_FILE,
)
from fashion_tagger.text.tags import TagsParams, label_items, load_translated_items, tag_frequency


def main() -> None:
    params = read_params("tags", TagsParams)
    items = load_translated_items(TRANSLATED_FILE)
    started = time.perf_counter()
    labelled, vocabulary = label_items(items, params, source=TRANSLATED_FILE, progress=True)
    elapsed = time.perf_counter() - started
    write_json(TAGGED_ITEMS_FILE, labelled)
    write_json(VOCABULARY_FILE, vocabulary)
    write_csv(TAG_FREQUENCY_FILE, tag_frequency(labelled, vocabulary), ["tag", "kind", "items"])
    sizes = ", ".join(f"{len(terms)} {key}" for key, terms in vocabulary.items())
    unlabelled = sum(not item["tags"] for item in labelled)
    print(
        f"tags: {len(labelled)} items labelled in {elapsed:.1f} s; vocabulary: {sizes}; "
        f"{unlabelled} items without any label; wrote {TAGGED_ITEMS_FILE}, {VOCABULARY_FILE}, "
        f"{TAG_FREQUENCY_FILE}"
    )


if __name__ == "__main__":
    run_stage(main)
