"""Similar images: cosine similarity of the model's embeddings.

An image's embedding is the backbone's pooled features (the input of the tag head), scaled to
unit length, so a dot product is the cosine similarity (as the recipe's `getImageVec`). The
`similar` stage stores the dataset's embeddings; `serving.search` finds the items most like new
images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image
from pydantic import Field

from fashion_tagger.io import atomic_path
from fashion_tagger.params import StrictModel


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
