"""Benchmark: translation throughput (descriptions/s) of the translate stage's backends.

Translates the distinct descriptions of an items file (the sample's by default) with
- the `glossary` backend, fresh (no memo), and again from the translation cache it filled;
- the `marian` backend with a tiny randomly initialised MarianMT model on the CPU (built in a
  temporary folder, see tests/tiny_marian.py; needs the `marian` extra), fresh and cached.
The tiny model measures the backend's own path (tokenizer, length-sorted batches, beam
search, decoding), not the speed of opus-mt-de-en, which has about 700 times its weights;
its random weights never emit end-of-sentence, so every output runs to `--max-length`.

    python -m benchmarks.bench_translate [--items data/raw/items.json] [--marian-texts 256]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from fashion_tagger.data.items import load_items
from fashion_tagger.errors import PipelineError
from fashion_tagger.text.glossary import GlossaryTranslator
from fashion_tagger.text.translate import Translator, texts_to_translate, translate_texts
from fashion_tagger.text.translation_cache import TranslationCache


def rate(texts: Sequence[str], translator: Translator, cache: TranslationCache | None) -> float:
    """Descriptions per second of one translate_texts call."""
    start = time.perf_counter()
    translate_texts(texts, translator, cache)
    return len(texts) / (time.perf_counter() - start)


def fresh_and_cached(texts: Sequence[str], translator: Translator, folder: Path) -> tuple:
    """Rates as in the stage: into an empty cache (translate and store), then all cached."""
    with TranslationCache(folder, translator.identity()) as cache:
        fresh = rate(texts, translator, cache)
        cached = rate(texts, translator, cache)
    return fresh, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=Path, default=Path("data/raw/items.json"))
    parser.add_argument("--marian-texts", type=int, default=256, help="descriptions for marian")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=64, help="tokens")
    args = parser.parse_args()
    if not args.items.exists():
        raise SystemExit(f"{args.items}: not found; run `python -m stages.download` first")
    texts = list(dict.fromkeys(texts_to_translate(load_items(args.items))))
    print(f"{len(texts)} distinct descriptions from {args.items}")

    with tempfile.TemporaryDirectory() as folder:
        fresh, cached = fresh_and_cached(texts, GlossaryTranslator.load(), Path(folder))
        print(f"glossary:        {fresh:9.1f} descriptions/s fresh, {cached:9.1f} cached")
        print(f"                 cache speed-up {cached / fresh:.1f}x")
        try:
            marian_rates(texts[: args.marian_texts], args, Path(folder))
        except PipelineError as error:
            print(f"marian (tiny):   skipped: {error}")


def marian_rates(texts: list[str], args: argparse.Namespace, folder: Path) -> None:
    """Build the tiny model, then time it on the CPU."""
    from fashion_tagger.text.marian import MarianParams, MarianTranslator, require_extra

    require_extra()
    import torch

    from tests.tiny_marian import build_tiny_marian

    params = MarianParams(
        local_path=str(build_tiny_marian(folder / "tiny-marian")),
        batch_size=args.batch_size,
        max_length=args.max_length,
        num_beams=args.beams,
        device="cpu",
    )
    translator = MarianTranslator.load(params)
    translator.translate(texts[: args.batch_size])  # warm-up: first-call allocations
    fresh, cached = fresh_and_cached(texts, translator, folder)
    print(
        f"marian (tiny):   {fresh:9.1f} descriptions/s fresh, {cached:9.1f} cached "
        f"({len(texts)} texts, batch {args.batch_size}, {args.beams} beams, "
        f"max {args.max_length} tokens, {torch.get_num_threads()} CPU threads)"
    )
    print(f"                 cache speed-up {cached / fresh:.1f}x")


if __name__ == "__main__":
    main()
