"""Benchmark: the `marian` backend's two engines on the same model, CTranslate2 against
transformers (sentences/s, and their ratio measured in each repeat).

The model has the layer sizes and vocabulary of Helsinki-NLP/opus-mt-de-en with random weights
(tests/tiny_marian.py, OPUS_MT_SIZE; built offline in a temporary folder, the real weights
need the hub), so each token costs what it costs with the real model; random weights almost
never emit the end token, so every translation runs to `--max-length` tokens with both engines
and both do the same number of decoding steps. The texts are the first `--texts` sentences of
benchmarks/data/real_text.json (real German of natural lengths). Both engines get the same
`translate.marian` settings (batch size, beams, max length) and the same CPU threads;
transformers runs in float32 on the CPU (float16 on CUDA), CTranslate2 in int8 (float16).
Each repeat times both engines on all texts; the report gives medians and the spread
(min-max). Writes benchmarks/results/ctranslate2.json.

    python -m benchmarks.bench_ctranslate2 [--texts 16] [--repeats 3] [--threads 2]
        [--max-length 32] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from fashion_tagger.io import write_json
from fashion_tagger.text import marian_ct2
from fashion_tagger.text.marian import MarianParams, MarianTranslator
from fashion_tagger.text.marian_ct2 import CTranslate2Marian
from fashion_tagger.text.translate import Translator

HERE = Path(__file__).parent
SET_FILE = HERE / "data" / "real_text.json"
RESULTS_FILE = HERE / "results" / "ctranslate2.json"


def rate(translator: Translator, texts: list[str]) -> float:
    """Sentences per second of one call on all texts."""
    start = time.perf_counter()
    translator.translate(texts)
    return len(texts) / (time.perf_counter() - start)


def spread(values: list[float]) -> dict:
    """Median, minimum and maximum, rounded."""
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def folder_size(folder: Path) -> int:
    """Bytes of the files under a folder."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=16, help="sentences translated per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of both engines")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=32, help="tokens")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--output", type=Path, default=RESULTS_FILE)
    args = parser.parse_args()
    import torch

    from tests.tiny_marian import OPUS_MT_SIZE, build_tiny_marian

    torch.set_num_threads(args.threads)
    sentences = json.loads(SET_FILE.read_text(encoding="utf-8"))["sentences"]
    texts = [sentence["text"] for sentence in sentences[: args.texts]]
    with tempfile.TemporaryDirectory() as scratch:
        folder = build_tiny_marian(Path(scratch) / "opus-mt-sized", size=OPUS_MT_SIZE)
        marian_ct2.CONVERTED_DIR = str(Path(scratch) / "converted")
        params = MarianParams(
            local_path=str(folder),
            batch_size=args.batch_size,
            max_length=args.max_length,
            num_beams=args.beams,
        )
        reference = MarianTranslator.load(params, args.device)
        start = time.perf_counter()
        converted = CTranslate2Marian.load(params, args.device, threads=args.threads)
        load_seconds = time.perf_counter() - start
        sizes = {
            "transformers_mb": round(folder_size(folder) / 1e6, 1),
            "ctranslate2_mb": round(folder_size(Path(marian_ct2.CONVERTED_DIR)) / 1e6, 1),
        }
        for translator in (reference, converted):  # warm-up: first-call allocations
            translator.translate(texts[: args.batch_size])
        rates: dict[str, list[float]] = {"transformers": [], "ctranslate2": [], "ratio": []}
        for repeat in range(args.repeats):
            pytorch, ct2 = rate(reference, texts), rate(converted, texts)
            rates["transformers"].append(pytorch)
            rates["ctranslate2"].append(ct2)
            rates["ratio"].append(ct2 / pytorch)
            print(
                f"repeat {repeat + 1}: transformers {pytorch:.2f} sentences/s, "
                f"ctranslate2 {ct2:.2f} sentences/s, ratio {ct2 / pytorch:.2f}"
            )
    results = {
        "model": "opus-mt-de-en's architecture, random weights (tests/tiny_marian.py)",
        "device": args.device,
        "threads": args.threads,
        "texts": len(texts),
        "repeats": args.repeats,
        "batch_size": args.batch_size,
        "num_beams": args.beams,
        "max_length": args.max_length,
        "transformers_dtype": str(reference.model.dtype).split(".")[-1],
        "ctranslate2_compute_type": converted.translator.compute_type,
        "convert_and_load_seconds": round(load_seconds, 1),
        **sizes,
        "transformers_sentences_per_s": spread(rates["transformers"]),
        "ctranslate2_sentences_per_s": spread(rates["ctranslate2"]),
        "ratio": spread(rates["ratio"]),
    }
    print(
        f"ctranslate2 / transformers: {results['ratio']['median']:.2f}x (median of "
        f"{args.repeats}; {results['ratio']['min']:.2f}-{results['ratio']['max']:.2f})"
    )
    write_json(args.output, results)
    print(f"-> {args.output}")


if __name__ == "__main__":
    main()
