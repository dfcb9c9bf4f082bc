"""Stage `tags`: each item's tags from its English descriptions (NLTK POS tags + TF-IDF).

Writes `data/tags/items.json` (id and tags per item), `data/tags/vocabulary.json` (the tags by
kind), `metrics/tag_frequency.csv` and the tag report `metrics/tags.json` with its chart table
`metrics/tag_report.csv`. The methods (recipe, phrases) are in `fashion_tagger.text.tags`.
"""

from __future__ import annotations

import time

from fashion_tagger.errors import run_stage
from fashion_tagger.io import write_csv, write_json
from fashion_tagger.params import read_params
from fashion_tagger.paths import (
    TAG_FREQUENCY_FILE,
    TAG_REPORT_FILE,
    TAG_REPORT_PLOT_FILE,
    TAGGED_ITEMS_FILE,
    TRANSLATED_FILE,
    VOCABULARY_FILE,
)
from fashion_tagger.text.tags import (
    REPORT_COLUMNS,
    TagsParams,
    label_items,
    load_translated_items,
    tag_report,
    tag_report_rows,
)

FREQUENCY_COLUMNS = ["tag", "kind", "items"]


def main() -> None:
    params = read_params("tags", TagsParams)
    items = load_translated_items(TRANSLATED_FILE)
    started = time.perf_counter()
    result = label_items(items, params, source=TRANSLATED_FILE, progress=True)
    elapsed = time.perf_counter() - started
    labelled, vocabulary = result.labelled, result.vocabulary
    report = tag_report(result, params.method)
    write_json(TAGGED_ITEMS_FILE, labelled)
    write_json(VOCABULARY_FILE, vocabulary)
    # The report's tag rows are tag_frequency's rows plus negated_items: keep its columns.
    frequency = [{column: row[column] for column in FREQUENCY_COLUMNS} for row in report["tags"]]
    write_csv(TAG_FREQUENCY_FILE, frequency, FREQUENCY_COLUMNS)
    write_json(TAG_REPORT_FILE, report)
    write_csv(TAG_REPORT_PLOT_FILE, tag_report_rows(report), REPORT_COLUMNS)
    sizes = ", ".join(f"{len(terms)} {key}" for key, terms in vocabulary.items())
    print(
        f"tags ({params.method}): {len(labelled)} items labelled in {elapsed:.1f} s; "
        f"vocabulary: {sizes}; {report['items_without_tags']} items without any label; wrote "
        f"{TAGGED_ITEMS_FILE}, {VOCABULARY_FILE}, {TAG_FREQUENCY_FILE}, {TAG_REPORT_FILE}, "
        f"{TAG_REPORT_PLOT_FILE}"
    )


if __name__ == "__main__":
    run_stage(main)
