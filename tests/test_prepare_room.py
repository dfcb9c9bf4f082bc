"""prepare checks disk and memory before it writes: one line naming what it needs and has."""

import shutil
from collections import namedtuple

import pytest
from PIL import Image

from fashion_tagger.data import cache
from fashion_tagger.errors import PipelineError

Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def images(tmp_path):
    paths = []
    for index in range(3):
        paths.append(tmp_path / f"{index}.jpg")
        Image.new("RGB", (12, 16), (index * 80, 0, 0)).save(paths[-1])
    return paths


def test_a_cache_larger_than_the_free_disk_is_refused_before_writing(images, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 2**19, 2**19))
    with pytest.raises(PipelineError) as error:
        cache.write_cache(images, ["a", "b", "c"], 400, 300, tmp_path / "prepare")
    message = str(error.value)
    assert "\n" not in message and "prepare.height x width = 400 x 300" in message
    # 3 images of 400 x 300 x 3 bytes plus the header room: 1.0 MiB; 0.5 MiB free
    assert "needs 1.0 MiB but only 0.5 MiB is free" in message
    assert not (tmp_path / "prepare").exists()


def test_decoding_more_than_the_free_memory_is_refused(images, tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "free_memory", lambda: 2**30)
    with pytest.raises(
        PipelineError,
        match=r"16 images decoded at a time take 1\.50 GiB but only 1\.00 GiB of memory",
    ):
        cache.write_cache(images, ["a", "b", "c"], 8192, 4096, tmp_path / "prepare", workers=1)
    assert not (tmp_path / "prepare").exists()
