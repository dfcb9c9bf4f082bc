"""A generated labelled CSV with two single-choice attribute columns, for the attribute tests.

Each image is a tiny "dress" (see train_fixtures.draw_item) whose colour is its `baseColour`
(Red or Blue; two rare Green-labelled items fold into "other") and whose stripes are its
`pattern`, so a model can learn both attributes from the pixels.
"""

from __future__ import annotations

import csv
from pathlib import Path

from tests.train_fixtures import draw_item

ATTRIBUTES = ["baseColour", "pattern"]
RARE_COLOUR_ROWS = (5, 17)  # "Green" on these rows only: below the fold count


def write_attribute_csv(folder: Path, items: int = 48) -> Path:
    """images/<n>.jpg and styles.csv (image, tags, baseColour, pattern) under `folder`."""
    (folder / "images").mkdir(parents=True)
    rows = []
    for index in range(items):
        red, striped = bool(index % 2), index % 4 in (1, 2)
        name = f"images/{index:03d}.jpg"
        draw_item(red, striped).save(folder / name, quality=95)
        colour = "Green" if index in RARE_COLOUR_ROWS else ("Red" if red else "Blue")
        tags = "dress " + ("red" if red else "blue") + (" striped" if striped else "")
        rows.append([name, tags, colour, "Striped" if striped else "Plain"])
    path = folder / "styles.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "tags", *ATTRIBUTES])
        writer.writerows(rows)
    return path
