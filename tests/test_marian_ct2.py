"""Tests of the `marian` backend's CTranslate2 engine with a tiny model built and converted in
the test, offline."""

import pytest

pytest.importorskip("transformers")
pytest.importorskip("sentencepiece")
pytest.importorskip("ctranslate2")


from fashion_tagger.errors import PipelineError  # noqa: E402
from fashion_tagger.text import marian_ct2  # noqa: E402
from fashion_tagger.text.glossary import Lexicon  # noqa: E402
from fashion_tagger.text.marian import MarianParams, MarianTranslator  # noqa: E402
from fashion_tagger.text.marian_ct2 import CTranslate2Marian  # noqa: E402
from fashion_tagger.text.translate import TranslateParams, make_translator  # noqa: E402
from tests.test_marian import TEXTS  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def converted_dir(tmp_path, monkeypatch):
    """Conversions go to a folder of the test."""
    folder = tmp_path / "converted"
    monkeypatch.setattr(marian_ct2, "CONVERTED_DIR", str(folder))
    return folder


def params(tiny_marian_dir, **overrides) -> MarianParams:
    settings = dict(local_path=str(tiny_marian_dir), batch_size=3, max_length=12, num_beams=2)
    return MarianParams(**{**settings, **overrides})


def test_float32_matches_the_transformers_engine(tiny_marian_dir, converted_dir):
    """The converted model in full precision translates exactly as PyTorch does."""
    reference = MarianTranslator.load(params(tiny_marian_dir, engine="transformers"), "cpu")
    converted = CTranslate2Marian.load(params(tiny_marian_dir), "cpu", compute_type="float32")
    expected = reference.translate(TEXTS)
    assert converted.translate(TEXTS) == expected
    assert len(set(expected)) > 1  # the tiny model tells its inputs apart


def test_int8_on_the_cpu_by_default_and_converted_once(tiny_marian_dir, converted_dir, monkeypatch):
    first = CTranslate2Marian.load(params(tiny_marian_dir), "cpu")
    assert first.translator.compute_type.startswith("int8") and first.translator.device == "cpu"
    [model] = [path for path in converted_dir.iterdir()]
    assert (model / "model.bin").is_file() and not list(converted_dir.glob(".converting-*"))
    english = first.translate(TEXTS)
    assert len(english) == len(TEXTS) and all(isinstance(text, str) for text in english)
    assert first.translate(list(reversed(TEXTS))) == list(reversed(english))

    def no_second_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr("ctranslate2.converters.TransformersConverter", no_second_conversion)
    again = CTranslate2Marian.load(params(tiny_marian_dir), "cpu")
    assert again.translate(TEXTS) == english


def test_identity_names_engine_and_precision(tiny_marian_dir, converted_dir):
    identity = CTranslate2Marian.load(params(tiny_marian_dir), "cpu").identity()
    assert identity["engine"] == "ctranslate2" and identity["compute_type"].startswith("int8")
    assert identity["backend"] == "marian" and len(identity["files"]) == 64
    reference = MarianTranslator.load(params(tiny_marian_dir, engine="transformers"), "cpu")
    assert identity != reference.identity()  # separate translation caches


def test_the_engine_param_chooses_the_translator(tiny_marian_dir, converted_dir):
    lexicon = Lexicon.load()
    for engine, kind in [("ctranslate2", CTranslate2Marian), ("transformers", MarianTranslator)]:
        settings = TranslateParams(backend="marian", marian=params(tiny_marian_dir, engine=engine))
        assert type(make_translator(settings, lexicon, "cpu")) is kind


def test_a_model_it_cannot_convert_is_a_one_line_error(tiny_marian_dir, tmp_path, converted_dir):
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in tiny_marian_dir.iterdir():
        if path.name != "model.safetensors":
            (broken / path.name).write_bytes(path.read_bytes())
    with pytest.raises(PipelineError, match=r"broken: CTranslate2 cannot convert this model"):
        CTranslate2Marian.load(params(broken), "cpu")
    assert not list(converted_dir.glob("*/model.bin"))


@pytest.mark.gpu
def test_float16_on_cuda(tiny_marian_dir, converted_dir):
    on_cuda = CTranslate2Marian.load(params(tiny_marian_dir), "cuda")
    assert on_cuda.translator.device == "cuda" and on_cuda.translator.compute_type == "float16"
    english = on_cuda.translate(TEXTS)
    assert len(english) == len(TEXTS) and all(isinstance(text, str) for text in english)
