"""The pictures evaluate and train draw: the test gallery and PNG charts for the MLflow run.

Bare matplotlib Figures render with Agg and need no pyplot state or display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from PIL import Image

from fashion_tagger.io import atomic_path

# Readable where it is shown scaled down (MLflow's artifact view, dvc plots): 3 columns, 12 pt
# captions at 100 dpi (about 17 px at full size, 11 px scaled to 800 px wide).
GALLERY_COLUMNS = 3
CAPTION_POINTS = 12
CAPTION_LINE_INCHES = 0.24  # height of one caption line at CAPTION_POINTS
# What each tag of a caption is: colour and legend text.
MARKS = {
    "right": ("#1a9641", "right: predicted, a real tag"),
    "wrong": ("#d7191c", "wrong: predicted, not a real tag"),
    "missed": ("#8c8c8c", "missed: a real tag, not predicted"),
}


def caption_lines(predicted: list[tuple[str, float]], real: list[str]) -> list[tuple[str, str]]:
    """(text, mark) per tag: the predicted ones best first, right or wrong, then the missed."""
    lines = [
        (f"{tag} {score:.2f}", "right" if tag in real else "wrong") for tag, score in predicted
    ]
    named = {tag for tag, _ in predicted}
    return lines + [(tag, "missed") for tag in real if tag not in named]


def draw_gallery(
    path: Path,
    pictures: list[Image.Image],
    predicted: list[list[tuple[str, float]]],
    real: list[list[str]],
    threshold: float,
) -> None:
    """A grid of pictures, each captioned with every tag predicted at `threshold` (with its
    probability; green when right, red when wrong) and the real tags it missed (grey)."""
    captions = [caption_lines(guess, tags) for guess, tags in zip(predicted, real, strict=True)]
    lines = max([len(caption) for caption in captions] + [1])
    rows = -(-len(pictures) // GALLERY_COLUMNS)
    caption_height = CAPTION_LINE_INCHES * lines + 0.1
    figure = Figure(
        figsize=(4.2 * GALLERY_COLUMNS, (5.6 + caption_height) * rows + 0.8), layout="constrained"
    )
    grid = figure.add_gridspec(
        2 * rows, GALLERY_COLUMNS, height_ratios=[5.6, caption_height] * rows
    )
    for index in range(rows * GALLERY_COLUMNS):
        row, column = divmod(index, GALLERY_COLUMNS)
        image_axis = figure.add_subplot(grid[2 * row, column])
        text_axis = figure.add_subplot(grid[2 * row + 1, column])
        image_axis.axis("off")
        text_axis.axis("off")
        if index >= len(pictures):
            continue
        image_axis.imshow(pictures[index])
        for line, (text, mark) in enumerate(captions[index]):
            text_axis.text(
                0,
                1 - line / lines,
                text,
                color=MARKS[mark][0],
                fontsize=CAPTION_POINTS,
                va="top",
                transform=text_axis.transAxes,
            )
        if not captions[index]:
            text_axis.text(0, 1, "no tag", fontsize=CAPTION_POINTS, va="top")
    figure.legend(
        handles=[Patch(color=colour, label=label) for colour, label in MARKS.values()],
        loc="outside upper center",
        ncols=len(MARKS),
        fontsize=CAPTION_POINTS,
        title=f"test images: tags predicted at probability >= {threshold:g}, and tags missed",
        title_fontsize=CAPTION_POINTS,
    )
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)


def curves_chart(rows: list[dict]) -> Figure:
    """Training and validation loss, and the validation scores, per epoch (integer ticks)."""
    figure = Figure(figsize=(10, 4), layout="constrained")
    loss_axis, score_axis = figure.subplots(1, 2)
    epochs = [row["epoch"] for row in rows]
    for axis, names, label in (
        (loss_axis, ["train_loss", "val_loss"], "loss (binary cross-entropy)"),
        (score_axis, [k for k in rows[0] if k.startswith("val_") and k != "val_loss"], "score"),
    ):
        for name in names:
            axis.plot(epochs, [row[name] for row in rows], marker="o", label=name)
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.set_xticks(epochs)
        axis.legend()
    return figure


def per_tag_chart(rows: list[dict]) -> Figure:
    """Test F1 per tag, one bar per tag, best on top."""
    ordered = sorted(rows, key=lambda row: row["f1"])
    figure = Figure(figsize=(7, 1 + 0.22 * len(ordered)), layout="constrained")
    axis = figure.subplots()
    axis.barh([row["tag"] for row in ordered], [row["f1"] for row in ordered])
    axis.set_xlabel("test F1 at evaluate.threshold")
    axis.set_xlim(0, 1)
    axis.margins(y=0.01)
    return figure


def pr_chart(points: list[dict]) -> Figure:
    """The micro-averaged test precision-recall curve."""
    figure = Figure(figsize=(5, 5), layout="constrained")
    axis = figure.subplots()
    recall = np.array([point["recall"] for point in points])
    precision = np.array([point["precision"] for point in points])
    axis.plot(recall, precision)
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_xlabel("recall (item-tag pairs)")
    axis.set_ylabel("precision")
    return figure
