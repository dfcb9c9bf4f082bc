"""Benchmark: training variants judged against what the sample's images show.

For each variant (`train.targets`, the weight of uncertain 0s, and whether stated tags imply
their group's broader ones: `train.label_groups` does both, see `labels.targets`) and seed,
trains with the train section of params.yaml otherwise unchanged on the pipeline's data
(data/prepare, data/encode, data/split; run `dvc repro prepare split` first), then scores the
test split:
- the model against the images' true tags (data/raw/true_tags.json) and against its text labels
  (`evaluation.truth`: micro/macro F1 at evaluate.threshold, mAP);
- the label-issue ranking (`evaluation.label_issues`): the share of its top suspects on
  checkable tags that are real text-label errors;
- seconds per epoch (training and validation; a process's first run also warms the device up).
Each run prints one JSON line and appends it to --out; --summary then writes per variant the
median and spread over seeds.

    python -m benchmarks.bench_truth --variant binary:1.0 --variant binary:0.3 --seeds 42 1 2 \
        --out runs.jsonl
    python -m benchmarks.bench_truth --summary runs.jsonl --write benchmarks/results/truth.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from fashion_tagger.data.dataset import load_labelled_split
from fashion_tagger.evaluation.label_issues import issue_precision, rank_label_issues
from fashion_tagger.evaluation.report import EvaluateParams
from fashion_tagger.evaluation.truth import truth_report
from fashion_tagger.io import read_json, write_json
from fashion_tagger.labels.targets import training_split
from fashion_tagger.model.inference import predict, split_probabilities
from fashion_tagger.model.training import TrainParams, TrainRuntime, fit, training_device
from fashion_tagger.params import read_params
from fashion_tagger.paths import MENTIONS_FILE, TRUE_TAGS_FILE

TOP_SUSPECTS = 50  # the label-issue target counts this many top-ranked suspects


def run(
    targets: str, weight: float, implied: bool, seed: int, checkpoint: Path, epochs: int | None
) -> dict:
    """Train one variant with one seed and score it; the figures as one dict."""
    params = read_params("train", TrainParams)
    params = params.model_copy(
        update={
            "targets": targets,
            "label_groups": implied or weight < 1.0,
            "unmentioned_weight": weight,
            "seed": seed,
            "epochs": epochs or params.epochs,
        }
    )
    runtime = read_params("runtime.train", TrainRuntime).model_copy(update={"resume": False})
    threshold = read_params("evaluate", EvaluateParams).threshold
    classes, data = load_labelled_split(("train", "val", "test"))
    data["train"] = training_split(data["train"], classes, targets, weight, implied, MENTIONS_FILE)
    started = time.perf_counter()
    device = training_device(runtime)
    tagger, history = fit(params, runtime, device, classes, data, checkpoint, f"bench-{seed}")
    seconds = time.perf_counter() - started
    test = data["test"]
    probabilities = predict(tagger, test.cache, device, params.batch_size, test.rows)
    scores = split_probabilities(tagger, probabilities)[0]
    truth = truth_report(TRUE_TAGS_FILE, test.ids, classes, test.labels, scores, threshold)
    true_tags = read_json(TRUE_TAGS_FILE)
    issues = rank_label_issues(test.ids, classes, test.labels, scores)
    checkable = set(true_tags["tags"])
    judged = [row for row in issues if row["tag"] in checkable][:TOP_SUSPECTS]
    truth_of = {item_id: set(tags) for item_id, tags in true_tags["items"].items()}
    return {
        "variant": f"{targets}:{weight}" + (":implied" if implied else ""),
        "seed": seed,
        "epochs": len(history),
        "seconds_per_epoch": round(seconds / len(history), 3),
        "device": device.type,
        **truth,
        "label_issues_top50": issue_precision(judged, truth_of, checkable),
        "label_issues_top50_all_tags": issue_precision(issues[:TOP_SUSPECTS], truth_of, checkable),
    }


def summarise(lines: list[dict]) -> dict:
    """Per variant (keyed without dots, so docs can quote it: binary_02_implied): seeds, and the
    median, minimum and maximum of each headline figure."""
    figures = {
        "model_vs_truth_micro_f1": lambda r: r["model_vs_truth"]["micro_f1"],
        "model_vs_truth_macro_f1": lambda r: r["model_vs_truth"]["macro_f1"],
        "model_vs_truth_map": lambda r: r["model_vs_truth"]["map"],
        "model_vs_text_micro_f1": lambda r: r["model_vs_text"]["micro_f1"],
        "model_vs_text_macro_f1": lambda r: r["model_vs_text"]["macro_f1"],
        "model_vs_text_map": lambda r: r["model_vs_text"]["map"],
        "label_issues_top50_precision": lambda r: r["label_issues_top50"]["precision"],
        "seconds_per_epoch": lambda r: r["seconds_per_epoch"],
    }
    result = {}
    for variant in dict.fromkeys(line["variant"] for line in lines):
        rows = [line for line in lines if line["variant"] == variant]
        key = variant.replace(":", "_").replace(".", "")  # binary:0.2:implied -> binary_02_implied
        result[key] = {"seeds": [row["seed"] for row in rows], "tags": rows[0]["tags"]}
        for name, pick in figures.items():
            values = [pick(row) for row in rows]
            result[key][name] = {
                "median": round(statistics.median(values), 4),
                "min": min(values),
                "max": max(values),
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", action="append", default=[], help="targets:weight[:implied]")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--out", type=Path, help="append each run's JSON line here")
    parser.add_argument("--checkpoints", type=Path, default=Path("data/cache/bench_truth"))
    parser.add_argument("--epochs", type=int, help="instead of train.epochs (smoke tests)")
    parser.add_argument("--summary", type=Path, help="a runs file to summarise")
    parser.add_argument("--write", type=Path, help="where the summary goes")
    args = parser.parse_args()
    if args.summary:
        lines = [json.loads(line) for line in args.summary.read_text().splitlines() if line]
        summary = {"runs": lines, "variants": summarise(lines)}
        write_json(args.write, summary)
        print(json.dumps(summary["variants"], indent=1))
        return
    for variant in args.variant:
        targets, weight, *implied = variant.split(":")
        for seed in args.seeds:
            checkpoint = args.checkpoints / f"{variant.replace(':', '-')}-{seed}.pt"
            line = run(
                targets, float(weight), implied == ["implied"], seed, checkpoint, args.epochs
            )
            print(json.dumps(line), flush=True)
            if args.out:
                with args.out.open("a") as handle:
                    handle.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
