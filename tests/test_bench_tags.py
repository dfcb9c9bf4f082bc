"""benchmarks.bench_tags: the attributes each sample item's texts state, replayed."""

import pytest

from benchmarks import bench_tags
from fashion_tagger.data.sources import sample, sample_truth
from fashion_tagger.errors import PipelineError


def test_stated_facts_replay_the_texts_and_refuse_other_texts():
    made = [sample.make_item(5, index, 128, 192) for index in range(6)]
    for item in made:
        record = {"id": item.item_id, "descriptions": item.descriptions}
        attributes = bench_tags.item_attributes(5, item.item_id)
        assert attributes == item.attributes
        stated = bench_tags.stated_facts(5, record, attributes)
        assert stated and stated <= sample_truth.facts(item.attributes)
    record = {"id": made[0].item_id, "descriptions": ["Ein rotes Kleid."] * 5}
    with pytest.raises(PipelineError, match=made[0].item_id):
        bench_tags.stated_facts(5, record, made[0].attributes)


def test_recall_of_stated_attributes_counts_only_what_the_texts_say():
    attributes = bench_tags.item_attributes(5, "s00001")
    facts = sorted(sample_truth.facts(attributes))
    claims = {"tag-a": (facts[0][0], [facts[0][1]]), "tag-b": (facts[1][0], [facts[1][1]])}
    labelled = [{"id": "s00001", "tags": ["tag-a"]}]
    figures = bench_tags.score(labelled, {"s00001": attributes}, claims, {"s00001": set(facts[:2])})
    assert figures["precision"] == 1.0
    assert figures["recall_stated"] == 0.5  # tag-a found, tag-b's fact said but not found
    assert figures["recall"] == round(1 / len(facts), 4)
    assert figures["stated_share"] == round(2 / len(facts), 4)
