"""Benchmark: how well each tags method's labels match what the sample's images show.

The sample source draws hidden attributes per item (colour, pattern, sleeves, neckline, hem,
silhouette, details; `sample_attributes.draw_attributes`) and paints them; the texts only describe
them.
This labels the translated sample items (data/translate/items.json) with both methods, with
the tags section of params.yaml otherwise unchanged, and counts per method:
- precision: labels whose claim (`sample_truth.CLAIMS_FILE`) is true of the item, among the
  labels that claim something checkable;
- recall: the item's attributes (one colour, pattern, sleeves, neckline, hem, silhouette, and
  each detail) that some label claims rightly, among all of them;
- the vocabulary tags that claim no checkable attribute, and the labelling time.

    python -m benchmarks.bench_tags [--items data/translate/items.json]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fashion_tagger.data.sources.sample import STREAM_ATTRIBUTES
from fashion_tagger.data.sources.sample_attributes import Attributes, draw_attributes
from fashion_tagger.data.sources.sample_truth import facts, read_claims
from fashion_tagger.params import load_params_file, read_params
from fashion_tagger.text.postag import TextTagger
from fashion_tagger.text.tags import TagsParams, label_items, load_translated_items


def item_attributes(seed: int, item_id: str) -> Attributes:
    """The hidden attributes of sample item `item_id` (s00001 is index 0), as drawn."""
    rng = np.random.default_rng([seed, int(item_id[1:]) - 1, STREAM_ATTRIBUTES])
    rng.integers(10)  # the split, drawn first
    return draw_attributes(rng)


def score(labelled: list[dict], truth: dict[str, Attributes], claims: dict) -> dict:
    """Precision, recall and counts of one method's labels against the hidden attributes."""
    right = checkable = found = present = 0
    for item in labelled:
        item_facts = facts(truth[item["id"]])
        found_here = set()
        for tag in item["tags"]:
            if tag not in claims:
                continue
            attribute, values = claims[tag]
            checkable += 1
            hits = {(attribute, value) for value in values} & item_facts
            right += bool(hits)
            found_here |= hits
        found += len(found_here)
        present += len(item_facts)
    return {
        "precision": right / checkable,
        "recall": found / present,
        "wrong": checkable - right,
        "checkable": checkable,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", default="data/translate/items.json")
    args = parser.parse_args()
    items = load_translated_items(args.items)
    seed = load_params_file()["download"]["sample"]["seed"]
    truth = {item["id"]: item_attributes(seed, item["id"]) for item in items}
    claims = read_claims()
    params = read_params("tags", TagsParams)
    tagger = TextTagger()
    for method in ("recipe", "phrases"):
        started = time.perf_counter()
        result = label_items(items, params.model_copy(update={"method": method}), tagger=tagger)
        elapsed = time.perf_counter() - started
        figures = score(result.labelled, truth, claims)
        vocabulary = [tag for tags in result.vocabulary.values() for tag in tags]
        unclaimed = [tag for tag in vocabulary if tag not in claims]
        labels = sum(len(item["tags"]) for item in result.labelled)
        print(
            f"{method:8s} precision {figures['precision']:.1%} recall {figures['recall']:.1%} "
            f"({figures['wrong']} wrong of {figures['checkable']} checkable labels, {labels} "
            f"labels in all); {len(vocabulary)} tags, {len(unclaimed)} claim no attribute: "
            f"{', '.join(unclaimed)}; labelled in {elapsed:.1f} s"
        )


if __name__ == "__main__":
    main()
