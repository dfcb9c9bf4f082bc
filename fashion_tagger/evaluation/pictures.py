"""The test gallery: images titled with their predicted and real tags.

Bare matplotlib Figures render with Agg and need no pyplot state or display.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from matplotlib.figure import Figure
from PIL import Image

from fashion_tagger.io import atomic_path

GALLERY_COLUMNS = 4


def draw_gallery(
    path: Path,
    pictures: list[Image.Image],
    predicted: list[list[tuple[str, float]]],
    real: list[list[str]],
) -> None:
    """A grid of pictures titled with predicted tags (with probabilities) and real tags."""
    rows = -(-len(pictures) // GALLERY_COLUMNS)
    # A bare Figure renders with Agg and needs no pyplot state or display.
    figure = Figure(figsize=(3.2 * GALLERY_COLUMNS, 4.6 * rows))
    axes = figure.subplots(rows, GALLERY_COLUMNS, squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index >= len(pictures):
            continue
        axis.imshow(pictures[index])
        guessed = ", ".join(f"{tag} {score:.2f}" for tag, score in predicted[index])
        title = "predicted: " + guessed + "\nreal: " + (", ".join(real[index]) or "-")
        wrapped = "\n".join(textwrap.fill(line, 38) for line in title.splitlines())
        axis.set_title(wrapped, fontsize=8, loc="left")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=90)
