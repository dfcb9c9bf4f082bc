"""The `marian` translation backend: German->English with a Hugging Face MarianMT model.

Needs the optional extra `marian` (transformers, sentencepiece, ctranslate2):
`pip install -e '.[marian]'`.
Nothing here imports them (or torch) until the backend is used, so the default glossary
backend runs without them.

Where the model comes from (params `translate.marian`):
- `local_path`: a folder written by `save_pretrained` (model and tokenizer), for machines
  without internet; a relative path is relative to the repo root (`DVC_ROOT` under
  `dvc exp run --temp/--queue`). `model` and `revision` are then ignored.
- otherwise `model` at `revision` from the Hugging Face cache (`HF_HOME`, by default in the
  user's cache folder); when it is not there and `HF_HUB_OFFLINE` is not set, it is downloaded
  once.
  `revision` should be a commit hash: a branch such as `main` can move. The stage prints the
  commit it used, to be pinned in params.yaml.
Without either it stops with a one-line message saying how to provide the weights.

Engines (`engine`): `ctranslate2` (the default) converts the model once and runs it with
CTranslate2, int8 on the CPU and float16 on CUDA (text.marian_ct2), several times faster than
`transformers`, which runs the model in PyTorch as below.

Translation: identical texts are translated once; texts are sorted by length (longest first,
so that a batch holds texts of similar length and little padding, and an out-of-memory error
shows at once) and translated `batch_size` at a time with beam search, on CUDA in half
precision when present (`device: auto`), else on the CPU in single precision.
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import PositiveInt

from fashion_tagger.errors import PipelineError
from fashion_tagger.params import StrictModel
from fashion_tagger.paths import repo_path

if TYPE_CHECKING:
    import torch

DEFAULT_MODEL = "Helsinki-NLP/opus-mt-de-en"
# Files a MarianMT checkpoint needs; hub repos also hold TensorFlow, Flax and Rust weights.
MODEL_FILES = ["*.json", "*.spm", "*.safetensors", "pytorch_model.bin"]
HUB_TIMEOUT = 10  # seconds to wait for the hub before concluding that it is unreachable
REQUIRED_MODULES = ("transformers", "sentencepiece", "ctranslate2")


class MarianParams(StrictModel):
    """The `translate.marian` section of params.yaml."""

    engine: Literal["ctranslate2", "transformers"] = "ctranslate2"  # what runs the model
    model: str = DEFAULT_MODEL  # Hugging Face model id
    revision: str | None = "main"  # pin a commit hash; None: the hub's default branch
    local_path: str | None = None  # a save_pretrained folder; overrides model and revision
    batch_size: PositiveInt = 32
    max_length: PositiveInt = 256  # tokens: longer texts are truncated, outputs capped
    num_beams: PositiveInt = 4


class MarianRuntime(StrictModel):
    """The `runtime.translate` section: where the model runs (never what it translates to)."""

    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA in fp16 when present


def choose_device(setting: str) -> tuple[torch.device, torch.dtype]:
    """Device and precision: CUDA in half precision when present (or asked), else CPU fp32."""
    import torch

    from fashion_tagger.torch_utils import select_device

    device = select_device(setting, "runtime.translate.device")
    return device, torch.float16 if device.type == "cuda" else torch.float32


def require_extra() -> None:
    """A one-line error when the optional dependencies of this backend are missing."""
    missing = [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise PipelineError(
            f"translate.backend 'marian' needs {', '.join(missing)}: "
            "pip install -e '.[marian]' (or use backend glossary)"
        )


def folder_fingerprint(folder: Path) -> str:
    """SHA-256 over the names and contents of a model folder's files."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
    return digest.hexdigest()


def locate_model(params: MarianParams) -> tuple[Path, dict]:
    """The folder holding the model files, and what identifies them (for the cache key)."""
    if params.local_path:
        folder = repo_path(params.local_path)
        if not (folder / "config.json").is_file():
            raise PipelineError(
                f"param translate.marian.local_path: {folder}: no model there "
                "(expected a folder written by save_pretrained, with config.json)"
            )
        return folder, {"files": folder_fingerprint(folder)}
    folder = hub_snapshot(params.model, params.revision)
    return folder, {"model": params.model, "commit": folder.name}


def hub_snapshot(model: str, revision: str | None) -> Path:
    """The model's folder in the Hugging Face cache, downloaded first if allowed and possible."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model, revision=revision, local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    reason = "HF_HUB_OFFLINE is set"
    if not constants.HF_HUB_OFFLINE:
        try:
            folder = snapshot_download(
                model, revision=revision, allow_patterns=MODEL_FILES, etag_timeout=HUB_TIMEOUT
            )
            return Path(folder)
        except Exception as error:  # no network, unknown model or revision, ...
            reason = f"downloading it failed ({type(error).__name__}: no network?)"
    raise PipelineError(
        f"translate.marian: model {model} (revision {revision or 'default'}) is not in the "
        f"Hugging Face cache ({constants.HF_HUB_CACHE}) and {reason}; provide the weights: "
        f"run `hf download {model}` where there is internet and copy that cache here, or "
        "save the model with save_pretrained and set translate.marian.local_path to its folder"
    )


class MarianTranslator:
    """The `marian` backend: batched beam search with a MarianMT model and its tokenizer."""

    name = "marian"

    def __init__(self, tokenizer, model, params: MarianParams, source: dict):
        import transformers

        self.tokenizer = tokenizer
        self.model = model
        self.batch_size = params.batch_size
        self.max_length = params.max_length
        self.num_beams = params.num_beams
        self.source = source  # what identifies the weights: a content hash or a hub commit
        self.library = transformers.__version__

    @classmethod
    def load(cls, params: MarianParams, device_choice: str = "auto") -> MarianTranslator:
        """Find the model (local path or hub cache) and load it on the chosen device."""
        require_extra()
        folder, source = locate_model(params)
        device, dtype = choose_device(device_choice)
        from transformers import MarianMTModel, MarianTokenizer

        try:
            with warnings.catch_warnings():  # optional punctuation normaliser, not used
                warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses")
                tokenizer = MarianTokenizer.from_pretrained(folder, local_files_only=True)
            model = MarianMTModel.from_pretrained(folder, local_files_only=True, dtype=dtype)
        except (OSError, ValueError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise PipelineError(f"{folder}: not a MarianMT model ({first_line})") from None
        model = model.to(device).eval()
        where = f"commit {source['commit']}" if "commit" in source else str(folder)
        print(f"translate: marian model {where} on {device.type} ({str(dtype).split('.')[-1]})")
        if "commit" in source and params.revision != source["commit"]:
            print(f"translate: pin it with translate.marian.revision: {source['commit']}")
        return cls(tokenizer, model, params, source)

    def identity(self) -> dict:
        """What determines the translations: weights, decoding, precision and library."""
        return {
            "backend": self.name,
            **self.source,
            "max_length": self.max_length,
            "num_beams": self.num_beams,
            "device": self.model.device.type,
            "dtype": str(self.model.dtype),
            "transformers": self.library,
        }

    def translate(self, texts: Sequence[str]) -> list[str]:
        """English for each German text, in order; each distinct text is translated once."""
        distinct = [text for text in dict.fromkeys(texts) if text.strip()]
        by_length = sorted(distinct, key=len, reverse=True)
        english = {text: "" for text in texts if not text.strip()}
        for start in range(0, len(by_length), self.batch_size):
            batch = by_length[start : start + self.batch_size]
            english.update(zip(batch, self._generate(batch), strict=True))
        return [english[text] for text in texts]

    def _generate(self, batch: list[str]) -> list[str]:
        """One batch through the model."""
        import torch

        inputs = self.tokenizer(
            batch,
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.max_length,
        ).to(self.model.device)
        with torch.inference_mode():
            output = self.model.generate(
                **inputs, num_beams=self.num_beams, max_new_tokens=self.max_length
            )
        return self.tokenizer.batch_decode(output, skip_special_tokens=True)
