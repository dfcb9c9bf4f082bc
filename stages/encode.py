"""Stage `encode`: each item's tags as a 0/1 row over the vocabulary (MultiLabelBinarizer), and
its single-choice attributes (if the download source gave any) as one class each.

Writes `data/encode/labels.csv` (column `id`, then one column per class),
`data/encode/classes.json` (the class names in column order, sorted),
`data/encode/mentions.csv` (id, the item's number of texts, then per class how many state it;
`train.targets: agreement` reads it),
`data/encode/attributes.csv` (column `id`, then one class name per attribute; just `id` without
attributes) and `data/encode/attribute_classes.json` ({attribute: [classes]}; rarer values than
`encode.attribute_min_count` fold into "other").
"""

from __future__ import annotations

from pydantic import Field

from fashion_tagger.data.items import load_items
from fashion_tagger.errors import run_stage
from fashion_tagger.io import atomic_path, read_json, write_json
from fashion_tagger.labels.attributes import encode_attributes
from fashion_tagger.labels.encode import encode_labels, vocabulary_classes
from fashion_tagger.labels.mentions import mention_table
from fashion_tagger.params import StrictModel, read_params
from fashion_tagger.paths import (
    ATTRIBUTE_CLASSES_FILE,
    ATTRIBUTES_FILE,
    CLASSES_FILE,
    ENCODE_DIR,
    ITEMS_FILE,
    LABELS_FILE,
    MENTIONS_FILE,
    TAGGED_ITEMS_FILE,
    VOCABULARY_FILE,
)


class EncodeParams(StrictModel):
    attribute_min_count: int = Field(ge=1)  # attribute values on fewer items fold into "other"


def main() -> None:
    params = read_params("encode", EncodeParams)
    classes = vocabulary_classes(read_json(VOCABULARY_FILE))
    tagged = read_json(TAGGED_ITEMS_FILE)
    labels = encode_labels(tagged, classes, TAGGED_ITEMS_FILE)
    with atomic_path(LABELS_FILE) as temporary:
        labels.to_csv(temporary, index=False)
    with atomic_path(MENTIONS_FILE) as temporary:
        mention_table(tagged, classes).to_csv(temporary, index=False)
    write_json(CLASSES_FILE, classes)
    attribute_classes, attributes = encode_attributes(
        load_items(ITEMS_FILE), params.attribute_min_count, ITEMS_FILE
    )
    with atomic_path(ATTRIBUTES_FILE) as temporary:
        attributes.to_csv(temporary, index=False)
    write_json(ATTRIBUTE_CLASSES_FILE, attribute_classes)
    sizes = "".join(f", {name} {len(values)}" for name, values in attribute_classes.items())
    print(f"encode: {len(labels)} items x {len(classes)} classes{sizes} -> {ENCODE_DIR}")


if __name__ == "__main__":
    run_stage(main)
