"""The `fashion-tagger` command: what a user runs besides the DVC stages.

    fashion-tagger predict IMAGES...  tag image files or folders with the trained model
    fashion-tagger similar IMAGES...  the dataset's most similar items (`dvc repro similar` first)
    fashion-tagger lr-find            a learning-rate sweep to choose `train.lr`

Only argparse is imported up front, so `--help` answers at once; each command imports torch and
the library when it runs.
"""

from __future__ import annotations

import argparse

from fashion_tagger.errors import run_stage
from fashion_tagger.paths import MODEL_FILE

THRESHOLD_MODES = ("global", "per_tag", "fixed")
DEVICES = ("auto", "cpu", "cuda")


def predict(args: argparse.Namespace) -> None:
    """Tag images and print, per image, the tags with their scores and thresholds."""
    from fashion_tagger.data.images import list_images, load_pixels
    from fashion_tagger.labels.exclusive import read_exclusive_groups, resolve
    from fashion_tagger.model.network import load_model
    from fashion_tagger.serving.display import ImageTags, format_json, format_table, model_line
    from fashion_tagger.serving.origin import model_origin
    from fashion_tagger.serving.predict import score_pixels
    from fashion_tagger.torch_utils import select_device

    tagger, record = load_model(args.model)
    thresholds = dict(zip(record.classes, record.tag_thresholds(args.threshold), strict=True))
    paths = list_images(args.images)
    device = select_device(args.device, "--device")
    pixels, padded = load_pixels(paths, record.height, record.width)
    tagged, attributes = score_pixels(tagger, record, pixels, args.threshold, device, tta=args.tta)
    groups = read_exclusive_groups()
    results = []
    for path, tags, chosen, was_padded in zip(paths, tagged, attributes, padded, strict=True):
        kept, excluded = resolve(tags, groups)
        results.append(ImageTags(path, kept, excluded, chosen, was_padded))
    origin = model_origin(args.model)
    if args.json:
        print(format_json(origin, record, args.threshold, results, thresholds))
        return
    print(model_line(origin, record, args.threshold))
    print(format_table(results, thresholds, record.width, record.height))


def similar(args: argparse.Namespace) -> None:
    """Print, per image, the dataset's most similar items (id and cosine similarity)."""
    import json
    from pathlib import Path

    from fashion_tagger.serving.search import search

    results = search(args.images, Path(args.model), args.k, args.device)
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return
    for result in results:
        found = ", ".join(f"{hit['id']} {hit['similarity']:.2f}" for hit in result["similar"])
        print(f"{result['image']}: {found}")


def lr_find(args: argparse.Namespace) -> None:
    """Sweep the learning rate on the train split; write the curve and print a suggestion."""
    from fashion_tagger.data.dataset import load_attribute_classes, load_labelled_split
    from fashion_tagger.io import write_csv
    from fashion_tagger.model.lr_find import (
        draw_lr_curve,
        lr_sweep,
        suggest_lr,
        sweep_lrs,
        sweep_summary,
    )
    from fashion_tagger.model.training import TrainParams, TrainRuntime, training_device
    from fashion_tagger.params import read_params
    from fashion_tagger.paths import LR_FIND_CSV_FILE, LR_FIND_PLOT_FILE

    params = read_params("train", TrainParams)
    runtime = read_params("runtime.train", TrainRuntime)
    _, data = load_labelled_split(("train",))
    device = training_device(runtime)
    lrs = sweep_lrs(args.start, args.end, args.steps)
    rows = lr_sweep(params, data["train"], load_attribute_classes(), device, lrs, runtime.workers)
    suggestion = suggest_lr(rows)
    write_csv(LR_FIND_CSV_FILE, rows, ["lr", "loss", "smoothed_loss"])
    draw_lr_curve(LR_FIND_PLOT_FILE, rows, suggestion)
    print(f"lr_find: {sweep_summary(rows, suggestion)} -> {LR_FIND_PLOT_FILE}, {LR_FIND_CSV_FILE}")


def add_model_options(command: argparse.ArgumentParser, json_help: str, device_help: str) -> None:
    """The options of every command that runs the trained model: its file, JSON output and
    the device."""
    command.add_argument(
        "--model", default=str(MODEL_FILE), help="model file (default: %(default)s)"
    )
    command.add_argument("--json", action="store_true", help=json_help)
    command.add_argument(
        "--device", choices=DEVICES, default="auto", help=f"{device_help} (default: %(default)s)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The command's parser: one subcommand per job, help text on every option."""
    parser = argparse.ArgumentParser(
        prog="fashion-tagger",
        description="Use the model the DVC pipeline trained (run `dvc repro` first).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tag = commands.add_parser(
        "predict",
        help="tag image files or folders with the trained model",
        description=(
            "Tag images with the trained model. The first line names the model (file, MLflow "
            "run, when it was trained); then, per image, a table of the tags whose score "
            "reaches the tag's threshold. Of mutually exclusive tags (two lengths, two "
            "necklines) the best-scoring one is kept and the others are shown as excluded. An "
            "image whose aspect ratio differs from the model's is padded to it, not squeezed."
        ),
    )
    tag.add_argument(
        "images", nargs="+", help="image files or folders (searched for .jpg, .png, ...)"
    )
    add_model_options(tag, json_help="print JSON instead of tables", device_help="where to score")
    tag.add_argument(
        "--threshold",
        choices=THRESHOLD_MODES,
        default="global",
        help="which of the model's thresholds: global (one for all tags, tuned on the val "
        "split), per_tag (one per tag, tuned on the val split) or fixed (train.threshold); "
        "default: %(default)s",
    )
    tag.add_argument(
        "--tta", action="store_true", help="average each image with its horizontal flip"
    )
    tag.set_defaults(run=predict)

    near = commands.add_parser(
        "similar",
        help="find the dataset's most similar items (after `dvc repro similar`)",
        description=(
            "For each image, the dataset's items whose embeddings (the model's pooled "
            "features) are most similar by cosine similarity; uses data/similar/."
        ),
    )
    near.add_argument("images", nargs="+", help="query image files or folders")
    add_model_options(
        near, json_help="print JSON instead of one line each", device_help="where to embed"
    )
    near.add_argument(
        "--k", type=int, default=5, help="similar items per image (default: %(default)s)"
    )
    near.set_defaults(run=similar)

    sweep = commands.add_parser(
        "lr-find",
        help="sweep the learning rate to choose train.lr (after `dvc repro split prepare`)",
        description=(
            "Train the model that params.yaml's train section describes while the learning "
            "rate grows exponentially, stop when the loss diverges, write the curve to "
            "data/lr_find/ and print a suggested train.lr (steepest descent of the smoothed "
            "loss). Device and loader workers come from runtime.train."
        ),
    )
    sweep.add_argument(
        "--start", type=float, default=1e-7, help="first learning rate (default: %(default)s)"
    )
    sweep.add_argument(
        "--end", type=float, default=10.0, help="last learning rate (default: %(default)s)"
    )
    # 80 rather than fastai's 100: the sweep then ends within a minute on 2 CPU cores (sample)
    sweep.add_argument(
        "--steps", type=int, default=80, help="batches at most (default: %(default)s)"
    )
    sweep.set_defaults(run=lr_find)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run one command; a PipelineError ends it with a one-line message and exit code 1."""
    args = build_parser().parse_args(argv)
    run_stage(lambda: args.run(args))


if __name__ == "__main__":
    main()
