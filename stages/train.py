"""Stage `train`: fit the multi-label tagger on the cached training images.

Reads `data/prepare/` (the uint8 image cache), `data/encode/` and `data/split/`; the train
split's targets and loss weights follow `train.targets`, `train.label_groups` and
`train.unmentioned_weight` (`fashion_tagger.labels.targets`). Writes
- `data/train/model.pt`: the epoch with the best val mAP, with its tag thresholds chosen on the
  val split (`fashion_tagger.evaluation.metrics`) and, when encode wrote attributes, one
  softmax head per attribute (loss: the tags' plus their cross-entropies);
  its MLflow run is tagged with the file's sha256, by which evaluate, similar and package
  find it (no run id among the outputs: the same params, seed and data give the same hashes);
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
from fashion_tagger.evaluation.pictures import curves_chart
from fashion_tagger.io import remove_dead_temporaries, write_csv
from fashion_tagger.labels.groups import GROUPS_FILE
from fashion_tagger.labels.targets import training_split
from fashion_tagger.model.distributed import Ranks, launched_ranks, process_group, relaunch
from fashion_tagger.model.network import save_model
from fashion_tagger.model.training import (
    CURVE_COLUMNS,
    TrainParams,
    TrainRuntime,
    best_epoch,
    curves_rows,
    fingerprint,
    fit,
    training_device,
    tune_thresholds,
)
from fashion_tagger.params import read_params
from fashion_tagger.paths import (
    ATTRIBUTES_FILE,
    CHECKPOINTS_DIR,
    CLASSES_FILE,
    CURVES_FILE,
    LABELS_FILE,
    MENTIONS_FILE,
    MODEL_FILE,
    SPLIT_FILE,
    repo_path,
)
from fashion_tagger.tracking import (
    Tracker,
    epoch_metric_names,
    pipeline_tags,
    section_params,
    train_description,
)


def main() -> None:
    params = read_params("train", TrainParams)
    runtime = read_params("runtime.train", TrainRuntime)
    if relaunch(runtime.processes, "stages.train"):
        return
    ranks = launched_ranks()
    device = training_device(runtime, ranks)  # checked before a run opens
    with process_group(ranks, device):
        train(params, runtime, ranks, device)


def train(
    params: TrainParams,
    runtime: TrainRuntime,
    ranks: Ranks,
    device,
) -> None:
    """Fit in this process (one rank of several, or alone); rank 0 writes and logs."""
    classes, data = load_labelled_split(("train", "val"))
    data["train"] = training_split(
        data["train"],
        classes,
        params.targets,
        params.unmentioned_weight if params.label_groups else 1.0,
        params.label_groups,
        MENTIONS_FILE,
    )
    attribute_classes = load_attribute_classes()
    data_files = [LABELS_FILE, SPLIT_FILE, *([ATTRIBUTES_FILE] if attribute_classes else [])]
    data_files += [MENTIONS_FILE] if params.targets == "agreement" else []
    data_files += [GROUPS_FILE] if params.label_groups else []
    run_fingerprint = fingerprint(params, data_files, data["train"].image_shape)
    checkpoint = repo_path(CHECKPOINTS_DIR) / run_fingerprint[:16] / "last.pt"
    fit_here = partial(
        fit,
        params,
        runtime,
        device,
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

    # Evaluate and package log their own: they may re-run alone with other values.
    logged_params = section_params("evaluate", "package", include=False)
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
        tracker.tag_model(MODEL_FILE)
        tracker.log_artifact(CLASSES_FILE)
        tracker.log_plots([CURVES_FILE], {"train_curves.png": curves_chart(history)})
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
    epochs = f"{len(history)} epoch{'s' if len(history) != 1 else ''}"
    print(
        f"train: {epochs}, best val mAP at epoch {best_epoch(history)}, "
        f"global threshold {thresholds['global']:.3f} -> {MODEL_FILE}, {CURVES_FILE}"
    )


if __name__ == "__main__":
    run_stage(main)
