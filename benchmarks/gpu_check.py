"""The GPU path in one command, for a lent GPU machine: `python3 -m benchmarks.gpu_check`.

In order, printing as it goes and rewriting one JSON of figures after every section (to
$OUT/gpu_check.json when OUT is set, or to --out): the machine (GPU, driver, torch, CUDA);
the carried wheels (`make gpu-bundle`: .whl/) installed into a temporary site folder when
pydantic is missing; the `gpu`-marked tests; a FEIDEGGER-size cache of random pixels; the
training throughput of the recipe's backbone with AMP and channels_last, (a) the data path
alone, (b) the training step on ready tensors, (c) the real path, with (c)/(b), epoch time
and peak GPU memory; the library's own `fit` for 2 epochs, then the evaluate (TTA), similar
and predict code paths; DDP with one process per visible GPU (NCCL, SyncBatchNorm); the
Marian backend with a tiny model built here; last, the throughput again with torch.compile.
Without CUDA the same command runs the same code paths on the CPU at toy size and says that
the GPU figures are missing. It needs only torch, torchvision, numpy, scikit-learn, pillow,
PyYAML, tqdm, matplotlib (transformers and sentencepiece for Marian) and pydantic: no DVC,
MLflow or NLTK (tracking is off).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

WHEELS = Path(".whl")
TAGS = 50
POSITIVE_SHARE = 0.2  # of the random labels
SPLIT_SHARES = (0.7, 0.15)  # train, val; the rest is test (FEIDEGGER's split)
TARGET_RATE = 2500  # images/s training target (issue 22)
TARGET_RATIO = 0.95  # (c)/(b) target
DEADLINE_MARGIN = 90  # seconds left over for the sections after the last timed one


@dataclass(frozen=True)
class Size:
    """How much work each section does."""

    images: int  # in the cache (FEIDEGGER: 8,732)
    side: int  # square images, pixels
    batch: int
    backbone: str
    workers: int  # loader threads
    warmup: int
    repeats: int
    compile: bool  # also measure with torch.compile
    ddp_processes: int  # 0: one per visible GPU


GPU_SIZE = Size(8732, 224, 128, "resnext50_32x4d", 4, 1, 3, True, 0)
TOY_SIZE = Size(64, 32, 8, "resnet18", 1, 1, 2, False, 2)


class Report:
    """The figures, rewritten whole (atomically) after every section, so that a run stopped at
    its time limit still leaves what it measured."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict = {}
        self.failures: list[str] = []

    def section(self, name: str, value) -> None:
        self.data[name] = value
        self.write()

    def fail(self, name: str, error: BaseException) -> None:
        line = f"{type(error).__name__}: {error}".splitlines()[0][:400]
        self.failures.append(f"{name}: {line}")
        self.data[name] = {"error": line}
        self.data["failures"] = self.failures
        traceback.print_exc()
        self.write()

    def write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text(json.dumps(self.data, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, self.path)


def say(text: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {text}", flush=True)


def spread(values: list[float]) -> dict:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": len(values),
    }


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------- the machine and its packages


def environment(device: torch.device) -> dict:
    """What runs here: Python, torch, CUDA, the GPU and its driver."""
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cpus": os.cpu_count(),
        "device": device.type,
    }
    for name in ("torchvision", "timm", "transformers", "numpy"):
        with contextlib.suppress(Exception):
            info[name] = __import__(name).__version__
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        info |= {
            "gpu": properties.name,
            "gpus": torch.cuda.device_count(),
            "capability": f"{properties.major}.{properties.minor}",
            "gpu_memory_gib": round(properties.total_memory / 2**30, 1),
            "cudnn": torch.backends.cudnn.version(),
            "bf16": torch.cuda.is_bf16_supported(),
        }
        if shutil.which("nvidia-smi"):
            query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
            result = subprocess.run(query, capture_output=True, text=True, check=False)
            info["driver"] = result.stdout.strip().splitlines()[0] if result.stdout else None
    return info


def install_wheels(site: Path) -> dict:
    """pydantic (and its needs) from the carried wheels, into `site`, when it is missing."""
    if importlib.util.find_spec("pydantic") is not None:
        return {"installed": [], "note": "pydantic already present"}
    wheels = sorted(WHEELS.glob("*.whl"))
    if not wheels:
        raise RuntimeError(f"pydantic is missing and {WHEELS}/ holds no wheels: make gpu-bundle")
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps"]
    command += ["--no-compile", "--no-cache-dir", "--target", str(site), *map(str, wheels)]
    subprocess.run(command, check=True)
    sys.path.insert(0, str(site))
    # the tests and the DDP ranks run in child processes: they see the folder too
    os.environ["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(site), os.environ.get("PYTHONPATH")) if part
    )
    import pydantic

    return {"installed": [wheel.name for wheel in wheels], "pydantic": pydantic.VERSION}


def gpu_tests(folder: Path) -> dict:
    """The `gpu`-marked tests (of the files that have any), in a child pytest."""
    files = sorted(
        str(path) for path in Path("tests").glob("test_*.py") if "mark.gpu" in path.read_text()
    )
    junit = folder / "gpu_tests.xml"
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"]
    command += [f"--junitxml={junit}", *files]
    start = time.perf_counter()
    result = subprocess.run(command, check=False, timeout=300)
    suite = ElementTree.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    failed = [
        case.get("classname", "") + "::" + case.get("name", "")
        for case in suite.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    ]
    return {
        "files": files,
        **counts,
        "passed": counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"],
        "failed_tests": failed,
        "exit_status": result.returncode,
        "seconds": round(time.perf_counter() - start, 1),
    }


# ---------------------------------------------------------------- the data


def split_rows(count: int) -> dict[str, np.ndarray]:
    """Train, val and test rows of the cache, in FEIDEGGER's shares."""
    train = int(count * SPLIT_SHARES[0])
    val = int(count * SPLIT_SHARES[1])
    rows = np.arange(count)
    return {"train": rows[:train], "val": rows[train : train + val], "test": rows[train + val :]}


def write_cache(folder: Path, size: Size, device: torch.device) -> dict:
    """images.npy (uint8 NHWC random pixels, drawn on the device) and labels.npy in `folder`."""
    shape = (size.images, size.side, size.side, 3)
    images = np.lib.format.open_memmap(folder / "images.npy", "w+", np.uint8, shape)
    generator = torch.Generator(device).manual_seed(0)
    chunk = 512
    for start in range(0, size.images, chunk):
        part = (min(chunk, size.images - start), *shape[1:])
        pixels = torch.randint(0, 256, part, generator=generator, device=device, dtype=torch.uint8)
        images[start : start + len(pixels)] = pixels.cpu().numpy()
    images.flush()
    del images
    labels = np.random.default_rng(0).random((size.images, TAGS)) < POSITIVE_SHARE
    np.save(folder / "labels.npy", labels.astype(np.float32))
    return {"images": size.images, "side": size.side, "gib": round(np.prod(shape) / 2**30, 2)}


def load_splits(folder: Path):
    """(classes, {split: SplitData}) over the cache in `folder` (memory-mapped)."""
    from fashion_tagger.data.dataset import SplitData

    cache = np.load(folder / "images.npy", mmap_mode="r")
    labels = np.load(folder / "labels.npy")
    splits = {
        name: SplitData([f"item{row}" for row in rows], cache, rows, labels[rows])
        for name, rows in split_rows(len(cache)).items()
    }
    return [f"tag{index:02d}" for index in range(TAGS)], splits


def params_for(size: Size, **changes):
    """The train section of params.yaml with the check's model, batch and no download."""
    from fashion_tagger.model.training import TrainParams
    from fashion_tagger.params import load_params_file

    section = load_params_file()["train"] | {
        "backbone": size.backbone,
        "pretrained": False,  # nothing can be downloaded there; speed needs no real weights
        "batch_size": size.batch,
        "amp": True,
        "ema_decay": None,
        "patience": None,
        "freeze_epochs": 0,
    }
    return TrainParams.model_validate(section | changes)


def runtime_for(size: Size, device: torch.device, **changes):
    from fashion_tagger.model.training import TrainRuntime

    values = {
        "device": device.type,
        "workers": size.workers,
        "resume": False,
        "processes": 1,
        "compile": False,
    }
    return TrainRuntime.model_validate(values | changes)


# ---------------------------------------------------------------- throughput


def throughput(splits, size: Size, device: torch.device, compiled: bool) -> dict:
    """(a) the data path alone, (b) the training step on ready tensors and (c) the real path
    over the train split, interleaved repeats after warm-up; images/s, (c)/(b), epoch time."""
    from benchmarks.bench_train import augmented_passes, measure, train_steps
    from fashion_tagger.model.training import build_training

    params = params_for(size)
    train = splits["train"]
    one_pass = augmented_passes(train, size.batch, params.augment, size.workers, device)

    def data_only() -> int:
        seen = 0
        for images, _ in one_pass():
            seen += len(images)
        synchronize(device)
        return seen

    result: dict = {"compile": compiled, "batches_per_epoch": len(train) // size.batch}
    if not compiled:
        result["data_path"] = spread(measure(data_only, size.warmup, size.repeats))
        say(f"(a) data path: {result['data_path']['median']:,.0f} images/s")

    steps = result["batches_per_epoch"]
    parts = build_training(params, device, TAGS, {}, steps)  # the schedule is not stepped
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    parts.tagger.train()
    model = torch.compile(parts.tagger) if compiled else parts.tagger
    ready = next(one_pass())

    def tensors() -> int:
        return train_steps(model, parts, [ready] * steps)

    def real() -> int:
        return train_steps(model, parts, one_pass())

    start = time.perf_counter()
    for _ in range(size.warmup):
        tensors(), real()
    result["warmup_s"] = round(time.perf_counter() - start, 1)  # with compile: compiling
    ready_rates, real_rates = [], []
    for _ in range(size.repeats):  # interleaved, so a busy machine slows both alike
        ready_rates += measure(tensors, 0, 1)
        real_rates += measure(real, 0, 1)
    ratios = [c / b for b, c in zip(ready_rates, real_rates, strict=True)]
    rate = statistics.median(real_rates)
    result |= {
        "ready": spread(ready_rates),
        "real": spread(real_rates),
        "ratio": spread(ratios),
        "epoch_s": spread([steps * size.batch / value for value in real_rates]),
        "seconds_30_epochs_of_7000": 30 * 7000 / rate,
        "meets_ratio_target": statistics.median(ratios) >= TARGET_RATIO,
        "meets_rate_target": rate >= TARGET_RATE,
    }
    if device.type == "cuda":
        result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    say(
        f"{'compiled' if compiled else 'eager'}: (b) {result['ready']['median']:,.0f}, "
        f"(c) {rate:,.0f} images/s, (c)/(b) {result['ratio']['median']:.3f}, "
        f"epoch {result['epoch_s']['median']:.2f} s"
    )
    return result


# ---------------------------------------------------------------- the library's own paths


def fit_and_serve(classes, splits, size: Size, device: torch.device, folder: Path) -> dict:
    """`fit` for 2 epochs, thresholds, then evaluate's TTA pass, similar's embeddings and
    predict on image files, all on `device`."""
    from PIL import Image

    from fashion_tagger.data.images import list_images, load_pixels
    from fashion_tagger.model.inference import predict
    from fashion_tagger.model.network import load_model, save_model
    from fashion_tagger.model.training import fit, tune_thresholds
    from fashion_tagger.serving.predict import score_pixels

    params = params_for(size, epochs=2)
    runtime = runtime_for(size, device)
    marks = [time.perf_counter()]
    tagger, history = fit(
        params,
        runtime,
        device,
        classes,
        splits,
        folder / "last.pt",
        "gpu-check",
        on_epoch=lambda row: marks.append(time.perf_counter()),
    )
    result: dict = {
        "epochs": len(history),
        "epoch_s": [round(b - a, 2) for a, b in zip(marks, marks[1:], strict=False)],
        "train_images": len(splits["train"]),
        "history": history,
    }
    say(f"fit: epochs took {result['epoch_s']} s (with validation)")

    def timed(name: str, count: int, run) -> None:
        synchronize(device)
        start = time.perf_counter()
        run()
        synchronize(device)
        seconds = time.perf_counter() - start
        result[name] = {
            "images": count,
            "seconds": round(seconds, 3),
            "images_per_s": count / seconds,
        }
        say(f"{name}: {count / seconds:,.0f} images/s")

    test = splits["test"]
    thresholds = tune_thresholds(tagger, splits["val"], params, device)
    timed(
        "evaluate_tta",
        len(test),
        lambda: predict(tagger, test.cache, device, size.batch, test.rows, tta="both"),
    )
    timed(
        "similar_embeddings",
        len(test),
        lambda: predict(tagger, test.cache, device, size.batch, test.rows, output="embeddings"),
    )
    save_model(folder / "model.pt", tagger, classes, size.side, size.side, thresholds)
    pictures = folder / "pictures"
    pictures.mkdir()
    for index in range(min(16, len(test))):
        Image.fromarray(np.asarray(test.images(np.array([index]))[0])).save(
            pictures / f"{index}.jpg"
        )
    model, record = load_model(folder / "model.pt")
    files = list_images([pictures])
    pixels, _ = load_pixels(files, record.height, record.width)
    tagged: list = []
    timed(
        "predict",
        len(files),
        lambda: tagged.extend(score_pixels(model, record, pixels, "global", device, tta=True)[0]),
    )
    result["predict"]["tagged_images"] = len(tagged)
    return result


def ddp(size: Size, device: torch.device, folder: Path) -> dict:
    """One epoch of `fit` under torchrun, one process per visible GPU (NCCL, SyncBatchNorm);
    on the CPU two gloo processes."""
    processes = size.ddp_processes or torch.cuda.device_count()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc-per-node={processes}", "-m", "benchmarks.gpu_check"]
    command += ["--ddp-worker", str(folder), "--device", device.type]
    if size == TOY_SIZE:
        command.append("--toy")
    start = time.perf_counter()
    subprocess.run(command, check=True, timeout=240)
    result = json.loads((folder / "ddp.json").read_text(encoding="utf-8"))
    result["seconds_with_start"] = round(time.perf_counter() - start, 1)
    return result


def ddp_worker(folder: Path, size: Size, device: torch.device) -> None:
    """One rank of `ddp` (started by torchrun): `fit` for one epoch, rank 0 writes ddp.json."""
    from fashion_tagger.model.distributed import launched_ranks, process_group, rank_device
    from fashion_tagger.model.training import fit

    ranks = launched_ranks()
    device = rank_device(device, ranks)
    classes, splits = load_splits(folder)
    params = params_for(size, epochs=1, sync_batchnorm=True)
    with process_group(ranks, device):
        start = time.perf_counter()
        tagger, history = fit(
            params,
            runtime_for(size, device),
            device,
            classes,
            splits,
            folder / "ddp.pt",
            "ddp",
            ranks=ranks,
        )
        seconds = time.perf_counter() - start
        result = {
            "processes": ranks.world,
            "backend": torch.distributed.get_backend() if ranks.world > 1 else None,
            "fit_s": round(seconds, 2),
            "train_loss": history[0]["train_loss"],
            "sync_batchnorm_layers": sum(
                isinstance(layer, torch.nn.SyncBatchNorm) for layer in tagger.modules()
            ),
        }
        if ranks.world == 1 and device.type == "cuda":
            result["one_rank_ddp"] = one_rank_ddp(tagger, device, size)
    if ranks.main:
        (folder / "ddp.json").write_text(json.dumps(result), encoding="utf-8")


def one_rank_ddp(tagger, device: torch.device, size: Size) -> dict:
    """With one GPU the library trains without a DDP wrapper; DDP and SyncBatchNorm on NCCL
    still get a few AMP, channels_last steps here (a one-process group of their own)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    device = torch.device("cuda", torch.cuda.current_device())  # NCCL wants an index
    dist.init_process_group("nccl", device_id=device)  # torchrun's rendezvous, one rank
    try:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(tagger.to(device)).train()
        model = model.to(memory_format=torch.channels_last)
        wrapped = DistributedDataParallel(model, device_ids=[device.index or 0])
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        images = torch.rand(size.batch, 3, size.side, size.side, device=device)
        images = images.contiguous(memory_format=torch.channels_last)
        targets = (torch.rand(size.batch, TAGS, device=device) < POSITIVE_SHARE).float()
        losses = []
        for _ in range(3):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    wrapped(images).float(), targets
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return {"steps": len(losses), "losses": losses, "backend": dist.get_backend()}
    finally:
        dist.destroy_process_group()


def marian(device: torch.device, folder: Path) -> dict:
    """The Marian backend with a tiny random model built here (fp16 on CUDA)."""
    if importlib.util.find_spec("transformers") is None:
        return {"skipped": "transformers is not installed"}
    from fashion_tagger.text.marian import MarianParams, MarianTranslator
    from tests.tiny_marian import SENTENCES, build_tiny_marian

    model_dir = build_tiny_marian(folder / "marian")
    params = MarianParams(local_path=str(model_dir), batch_size=32, max_length=32, num_beams=4)
    translator = MarianTranslator.load(params, device.type)
    texts = [f"{sentence} ({index})" for index in range(16) for sentence in SENTENCES[::2]]
    start = time.perf_counter()
    english = translator.translate(texts)
    seconds = time.perf_counter() - start
    return {
        "texts": len(texts),
        "translated": sum(bool(text) for text in english),
        "seconds": round(seconds, 3),
        "dtype": str(translator.model.dtype),
        "device": translator.model.device.type,
    }


# ---------------------------------------------------------------- the command


def summary(data: dict) -> None:
    """A short table last (the end of the output is what comes back first)."""
    print("\n==== gpu_check summary ====")
    env = data.get("environment", {})
    print(f"device {env.get('gpu', 'cpu')}, driver {env.get('driver')}, torch {env.get('torch')}")
    tests = data.get("gpu_tests", {})
    print(
        f"gpu tests: {tests.get('passed')} passed, {tests.get('failures')} failed, "
        f"{tests.get('errors')} errors, {tests.get('skipped')} skipped"
    )
    for name in ("throughput_eager", "throughput_compiled"):
        part = data.get(name, {})
        if "real" in part:
            print(
                f"{name}: (b) {part['ready']['median']:,.0f}  (c) {part['real']['median']:,.0f} "
                f"images/s  (c)/(b) {part['ratio']['median']:.3f}  epoch "
                f"{part['epoch_s']['median']:.2f} s  peak {part.get('peak_memory_gib')} GiB"
            )
    for failure in data.get("failures", []):
        print(f"FAILED {failure}")
    print(f"total {data.get('seconds')} s; GPU figures: {data.get('gpu_figures')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="the JSON (default: $OUT/gpu_check.json)")
    parser.add_argument("--toy", action="store_true", help="toy size (the default without CUDA)")
    parser.add_argument("--budget", type=float, default=420, help="seconds; later parts skip")
    parser.add_argument("--device", choices=["cuda", "cpu"], help=argparse.SUPPRESS)
    parser.add_argument("--ddp-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    cuda = torch.cuda.is_available() if args.device is None else args.device == "cuda"
    device = torch.device("cuda" if cuda else "cpu")
    size = TOY_SIZE if args.toy or not cuda else GPU_SIZE
    if args.ddp_worker is not None:
        ddp_worker(args.ddp_worker, size, device)
        return 0

    began = time.perf_counter()
    out = args.out or (Path(os.environ["OUT"]) / "gpu_check.json" if "OUT" in os.environ else None)
    report = Report(out)
    report.section("mode", "cuda" if cuda else "cpu (toy size)")
    report.section("gpu_figures", cuda and size == GPU_SIZE)
    report.section("size", asdict(size))
    if not cuda:
        say("no CUDA device: the same code paths at toy size on the CPU; no GPU figures")
    folder = Path(tempfile.mkdtemp(prefix="gpu_check_"))
    try:
        report.section("environment", environment(device))
        say(f"environment: {json.dumps(report.data['environment'])}")
        report.section("wheels", install_wheels(folder / "site"))
        say(f"wheels: {report.data['wheels']}")
        steps = [
            ("gpu_tests", lambda: gpu_tests(folder)),
            ("cache", lambda: write_cache(folder, size, device)),
            ("throughput_eager", lambda: throughput(load_splits(folder)[1], size, device, False)),
            ("fit", lambda: fit_and_serve(*load_splits(folder), size, device, folder)),
            ("ddp", lambda: ddp(size, device, folder)),
            ("marian", lambda: marian(device, folder)),
        ]
        if size.compile:
            steps.append(
                (
                    "throughput_compiled",
                    lambda: throughput(load_splits(folder)[1], size, device, True),
                )
            )
        for name, run in steps:
            left = args.budget - (time.perf_counter() - began)
            if name == "throughput_compiled" and left < DEADLINE_MARGIN + 60:
                report.section(name, {"skipped": f"{left:.0f} s of the budget left"})
                continue
            say(f"{name} ...")
            start = time.perf_counter()
            try:
                report.section(name, run())
            except Exception as error:  # noqa: BLE001  the other parts still run and report
                report.fail(name, error)
            say(f"{name} done in {time.perf_counter() - start:.1f} s")
        tests = report.data.get("gpu_tests", {})
        if tests.get("failures") or tests.get("errors"):
            report.failures.append(f"gpu_tests: {tests['failed_tests']}")
    except Exception as error:  # noqa: BLE001
        report.fail("setup", error)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report.data["failures"] = report.failures
    report.section("seconds", round(time.perf_counter() - began, 1))
    summary(report.data)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
