"""The similar command's search: the dataset items most like new images, by the cosine
similarity of the model's embeddings to those the `similar` stage stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fashion_tagger.data.images import list_images, load_pixels
from fashion_tagger.data.items import item_images
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import read_json
from fashion_tagger.model.inference import predict
from fashion_tagger.model.network import load_model
from fashion_tagger.paths import EMBEDDING_IDS_FILE, EMBEDDINGS_FILE, ITEMS_FILE
from fashion_tagger.serving.similar import nearest, unit_rows
from fashion_tagger.torch_utils import select_device


def search(images: list[str], model_file: Path, k: int, device: str = "auto") -> list[dict]:
    """For each query image, the k most similar dataset items with their similarity."""
    if not EMBEDDINGS_FILE.exists():
        raise PipelineError(f"{EMBEDDINGS_FILE}: file not found; run `dvc repro similar` first")
    pool = np.load(EMBEDDINGS_FILE)
    ids = read_json(EMBEDDING_IDS_FILE)
    tagger, record = load_model(model_file)
    files = list_images(images)
    pixels, _ = load_pixels(files, record.height, record.width)
    device = select_device(device, "--device")
    queries = unit_rows(predict(tagger, pixels, device, output="embeddings"))
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
