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
- recall of stated attributes: the same among the attributes that at least one of the item's
  five texts states (the generator leaves some unsaid, which no text method can find);
- the vocabulary tags that claim no checkable attribute, and the labelling time.

    python -m benchmarks.bench_tags [--items data/translate/items.json]

Writes benchmarks/results/tags.json (quoted in docs/tags.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fashion_tagger.data.sources.sample import describe_item, draw_item_attributes
from fashion_tagger.data.sources.sample_attributes import Attributes
from fashion_tagger.data.sources.sample_truth import facts, read_claims
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import write_json
from fashion_tagger.params import load_params_file, read_params
from fashion_tagger.text.postag import TextTagger
from fashion_tagger.text.tags import TagsParams, label_items, load_translated_items

RESULTS_FILE = Path(__file__).parent / "results" / "tags.json"


def item_attributes(seed: int, item_id: str) -> Attributes:
    """The hidden attributes of sample item `item_id` (s00001 is index 0), as drawn."""
    return draw_item_attributes(seed, int(item_id[1:]) - 1)[1]


def stated_facts(seed: int, item: dict, attributes: Attributes) -> set[tuple[str, str]]:
    """The facts some text of a sample item states, by replaying its text stream; the replay
    must give the item's own German texts (else the items come from other params)."""
    descriptions = describe_item(seed, int(item["id"][1:]) - 1, attributes)
    if [d.text for d in descriptions] != item["descriptions"]:
        raise PipelineError(
            f"item {item['id']}: its texts are not the sample's for seed {seed}; "
            "run `dvc repro translate` with the current params"
        )
    return {fact for description in descriptions for fact in description.stated}


def score(
    labelled: list[dict],
    truth: dict[str, Attributes],
    claims: dict,
    stated: dict[str, set[tuple[str, str]]],
) -> dict:
    """Precision, recall (of all and of stated attributes) and counts of one method's labels
    against the hidden attributes."""
    right = checkable = found = present = found_stated = said = 0
    for item in labelled:
        item_facts = facts(truth[item["id"]])
        item_stated = stated[item["id"]] & item_facts
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
        found_stated += len(found_here & item_stated)
        said += len(item_stated)
    return {
        "precision": round(right / checkable, 4),
        "recall": round(found / present, 4),
        "recall_stated": round(found_stated / said, 4),
        "stated_share": round(said / present, 4),
        "wrong": checkable - right,
        "checkable": checkable,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", default="data/translate/items.json")
    parser.add_argument("--output", type=Path, default=RESULTS_FILE, help="results file")
    args = parser.parse_args()
    items = load_translated_items(args.items)
    seed = load_params_file()["download"]["sample"]["seed"]
    truth = {item["id"]: item_attributes(seed, item["id"]) for item in items}
    stated = {item["id"]: stated_facts(seed, item, truth[item["id"]]) for item in items}
    claims = read_claims()
    results = {}
    params = read_params("tags", TagsParams)
    tagger = TextTagger()
    for method in ("recipe", "phrases"):
        started = time.perf_counter()
        result = label_items(items, params.model_copy(update={"method": method}), tagger=tagger)
        elapsed = time.perf_counter() - started
        figures = score(result.labelled, truth, claims, stated)
        vocabulary = [tag for tags in result.vocabulary.values() for tag in tags]
        unclaimed = [tag for tag in vocabulary if tag not in claims]
        labels = sum(len(item["tags"]) for item in result.labelled)
        print(
            f"{method:8s} precision {figures['precision']:.1%} recall {figures['recall']:.1%} "
            f"(of stated attributes {figures['recall_stated']:.1%}; the texts state "
            f"{figures['stated_share']:.1%} of them) ({figures['wrong']} wrong of "
            f"{figures['checkable']} checkable labels, {labels} labels in all); "
            f"{len(vocabulary)} tags, {len(unclaimed)} claim no attribute: "
            f"{', '.join(unclaimed)}; labelled in {elapsed:.1f} s"
        )
        results[method] = {**figures, "labels": labels, "tags": len(vocabulary)}
    write_json(args.output, {"items": len(items), "methods": results})


if __name__ == "__main__":
    main()
