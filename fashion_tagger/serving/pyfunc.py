"""The MLflow copy of the tagger: a pyfunc model that tags images as `fashion-tagger predict` does.

It is logged from code (`serving/mlflow_model.py`, MLflow's models-from-code: nothing pickled)
and carries `model.pt` (weights, tags, image size, thresholds) and only the modules of
`fashion_tagger` that file imports (found by `serving.packaging`), with a
`requirements.txt` listing every distribution that code imports, so it loads without the repo.
Input, either
- a DataFrame whose `image` column (or first column) holds image files or folders, or
- a batch of images as an array (N, 3, H, W) at the model's size: uint8, or floats in [0, 1].
Output: a DataFrame with per image `image` (the path, or the row number), `tags` (best first, at
or above the model's global threshold, as `fashion-tagger predict` does by default, without
resolving exclusive tag groups) and `scores` (their
probabilities), plus `attributes` ({attribute: most probable class}) for attribute models.

    mlflow models predict -m runs:/<run id>/model -t csv -i images.csv --env-manager local
    (images.csv: a header `image` and one file or folder per line)
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import yaml

from fashion_tagger.data.images import list_images, load_pixels
from fashion_tagger.errors import PipelineError
from fashion_tagger.io import sha256_files
from fashion_tagger.model.network import load_model
from fashion_tagger.serving.packaging import (
    copy_modules,
    distributions,
    package_closure,
    third_party_modules,
)
from fashion_tagger.serving.predict import score_pixels


def to_uint8_nhwc(batch: np.ndarray, height: int, width: int) -> np.ndarray:
    """A tensor batch (N, 3, H, W), uint8 or floats in [0, 1], as uint8 NHWC."""
    batch = np.asarray(batch)
    if batch.ndim != 4 or batch.shape[1:] != (3, height, width):
        raise PipelineError(
            f"expected images of shape (N, 3, {height}, {width}), got {batch.shape}"
        )
    if np.issubdtype(batch.dtype, np.floating):
        batch = np.rint(np.clip(batch, 0, 1) * 255)
    return np.ascontiguousarray(batch.astype(np.uint8).transpose(0, 2, 3, 1))


class TaggerModel(mlflow.pyfunc.PythonModel):
    """Tags images: image files or folders in a DataFrame, or a batch of pixels."""

    def load_context(self, context) -> None:
        """Load `model.pt` from the model's artifacts."""
        self.tagger, self.record = load_model(context.artifacts["model"])

    def predict(
        self, context, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        """One row per image: its name, tags at the global threshold and their scores."""
        height, width = self.record.height, self.record.width
        if isinstance(model_input, pd.DataFrame):
            column = "image" if "image" in model_input else model_input.columns[0]
            paths = list_images(list(model_input[column]))
            images, names = load_pixels(paths, height, width)[0], [str(path) for path in paths]
        else:
            images = to_uint8_nhwc(model_input, height, width)
            names = [str(row) for row in range(len(images))]
        tagged, attributes = score_pixels(self.tagger, self.record, images, "global")
        table = pd.DataFrame(
            {
                "image": names,
                "tags": [[tag for tag, _ in tags] for tags in tagged],
                "scores": [[round(score, 4) for _, score in tags] for tags in tagged],
            }
        )
        if self.record.attributes:
            table["attributes"] = [{k: v for k, (v, _) in row.items()} for row in attributes]
        return table


MODEL_CODE_FILE = Path(__file__).resolve().with_name("mlflow_model.py")


def model_code() -> list[Path]:
    """The models-from-code file and every package module it imports: the code the model
    carries."""
    return sorted({MODEL_CODE_FILE, *package_closure(MODEL_CODE_FILE)})


def model_requirements(files: list[Path]) -> list[str]:
    """Pinned distributions the model's code imports (MLflow adds its own pin)."""
    needed = distributions(third_party_modules(files) - {"mlflow"})
    return [f"{name}=={version.split('+')[0]}" for name, version in sorted(needed.items())]


@contextmanager
def no_signature_warning() -> Iterator[None]:
    """Hush MLflow's "Failed to infer model signature" while logging: the model has no
    signature on purpose, since it takes two kinds of input (a DataFrame of paths, pixels)."""
    logger = logging.getLogger("mlflow.pyfunc")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def log_tagger(model_file: Path | str) -> str:
    """Log the model file as a pyfunc model named `model` in the active MLflow run; returns
    the logged model's URI."""
    with tempfile.TemporaryDirectory() as folder, no_signature_warning():
        info = mlflow.pyfunc.log_model(name="model", **model_files(Path(model_file), Path(folder)))
    return info.model_uri


def save_tagger(model_file: Path | str, destination: Path) -> None:
    """Write the pyfunc model of the model file as the folder `destination` (MLflow's model
    layout: MLmodel, code, artifacts, requirements.txt), replacing it only once complete."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(dir=destination.parent, prefix=f".{destination.name}-") as new,
        tempfile.TemporaryDirectory() as code,
        no_signature_warning(),
    ):
        built = Path(new) / destination.name
        mlflow.pyfunc.save_model(path=str(built), **model_files(Path(model_file), Path(code)))
        settle_mlmodel(built / "MLmodel", Path(model_file))
        shutil.rmtree(destination, ignore_errors=True)
        os.replace(built, destination)


def settle_mlmodel(path: Path, model_file: Path) -> None:
    """Make the MLmodel file a function of the model alone: MLflow writes a random uuid, the
    time of saving and the absolute path the code file came from, so two packagings of one
    model.pt would differ and DVC would see a changed output. The uuid becomes the model
    file's sha256 (32 hex digits), the time is left out, and the code path is the file's name
    (the loader reads only that name, inside the model folder)."""
    meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    meta["model_uuid"] = sha256_files([model_file])[:32]
    meta.pop("utc_time_created", None)
    flavor = meta["flavors"]["python_function"]
    flavor["model_code_path"] = Path(flavor["model_code_path"]).name
    path.write_text(yaml.safe_dump(meta, default_flow_style=False), encoding="utf-8")


def model_files(model_file: Path, folder: Path) -> dict:
    """What `log_model` and `save_model` are given: the code file, `model.pt`, the package
    modules it needs (copied into `folder`) and their pinned requirements."""
    files = model_code()
    return {
        "python_model": str(MODEL_CODE_FILE),
        "artifacts": {"model": str(model_file)},
        "code_paths": [str(copy_modules(files, folder))],
        "pip_requirements": model_requirements(files),
    }
