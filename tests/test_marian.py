"""Tests of the `marian` backend (stages.marian) with a tiny model built in the test, offline."""

import importlib.util
import json
import shutil

import pytest

pytest.importorskip("transformers")
pytest.importorskip("sentencepiece")

import torch  # noqa: E402
from huggingface_hub import constants  # noqa: E402

from fashion_tagger import paths  # noqa: E402
from fashion_tagger.errors import PipelineError
from fashion_tagger.text.glossary import GlossaryTranslator  # noqa: E402
from fashion_tagger.text.marian import MarianParams, MarianTranslator, choose_device  # noqa: E402
from fashion_tagger.text.translate import translate_items  # noqa: E402
from fashion_tagger.text.translation_cache import TranslationCache  # noqa: E402
from stages import translate  # noqa: E402
from tests.test_translate import make_stage_folder  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEXTS = [
    "Ein rotes Kleid.",
    "Das Kleid ist knielang und hat lange Ärmel.",
    "Blau",
    "Ein luftiges Sommerkleid aus Baumwolle mit Blumenmuster und Knopfleiste.",
    "Grün und gelb",
    "Ein Kleid mit V-Ausschnitt",
    "Schwarz, weiß und grau, tailliert.",
]


def tiny_params(tiny_marian_dir, **overrides) -> MarianParams:
    settings = dict(local_path=str(tiny_marian_dir), batch_size=3, max_length=12, num_beams=2)
    return MarianParams(**{**settings, **overrides})


@pytest.fixture(scope="module")
def translator(tiny_marian_dir):
    return MarianTranslator.load(tiny_params(tiny_marian_dir), "cpu")


@pytest.fixture
def batches(translator, monkeypatch) -> list[list[str]]:
    """The batches the model is run on, recorded."""
    recorded: list[list[str]] = []
    generate = translator._generate

    def spy(batch):
        recorded.append(list(batch))
        return generate(batch)

    monkeypatch.setattr(translator, "_generate", spy)
    return recorded


def test_batches_are_sorted_by_length_and_hold_batch_size_texts(translator, batches):
    translator.translate(TEXTS)
    assert [len(batch) for batch in batches] == [3, 3, 1]
    assert [text for batch in batches for text in batch] == sorted(TEXTS, key=len, reverse=True)


def test_order_is_kept_and_batching_does_not_change_results(translator):
    together = translator.translate(TEXTS)
    assert len(set(together)) > 1  # distinct outputs, so that a mix-up would show
    assert together == [translator.translate([text])[0] for text in TEXTS]
    assert translator.translate(TEXTS[::-1]) == together[::-1]


def test_identical_texts_are_translated_once(translator, batches):
    english = translator.translate([TEXTS[0], TEXTS[1], TEXTS[0], "", TEXTS[1], TEXTS[0]])
    assert sum(len(batch) for batch in batches) == 2
    assert english[0] == english[2] == english[5] and english[1] == english[4]
    assert english[3] == ""


def test_cache_gives_the_fresh_results_without_running_the_model(translator, batches, tmp_path):
    items = [
        {"id": f"i{n}", "image": "a.jpg", "url": "u", "descriptions": TEXTS[n : n + 3]}
        for n in range(5)
    ]
    glossary = GlossaryTranslator.load()
    fresh = translate_items(items, translator, glossary)
    with TranslationCache(tmp_path, translator.identity()) as cache:
        assert translate_items(items, translator, glossary, cache) == fresh
    batches.clear()
    with TranslationCache(tmp_path, translator.identity()) as cache:
        assert translate_items(items, translator, glossary, cache) == fresh
        assert len(cache) == len(TEXTS)
    assert batches == []


def test_identity_names_the_weights_decoding_and_precision(translator, tiny_marian_dir):
    identity = translator.identity()
    assert identity["backend"] == "marian" and len(identity["files"]) == 64
    assert (identity["device"], identity["dtype"]) == ("cpu", "torch.float32")
    assert (identity["num_beams"], identity["max_length"]) == (2, 12)
    other = MarianTranslator.load(tiny_params(tiny_marian_dir, num_beams=1), "cpu").identity()
    assert other != identity and other["files"] == identity["files"]


def test_device_choice(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_device("auto") == (torch.device("cuda"), torch.float16)
    assert choose_device("cuda") == (torch.device("cuda"), torch.float16)
    assert choose_device("cpu") == (torch.device("cpu"), torch.float32)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device("auto") == (torch.device("cpu"), torch.float32)
    with pytest.raises(PipelineError, match=r"param runtime\.translate\.device: 'cuda'"):
        choose_device("cuda")


def test_missing_local_model_is_a_one_line_error(tmp_path):
    with pytest.raises(PipelineError, match=r"param translate\.marian\.local_path: .*no model"):
        MarianTranslator.load(MarianParams(local_path=str(tmp_path / "nothing")))


def test_model_missing_offline_says_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PipelineError) as error:
        MarianTranslator.load(MarianParams(), "cpu")
    message = str(error.value)
    assert "\n" not in message
    assert "Helsinki-NLP/opus-mt-de-en" in message and "HF_HUB_OFFLINE is set" in message
    assert "hf download" in message and "translate.marian.local_path" in message


def test_model_from_a_prefilled_hub_cache_is_identified_by_its_commit(
    tmp_path, monkeypatch, tiny_marian_dir
):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--example--tiny-de-en"
    shutil.copytree(tiny_marian_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    params = MarianParams(model="example/tiny-de-en", revision="main", num_beams=1)
    loaded = MarianTranslator.load(params, "cpu")
    assert loaded.identity()["commit"] == commit
    assert loaded.identity()["model"] == "example/tiny-de-en"


def test_missing_extra_is_a_one_line_error(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "sentencepiece" else find_spec(name, *args),
    )
    with pytest.raises(PipelineError, match=r"needs sentencepiece: pip install -e '\.\[marian\]'"):
        MarianTranslator.load(MarianParams())


@pytest.mark.parametrize("engine", ["transformers", "ctranslate2"])
def test_stage_with_the_marian_backend(tmp_path, monkeypatch, tiny_marian_dir, engine):
    if engine == "ctranslate2":
        pytest.importorskip("ctranslate2")
    params = (
        f"backend: marian\ncache_dir: cache\nmarian:\n  engine: {engine}\n"
        f"  local_path: {tiny_marian_dir}\n  batch_size: 2\n  max_length: 10\n  num_beams: 1"
    )
    make_stage_folder(tmp_path, (TEXTS[:3], TEXTS[3:]), params)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    translate.main()
    outputs = [paths.TRANSLATED_FILE, paths.TRANSLATE_METRICS_FILE, paths.UNTRANSLATED_FILE]
    first = [path.read_bytes() for path in outputs]
    items = json.loads(paths.TRANSLATED_FILE.read_text(encoding="utf-8"))
    assert [len(item["english"]) for item in items] == [3, 4]
    metrics = json.loads(paths.TRANSLATE_METRICS_FILE.read_text(encoding="utf-8"))
    assert metrics["backend"] == "marian" and metrics["descriptions"] == len(TEXTS)
    assert len(list((tmp_path / "cache").glob("marian-*.sqlite"))) == 1
    translate.main()  # from the cache now
    assert [path.read_bytes() for path in outputs] == first


@pytest.mark.gpu
def test_half_precision_on_cuda(tiny_marian_dir):
    on_cuda = MarianTranslator.load(tiny_params(tiny_marian_dir), "cuda")
    assert on_cuda.model.dtype == torch.float16 and on_cuda.model.device.type == "cuda"
    english = on_cuda.translate(TEXTS)
    assert len(english) == len(TEXTS) and all(isinstance(text, str) for text in english)
    assert on_cuda.identity()["dtype"] == "torch.float16"
