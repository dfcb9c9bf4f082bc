"""Similar images: cosine similarity of the model's embeddings.

An image's embedding is the backbone's pooled features (the input of the tag head), scaled to
unit length, so a dot product is the cosine similarity (as the recipe's `getImageVec`). The
`similar` stage stores the dataset's embeddings; `search` finds the items most like new images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image
from pydantic import Field

from fashion_tagger.data.items import item_images
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import atomic_path, read_json
from fashion_tagger.model.inference import predict_embeddings
from fashion_tagger.model.network import load_model
from fashion_tagger.params import StrictModel
from fashion_tagger.paths import EMBEDDING_IDS_FILE, EMBEDDINGS_FILE, ITEMS_FILE
from fashion_tagger.serving.predict import list_images, load_pixels
from fashion_tagger.torch_utils import select_device


class SimilarParams(StrictModel):
    # metrics/similar.png is committed to git: at most a 16 x 17 grid of thumbnails
    queries: int = Field(gt=0, le=16)  # test images shown in the picture
    neighbours: int = Field(gt=0, le=16)  # most similar items shown per query


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


def search(images: list[str], model_file: Path, k: int, device: str = "auto") -> list[dict]:
    """For each query image, the k most similar dataset items with their similarity."""
    if not EMBEDDINGS_FILE.exists():
        raise PipelineError(f"{EMBEDDINGS_FILE}: file not found; run `dvc repro similar` first")
    pool = np.load(EMBEDDINGS_FILE)
    ids = read_json(EMBEDDING_IDS_FILE)
    tagger, record = load_model(model_file)
    files = list_images(images)
    pixels = load_pixels(files, record["height"], record["width"])
    device = select_device(device, "--device")
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
