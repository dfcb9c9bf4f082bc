"""Stage `similar` and command: similar images by cosine similarity of the model's embeddings.

An image's embedding is the backbone's pooled features (the input of the tag head), scaled to
unit length, so a dot product is the cosine similarity (as the recipe's `getImageVec`).

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
from typing import Literal

import numpy as np
from matplotlib.figure import Figure
from PIL import Image
from pydantic import Field

from stages.common import (
    PipelineError,
    StrictModel,
    atomic_path,
    read_json,
    read_params,
    run_stage,
    write_json,
)
from stages.evaluate import evenly_spaced
from stages.items import ITEMS_FILE, item_images
from stages.model import check_image_size, load_model, predict_embeddings
from stages.predict import list_images, load_pixels
from stages.prepare import SPLIT_FILE, load_cache
from stages.train import MODEL_FILE, select_device

SIMILAR_DIR = Path("data/similar")
EMBEDDINGS_FILE = SIMILAR_DIR / "embeddings.npy"
EMBEDDING_IDS_FILE = SIMILAR_DIR / "ids.json"
PICTURE_FILE = Path("metrics/similar.png")


class SimilarParams(StrictModel):
    queries: int = Field(gt=0)  # test images shown in the picture
    neighbours: int = Field(gt=0)  # most similar items shown per query
    batch_size: int = Field(gt=0)
    device: Literal["auto", "cpu", "cuda"]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), as float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def nearest(
    queries: np.ndarray, pool: np.ndarray, k: int, exclude: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices into `pool` and cosine similarities (queries x k) of each query's k nearest,
    most similar first; `exclude[i]` is a pool row query i must not get (itself)."""
    similarity = queries @ pool.T
    if exclude is not None:
        similarity[np.arange(len(queries)), exclude] = -np.inf
    k = min(k, pool.shape[0] - (exclude is not None))
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(similarity, order, axis=1)


def draw_rows(path: Path, rows: list[tuple[Image.Image, str, list[tuple[Image.Image, str]]]]):
    """One row per query: its picture, then its neighbours' pictures with captions."""
    columns = 1 + max(len(neighbours) for _, _, neighbours in rows)
    figure = Figure(figsize=(1.7 * columns, 2.6 * len(rows)))
    axes = figure.subplots(len(rows), columns, squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for row, (query, caption, neighbours) in enumerate(rows):
        axes[row, 0].imshow(query)
        axes[row, 0].set_title(caption, fontsize=8, color="tab:blue")
        for column, (picture, text) in enumerate(neighbours, start=1):
            axes[row, column].imshow(picture)
            axes[row, column].set_title(text, fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=80)


def run_stage_outputs(params: SimilarParams) -> None:
    """Embed every cached image, save the embeddings and draw the query rows."""
    tagger, record = load_model(MODEL_FILE)
    ids, images = load_cache()
    check_image_size(record, images, MODEL_FILE)
    device = select_device(params.device, "similar.device")
    embeddings = unit_rows(predict_embeddings(tagger, images, device, params.batch_size))
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
    draw_rows(PICTURE_FILE, rows)
    print(
        f"similar: {len(ids)} embeddings ({embeddings.shape[1]} features) -> {EMBEDDINGS_FILE}; "
        f"{len(queries)} queries -> {PICTURE_FILE}"
    )


def search(images: list[str], model_file: Path, k: int) -> list[dict]:
    """For each query image, the k most similar dataset items with their similarity."""
    if not EMBEDDINGS_FILE.exists():
        raise PipelineError(f"{EMBEDDINGS_FILE}: file not found; run `dvc repro similar` first")
    pool = np.load(EMBEDDINGS_FILE)
    ids = read_json(EMBEDDING_IDS_FILE)
    tagger, record = load_model(model_file)
    files = list_images(images)
    pixels = load_pixels(files, record["height"], record["width"])
    device = select_device("auto")
    queries = unit_rows(predict_embeddings(tagger, pixels, device))
    if queries.shape[1] != pool.shape[1]:
        raise PipelineError(f"{EMBEDDINGS_FILE}: made by another model; run `dvc repro similar`")
    order, similarity = nearest(queries, pool, k)
    paths = item_images() if ITEMS_FILE.exists() else {}
    return [
        {
            "image": str(file),
            "similar": [
                {
                    "id": ids[row],
                    "image": str(paths.get(ids[row], "")),
                    "similarity": round(float(score), 4),
                }
                for row, score in zip(order[index], similarity[index], strict=True)
            ],
        }
        for index, file in enumerate(files)
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", help="query image files or folders (none: stage)")
    parser.add_argument(
        "--model", default=str(MODEL_FILE), help="model file (default: %(default)s)"
    )
    parser.add_argument("--k", type=int, default=5, help="similar items per image")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if not args.images:
        run_stage_outputs(read_params("similar", SimilarParams))
        return
    results = search(args.images, Path(args.model), args.k)
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return
    for result in results:
        found = ", ".join(f"{hit['id']} {hit['similarity']:.2f}" for hit in result["similar"])
        print(f"{result['image']}: {found}")


if __name__ == "__main__":
    run_stage(main)
