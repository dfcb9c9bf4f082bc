"""Benchmark: tags from real German text, against hand annotations.

benchmarks/data/real_text.json holds German sentences from public web pages that describe
dresses, each with the attributes it states (and denies) from a fixed vocabulary in seven
groups (colour, pattern, neckline, sleeves, length, silhouette, detail). This translates every
sentence with the translate backend of params.yaml (`translate`, without its cache) and reads
its tags with the tags method of params.yaml (`tags`), both through the pipeline's own code,
so that a change there shows here. Then it reports per group and overall:
- precision: predicted vocabulary tags that are right (stated, or the broader tag of a stated
  one: blue for dark blue), among all predicted vocabulary tags;
- recall: stated tags predicted, among all stated tags;
- negated tags predicted as present (the worst kind of error);
- the untranslated share of German content words (the translate stage's coverage measure);
- the sentences with the most errors.
Writes benchmarks/results/real_text.json.

Split: each source page falls in "dev" or "heldout" by a hash of its URL (about half each), so
rules are tuned on dev sentences and judged on held-out pages they were not tuned on.
`--split dev|heldout` scores one half; `all` (the default) scores every sentence and adds each
half's overall figures under "splits".

What one sentence's tags are: the vocabulary is the set's annotation vocabulary, not the
corpus statistics of the tags stage (on a few hundred sentences those keep nothing). Method
"phrases": every mention the stage's SentenceReader finds, negated ones turned into their
positive tag as the stage does, resolved to its first term that is a vocabulary phrase or a
single word (tags.resolve, with the vocabulary's phrases as the kept ones). Method "recipe":
every noun and adjective term. Pipeline terms that name a vocabulary tag under another word
are mapped by benchmarks/real_text_terms.tsv; other terms claim nothing.

    python -m benchmarks.bench_real_text [--split all|dev|heldout] [--worst 15]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fashion_tagger.errors import PipelineError
from fashion_tagger.io import read_table, write_json
from fashion_tagger.params import read_params
from fashion_tagger.text import phrases
from fashion_tagger.text.glossary import GlossaryTranslator, Lexicon
from fashion_tagger.text.marian import MarianRuntime
from fashion_tagger.text.tags import (
    TagsParams,
    candidate_terms,
    make_word_normaliser,
    positive_mention,
    resolve,
    tag_items,
)
from fashion_tagger.text.translate import (
    TranslateParams,
    make_translator,
    measure_coverage,
    normalise,
    translate_texts,
)

HERE = Path(__file__).parent
SET_FILE = HERE / "data" / "real_text.json"
TERMS_FILE = HERE / "real_text_terms.tsv"
RESULTS_FILE = HERE / "results" / "real_text.json"
OVERALL = "all"
SPLITS = ("dev", "heldout")


def split_of(source: str) -> str:
    """The half a source page falls in: fixed by the SHA-256 of its URL, so every sentence of
    one page lands in the same half."""
    return SPLITS[hashlib.sha256(source.encode("utf-8")).digest()[0] % 2]


@dataclass(frozen=True)
class Vocabulary:
    """The annotation vocabulary: each tag's group and broader tag, and pipeline aliases."""

    group_of: dict[str, str]
    broader: dict[str, str]
    aliases: dict[str, str]

    def claim(self, term: str) -> str | None:
        """The vocabulary tag a pipeline term names, or None; a hyphen and a space are the same
        spelling (midnight-blue, midnight blue)."""
        for spelling in dict.fromkeys((term, term.replace("-", " "))):
            spelling = self.aliases.get(spelling, spelling)
            if spelling in self.group_of:
                return spelling
        return None

    def phrases(self) -> set[str]:
        """Multi-word terms that name a tag: the phrases a mention may resolve to."""
        return {term for term in [*self.group_of, *self.aliases] if " " in term}


def load_set(path: Path = SET_FILE, terms: Path = TERMS_FILE) -> tuple[Vocabulary, list[dict]]:
    """The vocabulary and the annotated sentences; an unknown tag is a one-line error."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    group_of = {tag: group for group, tags in data["groups"].items() for tag in tags}
    aliases = dict(read_table(Path(terms), 2))
    checks = {
        "broader": [*data["broader"], *data["broader"].values()],
        str(terms): aliases.values(),
    }
    for where, tags in checks.items():
        unknown = sorted(set(tags) - set(group_of))
        if unknown:
            raise PipelineError(f"{path}: {where}: tags not in the vocabulary: {unknown}")
    sentences = data["sentences"]
    for number, sentence in enumerate(sentences, start=1):
        unknown = sorted({*sentence["stated"], *sentence["negated"]} - set(group_of))
        if unknown or not sentence["text"].strip() or not sentence["source"].startswith("http"):
            raise PipelineError(
                f"{path}: sentence {number}: needs text, an http(s) source and vocabulary tags "
                f"(unknown: {unknown})"
            )
    return Vocabulary(group_of, data["broader"], aliases), sentences


def translate_sentences(
    texts: Sequence[str], params: TranslateParams, device: str = "auto"
) -> tuple[list[str], list[float]]:
    """English for each text by the params' backend (no cache), and each text's German
    content words and those left untranslated, as (content, untranslated) pairs."""
    lexicon = Lexicon.load()
    translator = make_translator(params, lexicon, device)
    glossary = (
        translator if isinstance(translator, GlossaryTranslator) else GlossaryTranslator(lexicon)
    )
    texts = [normalise(text) for text in texts]
    english = translate_texts(texts, translator)
    counts = []
    for text in texts:
        coverage = measure_coverage([text], english, glossary)
        counts.append((coverage.content_tokens, sum(coverage.untranslated.values())))
    return [english[text] for text in texts], counts


def untranslated_share(counts: Sequence[tuple[int, int]]) -> float:
    """Untranslated German content words among all of them, over (content, untranslated)."""
    content = sum(c for c, _ in counts)
    return round(sum(u for _, u in counts) / content, 4) if content else 0.0


def sentence_terms(
    english: Sequence[str], params: TagsParams, vocabulary: Vocabulary
) -> list[list[str]]:
    """The pipeline's terms of each English text, by the params' method (see the docstring)."""
    tagged = [sentences[0] for sentences in tag_items([[text] for text in english], None, False)]
    if params.method == "recipe":
        return [[term for term, _ in candidate_terms(t, params.lemmatize)] for t in tagged]
    carriers = frozenset(params.phrases.carriers) | frozenset(params.phrases.generic_words)
    reader = phrases.SentenceReader(carriers, make_word_normaliser(params.lemmatize))
    kept = vocabulary.phrases()
    terms = []
    for sentence in tagged:
        found = []
        for mention in reader.read(sentence):
            if mention.negated:
                mention = positive_mention(mention)
            if mention is not None:
                found.extend(resolve(mention, kept))
        terms.append(found)
    return terms


def score(
    predicted: Sequence[set[str]], sentences: Sequence[dict], vocabulary: Vocabulary
) -> dict[str, dict]:
    """Per group and overall: predicted, right, stated, found, precision, recall and negated
    tags predicted as present."""
    counts: dict[str, Counter] = {
        group: Counter() for group in [*dict.fromkeys(vocabulary.group_of.values()), OVERALL]
    }
    for tags, sentence in zip(predicted, sentences, strict=True):
        stated = set(sentence["stated"])
        right = stated | {vocabulary.broader[tag] for tag in stated if tag in vocabulary.broader}
        for tag in tags:
            for group in (vocabulary.group_of[tag], OVERALL):
                counts[group]["predicted"] += 1
                counts[group]["right"] += tag in right
                counts[group]["negated_predicted"] += tag in sentence["negated"]
        for tag in stated:
            for group in (vocabulary.group_of[tag], OVERALL):
                counts[group]["stated"] += 1
                counts[group]["found"] += tag in tags
    return {
        group: {
            "predicted": c["predicted"],
            "right": c["right"],
            "stated": c["stated"],
            "found": c["found"],
            "precision": round(c["right"] / c["predicted"], 4) if c["predicted"] else None,
            "recall": round(c["found"] / c["stated"], 4) if c["stated"] else None,
            "negated_predicted": c["negated_predicted"],
        }
        for group, c in counts.items()
    }


def sentence_errors(tags: set[str], sentence: dict, vocabulary: Vocabulary) -> dict:
    """What one sentence got wrong: tags predicted wrongly and stated tags missed."""
    stated = set(sentence["stated"])
    right = stated | {vocabulary.broader[tag] for tag in stated if tag in vocabulary.broader}
    return {"wrong": sorted(tags - right), "missed": sorted(stated - tags)}


def run(
    set_path: Path = SET_FILE,
    terms_path: Path = TERMS_FILE,
    translate: TranslateParams | None = None,
    tags: TagsParams | None = None,
    device: str = "auto",
    worst: int = 15,
    split: str = OVERALL,
) -> dict:
    """Translate and tag the set (or one split of it) with the given (default: params.yaml)
    params; the results."""
    vocabulary, sentences = load_set(set_path, terms_path)
    if split != OVERALL:
        sentences = [s for s in sentences if split_of(s["source"]) == split]
    translate = translate or read_params("translate", TranslateParams)
    translate = translate.model_copy(update={"cache_dir": None})
    tags = tags or read_params("tags", TagsParams)
    english, counts = translate_sentences([s["text"] for s in sentences], translate, device)
    terms = sentence_terms(english, tags, vocabulary)
    predicted = [{tag for term in found if (tag := vocabulary.claim(term))} for found in terms]
    rows = []
    for sentence, text, tag_set in zip(sentences, english, predicted, strict=True):
        errors = sentence_errors(tag_set, sentence, vocabulary)
        rows.append(
            {
                "text": sentence["text"],
                "english": text,
                "tags": sorted(tag_set),
                "stated": sentence["stated"],
                **errors,
            }
        )
    rows.sort(key=lambda row: -(len(row["wrong"]) + len(row["missed"])))
    halves = {}
    if split == OVERALL:
        for half in SPLITS:
            chosen = [i for i, s in enumerate(sentences) if split_of(s["source"]) == half]
            overall = score(
                [predicted[i] for i in chosen], [sentences[i] for i in chosen], vocabulary
            )
            halves[half] = {
                "sentences": len(chosen),
                "untranslated_share": untranslated_share([counts[i] for i in chosen]),
                **overall[OVERALL],
            }
    return {
        "set": {
            "sentences": len(sentences),
            "sources": len({s["source"] for s in sentences}),
            "stated": sum(len(s["stated"]) for s in sentences),
            "negated": sum(len(s["negated"]) for s in sentences),
        },
        "split": split,
        "translate_backend": translate.backend,
        "tags_method": tags.method,
        "untranslated_share": untranslated_share(counts),
        "groups": score(predicted, sentences, vocabulary),
        "splits": halves,
        "worst": rows[:worst],
    }


def report(results: dict) -> str:
    """The results as text: a table of groups, then the worst sentences."""
    size = results["set"]
    lines = [
        f"{size['sentences']} sentences from {size['sources']} pages, {size['stated']} stated "
        f"attributes; translate {results['translate_backend']}, tags "
        f"{results['tags_method']}; untranslated German content words "
        f"{results['untranslated_share']:.1%}; split {results['split']}",
        f"{'group':<11} {'precision':>9} {'recall':>7} {'predicted':>9} {'stated':>7} "
        f"{'negated+':>8}",
    ]
    for group, row in results["groups"].items():
        precision = "-" if row["precision"] is None else f"{row['precision']:.3f}"
        recall = "-" if row["recall"] is None else f"{row['recall']:.3f}"
        lines.append(
            f"{group:<11} {precision:>9} {recall:>7} {row['predicted']:>9} {row['stated']:>7} "
            f"{row['negated_predicted']:>8}"
        )
    for half, row in results["splits"].items():
        lines.append(
            f"{half:<11} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['predicted']:>9} "
            f"{row['stated']:>7} {row['negated_predicted']:>8}  "
            f"({row['sentences']} sentences, untranslated {row['untranslated_share']:.1%})"
        )
    lines.append("worst sentences (wrong + missed):")
    for row in results["worst"]:
        lines += [
            f"- {row['text']}",
            f"  {row['english']}",
            f"  tags {row['tags']}  wrong {row['wrong']}  missed {row['missed']}",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=SET_FILE, help="annotated sentences")
    parser.add_argument("--terms", type=Path, default=TERMS_FILE, help="pipeline term aliases")
    parser.add_argument("--worst", type=int, default=15, help="sentences listed")
    parser.add_argument(
        "--split", choices=[OVERALL, *SPLITS], default=OVERALL, help="sentences scored"
    )
    parser.add_argument(
        "--output", type=Path, help=f"results file (default {RESULTS_FILE} for --split all)"
    )
    args = parser.parse_args()
    device = read_params("runtime.translate", MarianRuntime).device
    results = run(args.set, args.terms, device=device, worst=args.worst, split=args.split)
    print(report(results))
    output = args.output or (RESULTS_FILE if args.split == OVERALL else None)
    if output:
        write_json(output, results)
        print(f"-> {output}")


if __name__ == "__main__":
    main()
