"""Shared test set-up: GPU-only tests run only where CUDA is present; sys.path is restored
after each test (loading an MLflow model prepends its code folder, which would shadow the
package in processes spawned by later tests); the tiny Marian model of the translation tests."""

import sys

import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True)
def restore_sys_path(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models gain nothing from threads, and they stall when other work holds the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_marian_dir(tmp_path_factory):
    """A tiny Marian model saved as Hugging Face does (built offline, see tests/tiny_marian.py)."""
    from tests.tiny_marian import build_tiny_marian

    return build_tiny_marian(tmp_path_factory.mktemp("tiny-marian"))
