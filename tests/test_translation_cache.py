"""Tests of the translation cache (stages.translation_cache) and its use by the translate stage."""

import json
import multiprocessing
import sqlite3

import pytest
import yaml

from fashion_tagger import paths
from fashion_tagger.paths import repo_path
from fashion_tagger.text import translate as translation
from fashion_tagger.text.glossary import GlossaryTranslator, Lexicon
from fashion_tagger.text.translate import TranslateParams, translate_items, translate_texts
from fashion_tagger.text.translation_cache import TranslationCache, identity_key
from stages import translate
from tests.test_translate import REPO, make_stage_folder

IDENTITY = {"backend": "glossary", "version": 1, "lexicon": "abc", "ding": None}


@pytest.fixture(scope="module")
def glossary() -> GlossaryTranslator:
    return GlossaryTranslator.load()


class Counting:
    """A backend that records the texts it is asked to translate."""

    name, batch_size = "counting", 3

    def __init__(self, inner):
        self.inner = inner
        self.texts: list[str] = []

    def translate(self, texts):
        self.texts.extend(texts)
        return self.inner.translate(texts)

    def identity(self):
        return self.inner.identity()


def dresses(count: int, start: int = 0) -> list[dict]:
    """Items with distinct descriptions (numbers keep them apart)."""
    return [
        {
            "id": f"i{n:03d}",
            "image": f"images/i{n}.jpg",
            "url": "u",
            "descriptions": [f"Ein rotes Kleid Nummer {n}.", f"Kleid {n} mit langen Ärmeln"],
        }
        for n in range(start, start + count)
    ]


def test_entries_round_trip_and_persist(tmp_path):
    with TranslationCache(tmp_path, IDENTITY) as cache:
        cache.put({"Kleid": "dress", "Rock": "skirt"})
    with TranslationCache(tmp_path, IDENTITY) as cache:
        assert cache.get(["Rock", "Kleid", "Bluse"]) == {"Kleid": "dress", "Rock": "skirt"}
        assert len(cache) == 2
        assert cache.path.name == f"glossary-{identity_key(IDENTITY)}.sqlite"


def test_different_identities_use_different_files(tmp_path):
    other = {**IDENTITY, "lexicon": "abd"}
    with TranslationCache(tmp_path, IDENTITY) as first, TranslationCache(tmp_path, other) as second:
        first.put({"Kleid": "dress"})
        assert second.get(["Kleid"]) == {}
        assert first.path != second.path


def test_identity_follows_lexicon_content_and_code_version(tmp_path, glossary):
    path = tmp_path / "lexicon.tsv"
    path.write_text("german\tenglish\tpos\nKleid\tdress\tnoun\n", encoding="utf-8")
    first = GlossaryTranslator(Lexicon.load(path)).identity()
    path.write_text("german\tenglish\tpos\n# a comment\nKleid\tdress\tnoun\n", encoding="utf-8")
    assert GlossaryTranslator(Lexicon.load(path)).identity() == first  # same entries
    path.write_text("german\tenglish\tpos\nKleid\tgown\tnoun\n", encoding="utf-8")
    assert GlossaryTranslator(Lexicon.load(path)).identity() != first
    assert set(first) == {"backend", "version", "lexicon", "participles", "ding"}


def test_corrupt_entry_is_detected_and_redone(tmp_path, glossary):
    texts = ["Ein rotes Kleid", "Ein blauer Rock"]
    with TranslationCache(tmp_path, glossary.identity()) as cache:
        fresh = translate_texts(texts, glossary, cache)
    with sqlite3.connect(cache.path) as connection:
        connection.execute(
            "UPDATE translations SET english = 'A green dress' WHERE source = 'Ein rotes Kleid'"
        )
    counting = Counting(glossary)
    with TranslationCache(tmp_path, glossary.identity()) as cache:
        assert translate_texts(texts, counting, cache) == fresh
        assert cache.rejected == 1
    assert counting.texts == ["Ein rotes Kleid"]
    with TranslationCache(tmp_path, glossary.identity()) as cache:  # repaired on disk
        assert cache.get(texts) == fresh and cache.rejected == 0


def test_damaged_file_is_set_aside_and_replaced(tmp_path, capsys):
    with TranslationCache(tmp_path, IDENTITY) as cache:
        path = cache.path
    path.write_bytes(b"this is not a database" * 100)
    with TranslationCache(tmp_path, IDENTITY) as cache:
        assert cache.get(["Kleid"]) == {}
        cache.put({"Kleid": "dress"})
    assert path.with_name(path.name + ".corrupt").exists()
    assert "starting afresh" in capsys.readouterr().err


def test_cached_results_are_identical_to_fresh_ones(tmp_path, glossary):
    items = dresses(20)
    fresh, fresh_coverage = translate_items(items, GlossaryTranslator.load(), glossary)
    with TranslationCache(tmp_path, glossary.identity()) as cache:
        translate_items(items, GlossaryTranslator.load(), glossary, cache)
    counting = Counting(GlossaryTranslator.load())
    with TranslationCache(tmp_path, glossary.identity()) as cache:
        cached, cached_coverage = translate_items(items, counting, glossary, cache)
    assert counting.texts == []
    assert cached == fresh
    assert cached_coverage == fresh_coverage


def test_rerun_after_adding_ten_items_translates_only_those(tmp_path, monkeypatch):
    counting = Counting(GlossaryTranslator.load())
    monkeypatch.setitem(translation.BACKENDS, "glossary", lambda params, lexicon, device: counting)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)

    def run(items):
        make_stage_folder(tmp_path, params="backend: glossary\ncache_dir: data/cache/translate")
        (tmp_path / "data/raw/items.json").write_text(json.dumps(items), encoding="utf-8")
        counting.texts.clear()
        translate.main()
        return json.loads(paths.TRANSLATED_FILE.read_text(encoding="utf-8"))

    first = run(dresses(30))
    assert len(counting.texts) == 60
    second = run(dresses(40))
    assert sorted(counting.texts) == sorted(
        t for item in dresses(10, 30) for t in item["descriptions"]
    )
    assert second[:30] == first
    assert len(list((tmp_path / "data/cache/translate").glob("*.sqlite"))) == 1


def test_relative_cache_dir_is_resolved_against_dvc_root(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "repo"))
    assert repo_path("data/cache/translate") == tmp_path / "repo/data/cache/translate"
    assert repo_path(tmp_path / "elsewhere") == tmp_path / "elsewhere"
    with TranslationCache("data/cache/translate", IDENTITY) as cache:
        assert cache.path.parent == tmp_path / "repo/data/cache/translate"


def write_many(folder: str, worker: int) -> None:
    """One of two concurrent writers: 30 one-entry transactions."""
    with TranslationCache(folder, IDENTITY) as cache:
        for n in range(30):
            cache.put({f"text {worker} {n}": f"english {worker} {n}"})


def test_concurrent_writers_do_not_corrupt_the_cache(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=write_many, args=(str(tmp_path), w)) for w in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    with TranslationCache(tmp_path, IDENTITY) as cache:
        sources = [f"text {w} {n}" for w in (1, 2) for n in range(30)]
        assert len(cache.get(sources)) == 60 and cache.rejected == 0


def test_the_translate_stage_declares_its_whole_params_section():
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]["translate"]
    assert stage["params"] == ["translate"]
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))["translate"]
    assert set(params) == set(TranslateParams.model_fields)
    assert "fashion_tagger/text/translation_cache.py" in stage["deps"]
    assert "fashion_tagger/text/marian.py" in stage["deps"]


KILLED_TRANSLATION_WRITE = """
import os, signal, sys
from fashion_tagger.text.translation_cache import TranslationCache, _transaction
cache = TranslationCache(sys.argv[1], {"backend": "glossary"})
cache.put({"rotes Kleid": "red dress"})
with _transaction(cache._connection):
    cache._connection.executemany(
        "INSERT INTO translations VALUES (?, ?, ?)",
        [(f"Satz {n}", f"sentence {n}", "x") for n in range(5000)],
    )
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_translation_write_leaves_nothing_after_the_next_run(tmp_path):
    """SQLite's journal is the only temporary: never deleted by hand (a hot journal is needed to
    roll back), it is rolled back or ignored on open and removed by the next run's first write."""
    import signal
    import subprocess
    import sys

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_TRANSLATION_WRITE, str(tmp_path)],
        cwd=REPO,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    assert any(path.name.endswith("-journal") for path in tmp_path.iterdir())
    with TranslationCache(tmp_path, {"backend": "glossary"}) as cache:
        assert len(cache) == 1 and cache.get(["rotes Kleid"]) == {"rotes Kleid": "red dress"}
        cache.put({"Satz 1": "sentence 1"})  # the killed run's work, done again
    assert [path.suffix for path in tmp_path.iterdir()] == [".sqlite"]
