"""Tag image files with the trained model: `python -m stages.predict IMAGES... [--json]`.

IMAGES are image files or folders (searched recursively for .jpg, .jpeg, .png, .webp, .bmp).
Each image is resized to the model's training size, scored, and given the tags whose
probability reaches the model's threshold for that tag: `--threshold global` (the default; one
threshold for all tags), `per_tag` (both chosen on the val split to maximise F1 when the model
was trained) or `fixed` (train.threshold). On the sample, global gives the best micro-F1 and
per_tag the best macro-F1 (rare tags).
Models with attribute heads also give each image its most probable class per attribute.
`--tta` averages each image's probabilities with its horizontal flip's.
Output: one line per image (`path: tag 0.93, tag 0.71 | gender Men 0.97`), or with `--json` a
list of {"image": path, "tags": [{"tag": str, "score": float}, ...]} with tags best first
(and "attributes": {attribute: {"value": str, "score": float}} for attribute models).
"""

from __future__ import annotations

import argparse

from fashion_tagger.errors import run_stage
from fashion_tagger.model.network import load_model
from fashion_tagger.paths import MODEL_FILE
from fashion_tagger.serving.predict import (
    THRESHOLD_MODES,
    format_json,
    format_table,
    list_images,
    load_pixels,
    score_pixels,
)
from fashion_tagger.torch_utils import select_device


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", help="image files or folders")
    parser.add_argument(
        "--model", default=str(MODEL_FILE), help="model file (default: %(default)s)"
    )
    parser.add_argument("--threshold", choices=THRESHOLD_MODES, default="global")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--tta", action="store_true", help="average each image with its horizontal flip"
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    args = parser.parse_args(argv)
    tagger, record = load_model(args.model)
    paths = list_images(args.images)
    images = load_pixels(paths, record["height"], record["width"])
    device = select_device(args.device, "--device")
    tagged, attributes = score_pixels(tagger, record, images, args.threshold, device, tta=args.tta)
    formatter = format_json if args.json else format_table
    print(formatter(paths, tagged, attributes))


if __name__ == "__main__":
    run_stage(main)
