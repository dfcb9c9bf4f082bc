"""Stage `evaluate`: score the trained model on the test split against a constant-prior baseline.

Writes `metrics/eval.json` (the headline numbers, a DVC metric) and `metrics/eval_details.json`
(every number; see `fashion_tagger.evaluation.report`), `metrics/per_tag.csv` (tag, support,
precision, recall, f1, ap, roc_auc, and the tag's val-chosen threshold with its test F1),
`metrics/pr_curve.csv` (micro-averaged precision-recall, at most `evaluate.pr_points` rows),
`metrics/test_gallery.png` and `metrics/truth.json` (where the source knows each image's true
tags, as the sample does: the model against them beside the model against its text labels, see
`fashion_tagger.evaluation.truth`; {} elsewhere), `metrics/label_issues.csv` with
`metrics/label_issues.png` (test pairs whose text label the model disputes, ranked, and the top
items: `fashion_tagger.evaluation.label_issues`); with `evaluate.tta`, eval.json's "tta" holds
micro-F1 and mAP of the flip-averaged scores. Models with attribute heads also get
`metrics/attributes.json` (accuracy, balanced accuracy, macro-F1 per attribute, model and
majority-class baseline) and `metrics/confusion.png` (per attribute, the model's and the
baseline's confusion matrices; a note for models of tags only). The headline numbers go to the
MLflow run that trained the model (found by the model file's sha256) as `test/...` and
`baseline/...` metrics, the pictures and charts under `plots/`.
"""

from __future__ import annotations

from PIL import Image
from tqdm import tqdm

from fashion_tagger.data.dataset import SplitData, load_attribute_classes, load_labelled_split
from fashion_tagger.data.items import evenly_spaced, item_images
from fashion_tagger.errors import PipelineError, run_stage
from fashion_tagger.evaluation.attributes import (
    attribute_report,
    draw_confusions,
    model_attribute_scores,
)
from fashion_tagger.evaluation.label_issues import (
    ISSUE_COLUMNS,
    draw_label_issues,
    items_by_issues,
    rank_label_issues,
)
from fashion_tagger.evaluation.metrics import micro_pr_curve, tags_above
from fashion_tagger.evaluation.pictures import draw_gallery, per_tag_chart, pr_chart
from fashion_tagger.evaluation.report import (
    EvaluateParams,
    details,
    headline,
    model_numbers,
    per_tag_rows,
    prior_scores,
    tta_block,
)
from fashion_tagger.evaluation.truth import truth_report
from fashion_tagger.io import write_csv, write_json
from fashion_tagger.model.inference import (
    InferenceRuntime,
    predict,
    split_probabilities,
)
from fashion_tagger.model.network import ModelRecord, load_model
from fashion_tagger.params import read_params
from fashion_tagger.paths import (
    ATTRIBUTE_METRICS_FILE,
    CONFUSION_FILE,
    EVAL_DETAILS_FILE,
    EVAL_FILE,
    GALLERY_FILE,
    LABEL_ISSUES_FILE,
    LABEL_ISSUES_PICTURE_FILE,
    MODEL_FILE,
    PER_TAG_FILE,
    PR_CURVE_FILE,
    TRUE_TAGS_FILE,
    TRUTH_METRICS_FILE,
)
from fashion_tagger.torch_utils import select_device
from fashion_tagger.tracking import Tracker, grouped, section_params, test_description


def evaluate_attributes(
    record: ModelRecord,
    data: dict[str, SplitData],
    probabilities: dict,
    tta_probabilities: dict | None,
) -> dict:
    """metrics/attributes.json ({} for a model of tags only) and metrics/confusion.png: per
    attribute, model and majority-class baseline, and the flip-averaged model when evaluate.tta
    is on (`record`: the model's record, which names its attributes' classes)."""
    classes = load_attribute_classes()
    trained = record.attributes
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
    if record.classes != classes:
        raise PipelineError(f"{MODEL_FILE}: trained on other tags than data/encode; re-run train")
    test = data["test"]
    record.check_image_size(test.cache, MODEL_FILE)
    device = select_device(runtime.device, "runtime.evaluate.device")
    with tqdm(total=len(test.ids), desc="evaluate", unit="img") as bar:
        # with tta, the plain and the flip-averaged scores from one pass over the test split
        scored = predict(
            tagger,
            test.cache,
            device,
            runtime.batch_size,
            test.rows,
            tta="both" if params.tta else "none",
            progress=bar.update,
        )
    probabilities, averaged = scored if params.tta else (scored, None)
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
    truth = truth_report(TRUE_TAGS_FILE, test.ids, classes, test.labels, scores, params.threshold)
    write_json(TRUTH_METRICS_FILE, truth)  # {} where the source knows no true tags
    tag_rows = per_tag_rows(test.labels, scores, params.threshold, record)
    pr_points = micro_pr_curve(test.labels, scores, params.pr_points)
    write_csv(PER_TAG_FILE, tag_rows)
    write_csv(PR_CURVE_FILE, pr_points)

    image_of = item_images()
    issues = rank_label_issues(test.ids, classes, test.labels, scores)
    write_csv(LABEL_ISSUES_FILE, issues, ISSUE_COLUMNS)
    worst = items_by_issues(issues, params.label_issue_items)
    draw_label_issues(
        LABEL_ISSUES_PICTURE_FILE,
        [Image.open(image_of[item_id]).convert("RGB") for item_id, _ in worst],
        [
            [
                tag
                for tag, on in zip(classes, test.labels[test.ids.index(item_id)], strict=True)
                if on
            ]
            for item_id, _ in worst
        ],
        [suspects for _, suspects in worst],
    )
    chosen = evenly_spaced(params.gallery_size, len(test.ids))
    pictures = [Image.open(image_of[test.ids[row]]).convert("RGB") for row in chosen]
    predicted = [tags_above(scores[row], classes, params.threshold) for row in chosen]
    real = [
        [tag for tag, on in zip(classes, test.labels[row], strict=True) if on] for row in chosen
    ]
    draw_gallery(GALLERY_FILE, pictures, predicted, real, params.threshold)

    tracker = Tracker().reopen(MODEL_FILE, section_params("evaluate"))
    try:
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
                attribute_metrics |= grouped(
                    section, {f"{prefix}_{k}": v for k, v in numbers.items()}
                )
        if attribute_metrics:
            tracker.log_metrics(attribute_metrics)
        for versus in ("model_vs_truth", "model_vs_text"):
            if versus in truth:
                tracker.log_metrics(grouped(f"test_{versus}", truth[versus]))
        trained = tracker.description().split(" | ")[0]
        tracker.describe(" | ".join(filter(None, (trained, test_description(summary)))))
        for path in (EVAL_FILE, EVAL_DETAILS_FILE, TRUTH_METRICS_FILE):
            tracker.log_artifact(path)
        tracker.log_plots(
            [
                GALLERY_FILE,
                CONFUSION_FILE,
                PER_TAG_FILE,
                PR_CURVE_FILE,
                LABEL_ISSUES_FILE,
                LABEL_ISSUES_PICTURE_FILE,
            ],
            {"per_tag_f1.png": per_tag_chart(tag_rows), "pr_curve.png": pr_chart(pr_points)},
        )
        if attributes:
            tracker.log_artifact(ATTRIBUTE_METRICS_FILE)
        url = tracker.headline_url()
    except BaseException:
        tracker.interrupted()  # the train run keeps the status train left it with
        raise
    tracker.end()
    model, prior = summary, summary["baseline"]
    print(
        f"evaluate: {len(test.ids)} test items: micro-F1 {model['micro_f1']:.3f} "
        f"(baseline {prior['micro_f1']:.3f}; val-tuned global {model['tuned_micro_f1']:.3f}), "
        f"macro-F1 {model['macro_f1']:.3f} (val-tuned per tag {model['tuned_macro_f1']:.3f}), "
        f"mAP {model['map']:.3f} (baseline {prior['map']:.3f}) -> {EVAL_FILE}"
    )
    if url:
        print(f"evaluate: the runs side by side: `mlflow ui`, then {url}")


if __name__ == "__main__":
    run_stage(main)
