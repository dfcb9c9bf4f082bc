"""Stage `similar`, and a command: similar images by cosine similarity of the model's embeddings.

Stage (`python -m stages.similar`, no arguments): embeds every cached image (`data/prepare`)
with `data/train/model.pt` and writes
- `data/similar/embeddings.npy` (float32, items x features, unit rows) and `data/similar/ids.json`;
- `metrics/similar.png`: `similar.queries` test images, each followed by its
  `similar.neighbours` most similar other items, with their cosine similarity.
Command (`python -m stages.similar IMAGES... [--k 5] [--json]`): image files or folders in, the
most similar items of the dataset out (id, image path, similarity), using the stage's embeddings.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from fashion_tagger.data.cache import load_cache
from fashion_tagger.data.items import evenly_spaced, item_images
from fashion_tagger.errors import run_stage
from fashion_tagger.io import atomic_path, read_json, write_json
from fashion_tagger.model.inference import InferenceRuntime, predict_embeddings
from fashion_tagger.model.network import check_image_size, load_model
from fashion_tagger.params import read_params
from fashion_tagger.paths import (
    EMBEDDING_IDS_FILE,
    EMBEDDINGS_FILE,
    MODEL_FILE,
    SIMILAR_PICTURE_FILE,
    SPLIT_FILE,
)
from fashion_tagger.serving.similar import SimilarParams, draw_rows, nearest, search, unit_rows
from fashion_tagger.torch_utils import select_device


def embed_dataset(params: SimilarParams, runtime: InferenceRuntime) -> None:
    """Embed every cached image, save the embeddings and draw the query rows."""
    tagger, record = load_model(MODEL_FILE)
    ids, images = load_cache()
    check_image_size(record, images, MODEL_FILE)
    device = select_device(runtime.device, "runtime.similar.device")
    embeddings = unit_rows(predict_embeddings(tagger, images, device, runtime.batch_size))
    with atomic_path(EMBEDDINGS_FILE) as temporary, temporary.open("wb") as handle:
        np.save(handle, embeddings)
    write_json(EMBEDDING_IDS_FILE, ids)

    test_ids = read_json(SPLIT_FILE)["test"]
    row_of = {item_id: row for row, item_id in enumerate(ids)}
    queries = [row_of[test_ids[i]] for i in evenly_spaced(params.queries, len(test_ids))]
    order, similarity = nearest(embeddings[queries], embeddings, params.neighbours, queries)
    paths = item_images()

    def picture(row: int) -> Image.Image:
        return Image.open(paths[ids[row]]).convert("RGB")

    rows = [
        (
            picture(query),
            f"query {ids[query]}",
            [
                (picture(int(neighbour)), f"{ids[neighbour]} {score:.2f}")
                for neighbour, score in zip(order[index], similarity[index], strict=True)
            ],
        )
        for index, query in enumerate(queries)
    ]
    draw_rows(SIMILAR_PICTURE_FILE, rows)
    print(
        f"similar: {len(ids)} embeddings ({embeddings.shape[1]} features) -> {EMBEDDINGS_FILE}; "
        f"{len(queries)} queries -> {SIMILAR_PICTURE_FILE}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", help="query image files or folders (none: stage)")
    parser.add_argument(
        "--model", default=str(MODEL_FILE), help="model file (default: %(default)s)"
    )
    parser.add_argument("--k", type=int, default=5, help="similar items per image")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    args = parser.parse_args(argv)
    if not args.images:
        embed_dataset(
            read_params("similar", SimilarParams),
            read_params("runtime.similar", InferenceRuntime),
        )
        return
    results = search(args.images, Path(args.model), args.k, args.device)
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return
    for result in results:
        found = ", ".join(f"{hit['id']} {hit['similarity']:.2f}" for hit in result["similar"])
        print(f"{result['image']}: {found}")


if __name__ == "__main__":
    run_stage(main)
