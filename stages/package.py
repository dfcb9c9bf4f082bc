"""Stage `package`: the trained model as an MLflow pyfunc model, on disk and in the train run.

Reads `data/train/model.pt`. Writes `data/package/model/`, a
self-contained MLflow model (declared under `artifacts:` in dvc.yaml, so
`dvc artifacts get <repo> fashion-tagger` fetches it; load it with `mlflow.pyfunc.load_model`),
and logs the same model to the MLflow run that trained it (found by the file's sha256); with
`package.register_as` set, it registers the logged model under that name and moves
`package.alias` to the new version.
Kept out of train so that the serving code never re-trains the model when it changes.
"""

from __future__ import annotations

from fashion_tagger.errors import run_stage
from fashion_tagger.params import read_params
from fashion_tagger.paths import MODEL_FILE, PACKAGE_MODEL_DIR
from fashion_tagger.serving.pyfunc import log_tagger, save_tagger
from fashion_tagger.tracking import PackageParams, Tracker


def main() -> None:
    params = read_params("package", PackageParams)
    save_tagger(MODEL_FILE, PACKAGE_MODEL_DIR)
    tracker = Tracker().reopen(MODEL_FILE)
    model_uri = tracker.call("log model", log_tagger, MODEL_FILE)
    tracker.register(model_uri, params)
    tracker.end()
    registered = (
        f", registered as {params.register_as}@{params.alias}" if params.register_as else ""
    )
    print(f"package: {MODEL_FILE} -> {PACKAGE_MODEL_DIR}, MLflow {model_uri}{registered}")


if __name__ == "__main__":
    run_stage(main)
