"""Shared test set-up: GPU-only tests run only where CUDA is present; sys.path is restored
after each test (loading an MLflow model prepends its code folder, which would shadow the
package in processes spawned by later tests)."""

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
