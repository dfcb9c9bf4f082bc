"""Stage `evaluate`: score the trained model on the test split against a constant-prior baseline.

Writes `metrics/eval.json` (the headline numbers, a DVC metric) and `metrics/eval_details.json`
(every number; see `fashion_tagger.evaluation.report`), `metrics/per_tag.csv` (tag, support,
precision, recall, f1, ap, roc_auc, and the tag's val-chosen threshold with its test F1),
`metrics/pr_curve.csv` (micro-averaged precision-recall, at most `evaluate.pr_points` rows) and
`metrics/test_gallery.png`; with `evaluate.tta`, eval.json's "tta" holds micro-F1 and mAP of
the flip-averaged scores. Models with attribute heads also get `metrics/attributes.json`
(accuracy, balanced accuracy, macro-F1 per attribute, model and majority-class baseline) and
`metrics/confusion.png` (per attribute, the model's and the baseline's confusion matrices; a
note for models of tags only). The headline numbers go to the MLflow run that train opened as
`test/...` and `baseline/...` metrics, the files as artifacts.
"""

from __future__ import annotations

from PIL import Image

from fashion_tagger.data.dataset import SplitData, load_attribute_classes, load_labelled_split
from fashion_tagger.data.items import evenly_spaced, item_images
from fashion_tagger.errors import PipelineError, run_stage
from fashion_tagger.evaluation.attributes import (
    attribute_report,
    draw_confusions,
    model_attribute_scores,
)
from fashion_tagger.evaluation.metrics import micro_pr_curve, top_tags
from fashion_tagger.evaluation.pictures import draw_gallery
from fashion_tagger.evaluation.report import (
    EvaluateParams,
    details,
    headline,
    model_numbers,
    per_tag_rows,
    prior_scores,
    tta_block,
)
from fashion_tagger.io import read_json, write_csv, write_json
from fashion_tagger.model.inference import (
    InferenceRuntime,
    predict_all_probabilities,
    predict_plain_and_flipped,
    split_probabilities,
)
from fashion_tagger.model.network import check_image_size, load_model
from fashion_tagger.params import read_params
from fashion_tagger.paths import (
    ATTRIBUTE_METRICS_FILE,
    CONFUSION_FILE,
    CURVES_FILE,
    EVAL_DETAILS_FILE,
    EVAL_FILE,
    GALLERY_FILE,
    MODEL_FILE,
    PER_TAG_FILE,
    PR_CURVE_FILE,
    RUN_FILE,
)
from fashion_tagger.torch_utils import select_device
from fashion_tagger.tracking import Tracker, grouped, section_params, test_description


def evaluate_attributes(
    record: dict,
    data: dict[str, SplitData],
    probabilities: dict,
    tta_probabilities: dict | None,
) -> dict:
    """metrics/attributes.json ({} for a model of tags only) and metrics/confusion.png: per
    attribute, model and majority-class baseline, and the flip-averaged model when evaluate.tta
    is on (`record`: the model's record, which names its attributes' classes)."""
    classes = load_attribute_classes()
    trained = record.get("attributes", {})
    if [(name, list(values)) for name, values in trained.items()] != list(classes.items()):
        raise PipelineError(
            f"{MODEL_FILE}: trained on other attributes than data/encode; re-run train"
        )
    test, train = data["test"].attributes, data["train"].attributes
    draw_confusions(CONFUSION_FILE, test, probabilities, train, classes)
    result = attribute_report(test, probabilities, train, classes)  # {} without attributes
    if tta_probabilities is not None:
        tta = model_attribute_scores(test, tta_probabilities, classes)
        for name in result:
            result[name]["tta"] = tta[name]
    write_json(ATTRIBUTE_METRICS_FILE, result)
    return result


def main() -> None:
    params = read_params("evaluate", EvaluateParams)
    runtime = read_params("runtime.evaluate", InferenceRuntime)
    tagger, record = load_model(MODEL_FILE)
    classes, data = load_labelled_split(("train", "test"))
    if record["classes"] != classes:
        raise PipelineError(f"{MODEL_FILE}: trained on other tags than data/encode; re-run train")
    test = data["test"]
    check_image_size(record, test.cache, MODEL_FILE)
    device = select_device(runtime.device, "runtime.evaluate.device")
    if params.tta:  # the plain and the flip-averaged scores from one pass over the test split
        probabilities, averaged = predict_plain_and_flipped(
            tagger, test.cache, device, runtime.batch_size, rows=test.rows
        )
    else:
        probabilities = predict_all_probabilities(
            tagger, test.cache, device, runtime.batch_size, rows=test.rows
        )
    scores, attribute_probabilities = split_probabilities(tagger, probabilities)
    baseline = prior_scores(data["train"].labels, len(test.ids))

    detail = details(test.labels, scores, baseline, params.threshold, record)
    summary = headline(detail)
    tta_attributes = None
    if params.tta:
        tta_scores, tta_attributes = split_probabilities(tagger, averaged)
        summary["tta"] = tta_block(test.labels, tta_scores, params.threshold)
    write_json(EVAL_FILE, summary)
    write_json(EVAL_DETAILS_FILE, detail)
    attributes = evaluate_attributes(record, data, attribute_probabilities, tta_attributes)
    write_csv(PER_TAG_FILE, per_tag_rows(test.labels, scores, params.threshold, record))
    write_csv(PR_CURVE_FILE, micro_pr_curve(test.labels, scores, params.pr_points))

    image_of = item_images()
    chosen = evenly_spaced(params.gallery_size, len(test.ids))
    pictures = [Image.open(image_of[test.ids[row]]).convert("RGB") for row in chosen]
    predicted = [
        [
            (tag, float(scores[row, classes.index(tag)]))
            for tag in top_tags(scores[row], classes, params.gallery_top_k)
        ]
        for row in chosen
    ]
    real = [
        [tag for tag, on in zip(classes, test.labels[row], strict=True) if on] for row in chosen
    ]
    draw_gallery(GALLERY_FILE, pictures, predicted, real)

    tracker = Tracker().start(
        run_id=read_json(RUN_FILE)["run_id"], params=section_params("evaluate")
    )
    tracker.log_metrics(
        grouped("test", model_numbers(summary))
        | grouped("baseline", summary["baseline"])
        | grouped("test", {f"tta_{k}": v for k, v in summary.get("tta", {}).items()})
    )
    attribute_metrics: dict[str, float] = {}
    for name, figures in attributes.items():
        for who, section in (("model", "test"), ("baseline", "baseline"), ("tta", "test")):
            prefix = f"tta_{name}" if who == "tta" else name
            numbers = {k: v for k, v in figures.get(who, {}).items() if k != "class"}
            attribute_metrics |= grouped(section, {f"{prefix}_{k}": v for k, v in numbers.items()})
    if attribute_metrics:
        tracker.log_metrics(attribute_metrics)
    trained = tracker.description().split(" | ")[0]
    tracker.describe(" | ".join(filter(None, (trained, test_description(summary)))))
    for path in (EVAL_FILE, EVAL_DETAILS_FILE):
        tracker.log_artifact(path)
    for path in (PER_TAG_FILE, PR_CURVE_FILE, GALLERY_FILE, CURVES_FILE):
        tracker.log_artifact(path, "plots")
    if attributes:
        tracker.log_artifact(ATTRIBUTE_METRICS_FILE)
        tracker.log_artifact(CONFUSION_FILE, "plots")
    tracker.end()
    model, prior = summary, summary["baseline"]
    print(
        f"evaluate: {len(test.ids)} test items: micro-F1 {model['micro_f1']:.3f} "
        f"(baseline {prior['micro_f1']:.3f}; val-tuned global {model['tuned_micro_f1']:.3f}), "
        f"macro-F1 {model['macro_f1']:.3f} (val-tuned per tag {model['tuned_macro_f1']:.3f}), "
        f"mAP {model['map']:.3f} (baseline {prior['map']:.3f}) -> {EVAL_FILE}"
    )


if __name__ == "__main__":
    run_stage(main)
