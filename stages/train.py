"""Stage `train`: fit the multi-label tagger on the cached training images.

Reads `data/prepare/` (the uint8 image cache), `data/encode/` and `data/split/`. Writes
- `data/train/model.pt`: the epoch with the best val mAP, with its tag thresholds chosen on the
  val split (`fashion_tagger.evaluation.thresholds`) and, when encode wrote attributes, one
  softmax head per attribute (loss: the tags' plus their cross-entropies);
- `data/train/mlflow_run.json`: the MLflow run that evaluate reopens (a cached output, so
  `dvc exp apply`, `dvc checkout` and `dvc pull` restore the right one);
- `metrics/train_curves.csv`: per epoch train loss, val loss, val micro/macro F1, val mAP, LR.
Checkpoints live outside DVC's outputs in `data/cache/train/<fingerprint>/last.pt` (under the
real repo root), one folder per params-and-data fingerprint: `runtime.train.resume: true`
continues the matching run, and parallel experiments never share one.
With `runtime.train.processes` > 1 the stage re-launches itself under torchrun (DDP, one
process per device); under torchrun every rank trains, and rank 0 alone writes files and MLflow.
"""

from __future__ import annotations

from functools import partial

from fashion_tagger.data.dataset import load_attribute_classes, load_labelled_split
from fashion_tagger.errors import PipelineError, run_stage
from fashion_tagger.io import remove_dead_temporaries, write_csv, write_json
from fashion_tagger.model.distributed import (
    Ranks,
    launched_ranks,
    process_group,
    rank_device,
    relaunch,
)
from fashion_tagger.model.network import save_model
from fashion_tagger.model.training import (
    CURVE_COLUMNS,
    TrainParams,
    TrainRuntime,
    best_epoch,
    curves_rows,
    fingerprint,
    fit,
    tune_thresholds,
)
from fashion_tagger.params import read_params
from fashion_tagger.paths import (
    ATTRIBUTES_FILE,
    CHECKPOINTS_DIR,
    CLASSES_FILE,
    CURVES_FILE,
    LABELS_FILE,
    MODEL_FILE,
    RUN_FILE,
    SPLIT_FILE,
    repo_path,
)
from fashion_tagger.serving.pyfunc import log_tagger
from fashion_tagger.torch_utils import select_device
from fashion_tagger.tracking import (
    Tracker,
    TrackingRuntime,
    epoch_metric_names,
    pipeline_tags,
    section_params,
    tracking_uri,
    train_description,
)


def main() -> None:
    params = read_params("train", TrainParams)
    runtime = read_params("runtime.train", TrainRuntime)
    tracking = read_params("runtime.tracking", TrackingRuntime)
    if relaunch(runtime.processes, "stages.train"):
        return
    ranks = launched_ranks()
    # checked before a run opens
    device = rank_device(select_device(runtime.device, "runtime.train.device"), ranks)
    with process_group(ranks, device):
        train(params, runtime, tracking, ranks, device)


def train(
    params: TrainParams,
    runtime: TrainRuntime,
    tracking: TrackingRuntime,
    ranks: Ranks,
    device,
) -> None:
    """Fit in this process (one rank of several, or alone); rank 0 writes and logs."""
    classes, data = load_labelled_split(("train", "val"))
    attribute_classes = load_attribute_classes()
    data_files = [LABELS_FILE, SPLIT_FILE, *([ATTRIBUTES_FILE] if attribute_classes else [])]
    run_fingerprint = fingerprint(params, data_files, data["train"].image_shape)
    checkpoint = repo_path(CHECKPOINTS_DIR) / run_fingerprint[:16] / "last.pt"
    fit_here = partial(
        fit,
        params,
        runtime,
        classes,
        data,
        checkpoint,
        run_fingerprint,
        ranks=ranks,
        attribute_classes=attribute_classes,
    )
    if not ranks.main:
        fit_here()
        return
    remove_dead_temporaries(repo_path(CHECKPOINTS_DIR), recursive=True)

    # Evaluate logs its own section: it may re-run alone with other values.
    logged_params = section_params("evaluate", include=False)
    tags = pipeline_tags(data_files)
    tracker = Tracker().start(tags=tags, params=logged_params)
    tracker.describe(train_description(logged_params, len(classes)))
    tracker.log_dataset(
        LABELS_FILE.parent,
        name=f"fashion-tagger-{logged_params.get('download.source', 'data')}",
        digest=tags["data.sha256"],
    )
    try:
        tagger, history = fit_here(
            on_epoch=lambda row: tracker.log_metrics(epoch_metric_names(row), step=row["epoch"])
        )
        thresholds = tune_thresholds(tagger, data["val"], params, device)
        height, width, _ = data["train"].image_shape
        save_model(MODEL_FILE, tagger, classes, height, width, thresholds, attribute_classes)
        write_csv(CURVES_FILE, curves_rows(history), CURVE_COLUMNS)
        tracker.log_metrics(
            {
                "model/best_epoch": best_epoch(history),
                "model/global_threshold": thresholds["global"],
            }
        )
        tracker.register(tracker.call("log model", log_tagger, MODEL_FILE), tracking)
        tracker.log_artifact(CLASSES_FILE)
        tracker.log_artifact(CURVES_FILE, "plots")
    except PipelineError:
        tracker.discard()  # bad input: nothing trained worth keeping a run for
        raise
    except KeyboardInterrupt:
        tracker.end("KILLED")
        raise
    except BaseException:
        tracker.end("FAILED")
        raise
    tracker.end()
    write_json(RUN_FILE, {"run_id": tracker.run_id, "tracking_uri": tracking_uri()})
    print(
        f"train: {len(history)} epochs, best val mAP at epoch {best_epoch(history)}, "
        f"global threshold {thresholds['global']:.3f} -> {MODEL_FILE}, {CURVES_FILE}"
    )


if __name__ == "__main__":
    run_stage(main)
