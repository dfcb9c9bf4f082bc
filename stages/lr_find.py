"""Find a learning rate: `python -m stages.lr_find [--start 1e-7] [--end 10] [--steps 80]`.

A command you run by hand (not a DVC stage) after `dvc repro prepare split`: it trains the model
that params.yaml's `train` section describes for up to `--steps` batches while the LR grows
exponentially from `--start` to `--end`, stops once the loss diverges, writes the loss curve to
`data/lr_find/lr_find.png` (and its numbers to `lr_find.csv`), and prints the suggested LR by
the steepest-descent rule (where the smoothed loss falls fastest) to set as `train.lr`.
Device and loader workers come from `runtime.train`.
"""

from __future__ import annotations

import argparse

from fashion_tagger.data.dataset import load_attribute_classes, load_labelled_split
from fashion_tagger.errors import run_stage
from fashion_tagger.io import write_csv
from fashion_tagger.model.lr_find import draw_lr_curve, lr_sweep, suggest_lr, sweep_lrs
from fashion_tagger.model.training import TrainParams, TrainRuntime
from fashion_tagger.params import read_params
from fashion_tagger.paths import LR_FIND_CSV_FILE, LR_FIND_PLOT_FILE
from fashion_tagger.torch_utils import select_device


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=float, default=1e-7, help="first LR (%(default)s)")
    parser.add_argument("--end", type=float, default=10.0, help="last LR (%(default)s)")
    # 80 rather than fastai's 100: the sweep then ends within a minute on 2 CPU cores (sample)
    parser.add_argument("--steps", type=int, default=80, help="batches at most (%(default)s)")
    args = parser.parse_args(argv)
    params = read_params("train", TrainParams)
    runtime = read_params("runtime.train", TrainRuntime)
    _, data = load_labelled_split(("train",))
    device = select_device(runtime.device, "runtime.train.device")
    lrs = sweep_lrs(args.start, args.end, args.steps)
    rows = lr_sweep(params, data["train"], load_attribute_classes(), device, lrs, runtime.workers)
    suggestion = suggest_lr(rows)
    write_csv(LR_FIND_CSV_FILE, rows, ["lr", "loss", "smoothed_loss"])
    draw_lr_curve(LR_FIND_PLOT_FILE, rows, suggestion)
    lowest = min(rows, key=lambda row: row["smoothed_loss"])
    print(
        f"lr_find: {len(rows)} steps from {rows[0]['lr']:.1e} to {rows[-1]['lr']:.1e}; "
        f"suggested train.lr {suggestion:.2e} (steepest descent of the smoothed loss; the loss "
        f"is lowest at {lowest['lr']:.1e}) -> {LR_FIND_PLOT_FILE}, {LR_FIND_CSV_FILE}"
    )


if __name__ == "__main__":
    run_stage(main)
