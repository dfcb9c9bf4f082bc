"""Tests for the streamed cache, splits as rows into the map and the batch loader."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from fashion_tagger.data.batches import BatchLoader, to_device
from fashion_tagger.data.cache import write_cache
from fashion_tagger.data.dataset import SplitData
from fashion_tagger.data.images import load_image
from fashion_tagger.data.mapped import load_cache, release_pages
from fashion_tagger.errors import PipelineError
from fashion_tagger.model.inference import score_batches


def split_of(count: int, shape=(4, 3, 3)) -> SplitData:
    """A split over every other row of a cache whose pixels hold their row number."""
    cache = np.repeat(np.arange(2 * count, dtype=np.uint8), np.prod(shape)).reshape(-1, *shape)
    rows = np.arange(1, 2 * count, 2)
    labels = np.eye(count, dtype=np.float32)
    return SplitData([f"i{row}" for row in rows], cache, rows, labels)


def test_cache_is_streamed_to_a_memory_mapped_npy(tmp_path):
    paths = []
    for index, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        paths.append(tmp_path / f"{index}.png")
        Image.new("RGB", (30, 20), colour).save(paths[-1])
    size = write_cache(paths, ["a", "b", "c"], 8, 6, tmp_path / "prepare", workers=2)
    ids, images = load_cache(tmp_path / "prepare")
    assert ids == ["a", "b", "c"] and size == 3 * 8 * 6 * 3
    assert isinstance(images, np.memmap) and images.shape == (3, 8, 6, 3)
    for row, path in enumerate(paths):
        assert np.array_equal(images[row], load_image(path, height=8, width=6))
    release_pages(images)  # pages go back to the page cache; the data stays readable
    assert np.array_equal(images[2], load_image(paths[2], height=8, width=6))


def test_a_cache_that_does_not_match_its_ids_is_an_error(tmp_path):
    (tmp_path / "ids.json").write_text('["a", "b"]')
    np.save(tmp_path / "images.npy", np.zeros((3, 2, 2, 3), dtype=np.uint8))
    with pytest.raises(PipelineError, match="images.npy: expected uint8"):
        load_cache(tmp_path)


def test_batches_are_gathered_from_the_split_rows_and_cover_it_once():
    split = split_of(10)
    loader = BatchLoader(split, 4, torch.Generator().manual_seed(0))
    batches = list(loader)
    assert len(loader) == len(batches) == 2  # the incomplete last batch is dropped
    seen = []
    for images, labels in batches:
        assert images.dtype == torch.uint8 and images.shape == (4, 4, 3, 3)
        rows = images[:, 0, 0, 0].numpy()
        assert set(rows) <= set(split.rows)  # only this split's rows of the cache
        positions = labels.argmax(dim=1).numpy()  # the labels travel with their images
        assert np.array_equal(split.rows[positions], rows)
        seen.extend(rows)
    assert len(set(seen)) == 8


def test_order_depends_on_the_seed_only_not_on_the_workers():
    split = split_of(40)

    def rows(workers: int, seed: int = 1) -> list[list[int]]:
        loader = BatchLoader(split, 8, torch.Generator().manual_seed(seed), workers=workers)
        return [images[:, 0, 0, 0].tolist() for epoch in range(2) for images, _ in loader]

    assert rows(0) == rows(1) == rows(3)
    assert rows(0) != rows(0, seed=2)


def test_ranks_share_each_global_batch():
    split = split_of(24)

    def batches(rank: int, world: int) -> list[torch.Tensor]:
        loader = BatchLoader(split, 8, torch.Generator().manual_seed(4), rank=rank, world=world)
        return [images for images, _ in loader]

    whole = batches(0, 1)
    halves = zip(batches(0, 2), batches(1, 2), strict=True)
    assert all(
        torch.equal(torch.cat(pair), batch) for pair, batch in zip(halves, whole, strict=True)
    )
    with pytest.raises(PipelineError, match="not divisible by the 3 processes"):
        BatchLoader(split, 8, torch.Generator(), world=3)
    with pytest.raises(PipelineError, match="train.batch_size: 30 exceeds the 24"):
        BatchLoader(split, 30, torch.Generator())


def test_inference_scores_the_given_rows_in_order():
    split = split_of(10)
    values = score_batches(
        lambda batch: batch[:, :1, 0, 0].float(), split.cache, torch.device("cpu"), 3, split.rows
    )
    assert values.flatten().tolist() == split.rows.tolist()


@pytest.mark.gpu
def test_cuda_batches_come_pinned_and_are_prefetched_unchanged():
    split = split_of(32)
    pinned = BatchLoader(split, 8, torch.Generator().manual_seed(3), workers=2, pin_memory=True)
    plain = BatchLoader(split, 8, torch.Generator().manual_seed(3))
    assert all(images.is_pinned() and labels.is_pinned() for images, labels in pinned)
    pinned.generator.manual_seed(3)
    device = torch.device("cuda")
    on_gpu = list(to_device(pinned, device))
    torch.cuda.synchronize()
    for (images, labels), (expected_images, expected_labels) in zip(on_gpu, plain, strict=True):
        assert images.device.type == "cuda"
        assert torch.equal(images.cpu(), expected_images)
        assert torch.equal(labels.cpu(), expected_labels)
