"""Stage `encode`: each item's tags as a 0/1 row over the vocabulary (MultiLabelBinarizer).

Writes `data/encode/labels.csv` (column `id`, then one column per class) and
`data/encode/classes.json` (the class names in column order, sorted).
"""

from __future__ import annotations

from fashion_tagger.errors import run_stage
from fashion_tagger.io import atomic_path, read_json, write_json
from fashion_tagger.labels.encode import encode_labels, vocabulary_classes
from fashion_tagger.paths import (
    CLASSES_FILE,
    ENCODE_DIR,
    LABELS_FILE,
    TAGGED_ITEMS_FILE,
    VOCABULARY_FILE,
)


def main() -> None:
    classes = vocabulary_classes(read_json(VOCABULARY_FILE))
    labels = encode_labels(read_json(TAGGED_ITEMS_FILE), classes, TAGGED_ITEMS_FILE)
    with atomic_path(LABELS_FILE) as temporary:
        labels.to_csv(temporary, index=False)
    write_json(CLASSES_FILE, classes)
    print(f"encode: {len(labels)} items x {len(classes)} classes -> {ENCODE_DIR}")


if __name__ == "__main__":
    run_stage(main)
