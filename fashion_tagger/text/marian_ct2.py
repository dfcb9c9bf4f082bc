"""The `marian` backend run by CTranslate2 (`translate.marian.engine: ctranslate2`).

The same MarianMT model as the transformers engine (text.marian: `model` at `revision`, or
`local_path`), converted once with CTranslate2's converter into CONVERTED_DIR (a folder per
model, CTranslate2 version and precision, named by a hash of them; written in a temporary
folder and renamed, so a half-converted model never sits under its final name), then run by
CTranslate2's own C++ engine: int8 weights on the CPU, float16 on CUDA. The tokenizer is
the model's own (transformers' MarianTokenizer); batching by length, beam search and limits
follow the `translate.marian` params exactly as the transformers engine does. int8 rounds the
weights, so a translation can differ from the transformers engine's in a word now and then;
the translation cache keeps the two apart (the identity names the engine and compute type).

Needs the `marian` extra (transformers, sentencepiece, ctranslate2).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from fashion_tagger.errors import PipelineError
from fashion_tagger.paths import repo_path
from fashion_tagger.text.marian import (
    MarianParams,
    MarianTranslator,
    choose_device,
    locate_model,
    require_extra,
)

CONVERTED_DIR = "data/cache/ctranslate2"  # relative to the repo root (DVC_ROOT under --temp)
COMPUTE_TYPES = {"cpu": "int8", "cuda": "float16"}


def converted_model(folder: Path, source: dict, compute_type: str) -> Path:
    """The CTranslate2 conversion of the MarianMT model in `folder`, its weights stored in
    `compute_type`, made on first use."""
    import ctranslate2
    from ctranslate2.converters import TransformersConverter

    key = json.dumps(
        {**source, "ctranslate2": ctranslate2.__version__, "stored": compute_type}, sort_keys=True
    )
    root = repo_path(CONVERTED_DIR)
    target = root / hashlib.sha256(key.encode()).hexdigest()[:16]
    if (target / "model.bin").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    print(f"translate: converting {folder} for CTranslate2 into {target} (once)")
    scratch = Path(tempfile.mkdtemp(prefix=".converting-", dir=root))
    try:
        with warnings.catch_warnings():  # optional punctuation normaliser, not used
            warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses")
            converter = TransformersConverter(str(folder))
            converter.convert(str(scratch / "model"), quantization=compute_type)
        (scratch / "source.json").write_text(key + "\n", encoding="utf-8")
        try:
            (scratch / "model").rename(target)
        except OSError:  # another process finished the same conversion first
            if not (target / "model.bin").is_file():
                raise
    except (OSError, ValueError, KeyError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise PipelineError(
            f"{folder}: CTranslate2 cannot convert this model ({first_line})"
        ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


class CTranslate2Marian(MarianTranslator):
    """The `marian` backend on CTranslate2: the model's tokenizer around a converted model."""

    def __init__(self, tokenizer, translator, params: MarianParams, source: dict, threads: int):
        import ctranslate2

        self.tokenizer = tokenizer
        self.translator = translator
        self.batch_size = params.batch_size
        self.max_length = params.max_length
        self.num_beams = params.num_beams
        self.source = source
        self.threads = threads
        self.library = ctranslate2.__version__

    @classmethod
    def load(
        cls,
        params: MarianParams,
        device_choice: str = "auto",
        compute_type: str | None = None,
        threads: int = 0,
    ) -> CTranslate2Marian:
        """Find the model, convert it once, and load it on the chosen device, int8 on the CPU
        and float16 on CUDA unless `compute_type` says otherwise; `threads`: CPU threads (0:
        CTranslate2's default)."""
        require_extra()
        import ctranslate2
        from transformers import MarianTokenizer

        folder, source = locate_model(params)
        device = choose_device(device_choice)[0].type
        compute_type = compute_type or COMPUTE_TYPES[device]
        with warnings.catch_warnings():  # optional punctuation normaliser, not used
            warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses")
            try:
                tokenizer = MarianTokenizer.from_pretrained(folder, local_files_only=True)
            except (OSError, ValueError) as error:
                first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
                raise PipelineError(f"{folder}: not a MarianMT model ({first_line})") from None
        model = converted_model(folder, source, compute_type)
        translator = ctranslate2.Translator(
            str(model), device=device, compute_type=compute_type, intra_threads=threads
        )
        print(f"translate: marian model {model} on {device} with CTranslate2 ({compute_type})")
        return cls(tokenizer, translator, params, source, threads)

    def identity(self) -> dict:
        """What determines the translations: weights, decoding, engine, precision, library."""
        return {
            "backend": self.name,
            "engine": "ctranslate2",
            **self.source,
            "max_length": self.max_length,
            "num_beams": self.num_beams,
            "device": self.translator.device,
            "compute_type": self.translator.compute_type,
            "ctranslate2": self.library,
        }

    def _generate(self, batch: Sequence[str]) -> list[str]:
        """One batch through the converted model: token strings in, token strings out."""
        encoded = self.tokenizer(list(batch), truncation=True, max_length=self.max_length)
        tokens = [self.tokenizer.convert_ids_to_tokens(ids) for ids in encoded["input_ids"]]
        results = self.translator.translate_batch(
            tokens,
            beam_size=self.num_beams,
            # transformers ends a text that reaches max_length tokens with the end token
            max_decoding_length=self.max_length - 1,
            max_batch_size=len(tokens),
        )
        return [
            self.tokenizer.decode(
                self.tokenizer.convert_tokens_to_ids(result.hypotheses[0]),
                skip_special_tokens=True,
            )
            for result in results
        ]
