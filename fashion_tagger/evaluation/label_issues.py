"""Label issues: the (item, tag) pairs whose text label the model most confidently disputes.

A user cleaning their data starts here. Each pair of a test item (never trained on, so its
scores are out of sample) and a tag gets the model's self-confidence in the text label: p for a
1, 1 - p for a 0. Pairs whose self-confidence is below one half are suspects: a 0 the model
scores high is a suspected omission ("missing"), a 1 it scores low a suspected wrong label
("wrong"). Suspects rank by 1 - self-confidence, most confident dispute first. This is the
self-confidence ranking of the label-noise literature, written here so that the default install
stays free of copyleft licences (cleanlab, the usual tool, is AGPL).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from fashion_tagger.io import atomic_path

ISSUE_COLUMNS = ["rank", "id", "tag", "label", "probability", "kind", "score"]
PICTURE_COLUMNS = 4
CAPTION_POINTS = 11
CAPTION_CHARACTERS = 34


def rank_label_issues(
    ids: list[str], classes: list[str], labels: np.ndarray, scores: np.ndarray
) -> list[dict]:
    """Every suspect pair (self-confidence < 0.5), most confident dispute first (ties by item,
    then tag), as rows with `ISSUE_COLUMNS`."""
    labels = labels > 0.5
    disputed = np.where(labels, 1.0 - scores, scores)  # 1 - self-confidence
    items, tags = np.nonzero(disputed > 0.5)
    order = sorted(
        range(len(items)), key=lambda k: (-disputed[items[k], tags[k]], items[k], tags[k])
    )
    return [
        {
            "rank": rank,
            "id": ids[items[k]],
            "tag": classes[tags[k]],
            "label": int(labels[items[k], tags[k]]),
            "probability": round(float(scores[items[k], tags[k]]), 4),
            "kind": "wrong" if labels[items[k], tags[k]] else "missing",
            "score": round(float(disputed[items[k], tags[k]]), 4),
        }
        for rank, k in enumerate(order, start=1)
    ]


def issue_precision(issues: list[dict], truth: dict[str, set[str]], checkable: set[str]) -> dict:
    """Of the suspects on checkable tags, the share that are real text-label errors (a missing
    tag that is true, a wrong one that is false), and how many suspects were uncheckable."""
    judged = [row for row in issues if row["tag"] in checkable]
    real = sum((row["tag"] in truth[row["id"]]) == (row["kind"] == "missing") for row in judged)
    return {
        "suspects": len(issues),
        "checkable": len(judged),
        "real": real,
        "precision": round(real / len(judged), 4) if judged else 0.0,
    }


def items_by_issues(issues: list[dict], count: int) -> list[tuple[str, list[dict]]]:
    """The `count` items whose suspects dispute their labels most (summed scores), each with
    its suspects."""
    by_item: dict[str, list[dict]] = {}
    for row in issues:
        by_item.setdefault(row["id"], []).append(row)
    ranked = sorted(by_item.items(), key=lambda pair: (-sum(r["score"] for r in pair[1]), pair[0]))
    return ranked[:count]


def draw_label_issues(
    path: Path,
    pictures: list[Image.Image],
    text_labels: list[list[str]],
    suspects: list[list[dict]],
) -> None:
    """A grid of the top items: image, text labels, suspected missing and wrong tags."""
    rows = max(1, -(-len(pictures) // PICTURE_COLUMNS))
    figure = Figure(figsize=(4.0 * PICTURE_COLUMNS, 6.4 * rows), layout="constrained")
    axes = figure.subplots(rows, PICTURE_COLUMNS, squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index >= len(pictures):
            continue
        axis.imshow(pictures[index])
        missing = [f"{r['tag']} {r['probability']:.2f}" for r in suspects[index] if r["label"] == 0]
        wrong = [f"{r['tag']} {r['probability']:.2f}" for r in suspects[index] if r["label"] == 1]
        lines = [
            "text: " + (", ".join(text_labels[index]) or "-"),
            "missing?: " + (", ".join(missing) or "-"),
            "wrong?: " + (", ".join(wrong) or "-"),
        ]
        wrapped = "\n".join(textwrap.fill(line, CAPTION_CHARACTERS) for line in lines)
        axis.set_title(wrapped, fontsize=CAPTION_POINTS, loc="left")
    if not pictures:
        axes[0, 0].text(0, 0.5, "no label issues: the model agrees with every label", fontsize=12)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=90)
