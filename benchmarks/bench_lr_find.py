"""lr_find on the prepared data: wall and CPU seconds per sweep (target: under a minute on the
sample on CPU), with the steps it took before the loss diverged and its suggestion.

Runs the same sweep as `fashion-tagger lr-find` (the `train:` params, `runtime.train.device`)
`--repeats` times; prints each run, then the median and the spread (max - min). Needs
`data/prepare/`, `data/encode/` and `data/split/` (`dvc repro prepare split`). Run from the repo
root:

    python -m benchmarks.bench_lr_find [--repeats 3] [--steps 100]
"""

from __future__ import annotations

import argparse
import statistics
import time

from fashion_tagger.data.dataset import load_attribute_classes, load_labelled_split
from fashion_tagger.model.lr_find import lr_sweep, suggest_lr, sweep_lrs
from fashion_tagger.model.training import TrainParams, TrainRuntime, training_device
from fashion_tagger.params import read_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="sweeps timed")
    parser.add_argument("--steps", type=int, default=100, help="steps per sweep at most")
    args = parser.parse_args()
    params = read_params("train", TrainParams)
    runtime = read_params("runtime.train", TrainRuntime)
    _, data = load_labelled_split(("train",))
    attribute_classes = load_attribute_classes()
    device = training_device(runtime)
    walls, cpus = [], []
    for repeat in range(args.repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        rows = lr_sweep(
            params,
            data["train"],
            attribute_classes,
            device,
            sweep_lrs(1e-7, 10.0, args.steps),
            runtime.workers,
        )
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        print(
            f"run {repeat + 1}: {len(rows)} steps in {walls[-1]:.1f} s wall, {cpus[-1]:.1f} s "
            f"CPU ({walls[-1] / len(rows):.3f} s/step); suggested lr {suggest_lr(rows):.2e}"
        )
    print(
        f"{params.backbone} {data['train'].image_shape[:2]} batch {params.batch_size} on "
        f"{device}: median {statistics.median(walls):.1f} s wall (spread "
        f"{max(walls) - min(walls):.1f} s), median {statistics.median(cpus):.1f} s CPU"
    )


if __name__ == "__main__":
    main()
