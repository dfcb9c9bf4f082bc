"""The test gallery: images titled with their predicted and real tags.

Bare matplotlib Figures render with Agg and need no pyplot state or display.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from matplotlib.figure import Figure
from PIL import Image

from fashion_tagger.io import atomic_path

# Readable where it is shown scaled down (MLflow's artifact view, dvc plots): 3 columns, 12 pt
# captions at 100 dpi (about 17 px at full size, 11 px scaled to 800 px wide).
GALLERY_COLUMNS = 3
CAPTION_POINTS = 12
CAPTION_CHARACTERS = 30  # wrap width of a caption line


def draw_gallery(
    path: Path,
    pictures: list[Image.Image],
    predicted: list[list[tuple[str, float]]],
    real: list[list[str]],
) -> None:
    """A grid of pictures titled with predicted tags (with probabilities) and real tags."""
    rows = -(-len(pictures) // GALLERY_COLUMNS)
    # A bare Figure renders with Agg and needs no pyplot state or display.
    figure = Figure(figsize=(4.2 * GALLERY_COLUMNS, 6.2 * rows), layout="constrained")
    axes = figure.subplots(rows, GALLERY_COLUMNS, squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index >= len(pictures):
            continue
        axis.imshow(pictures[index])
        guessed = ", ".join(f"{tag} {score:.2f}" for tag, score in predicted[index])
        title = "predicted: " + guessed + "\nreal: " + (", ".join(real[index]) or "-")
        wrapped = "\n".join(textwrap.fill(line, CAPTION_CHARACTERS) for line in title.splitlines())
        axis.set_title(wrapped, fontsize=CAPTION_POINTS, loc="left")
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
