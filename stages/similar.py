"""Stage `similar`: similar images by cosine similarity of the model's embeddings.

Embeds every cached image (`data/prepare`) with `data/train/model.pt` and writes
- `data/similar/embeddings.npy` (float32, items x features, unit rows) and `data/similar/ids.json`;
- `metrics/similar.png`: `similar.queries` test images, each followed by its
  `similar.neighbours` most similar other items, with their cosine similarity (also logged
  under `plots/` of the MLflow run that trained the model).
`fashion-tagger similar IMAGES...` searches these embeddings for new images.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from tqdm import tqdm

from fashion_tagger.data.items import evenly_spaced, item_images
from fashion_tagger.data.mapped import load_cache
from fashion_tagger.errors import run_stage
from fashion_tagger.io import atomic_path, read_json, write_json
from fashion_tagger.model.inference import InferenceRuntime, predict
from fashion_tagger.model.network import load_model
from fashion_tagger.params import read_params
from fashion_tagger.paths import (
    EMBEDDING_IDS_FILE,
    EMBEDDINGS_FILE,
    MODEL_FILE,
    SIMILAR_PICTURE_FILE,
    SPLIT_FILE,
)
from fashion_tagger.serving.similar import SimilarParams, draw_rows, nearest, unit_rows
from fashion_tagger.torch_utils import select_device
from fashion_tagger.tracking import Tracker, section_params


def embed_dataset(params: SimilarParams, runtime: InferenceRuntime) -> None:
    """Embed every cached image, save the embeddings and draw the query rows."""
    tagger, record = load_model(MODEL_FILE)
    ids, images = load_cache()
    record.check_image_size(images, MODEL_FILE)
    device = select_device(runtime.device, "runtime.similar.device")
    with tqdm(total=len(images), desc="similar", unit="img") as bar:
        embeddings = predict(
            tagger, images, device, runtime.batch_size, output="embeddings", progress=bar.update
        )
    embeddings = unit_rows(embeddings)
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
    tracker = Tracker().reopen(MODEL_FILE, section_params("similar"))
    tracker.log_plots([SIMILAR_PICTURE_FILE])
    tracker.end()
    print(
        f"similar: {len(ids)} embeddings ({embeddings.shape[1]} features) -> {EMBEDDINGS_FILE}; "
        f"{len(queries)} queries -> {SIMILAR_PICTURE_FILE}"
    )


def main() -> None:
    embed_dataset(
        read_params("similar", SimilarParams), read_params("runtime.similar", InferenceRuntime)
    )


if __name__ == "__main__":
    run_stage(main)
