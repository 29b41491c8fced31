"""The three splits of `fedkit.data.partition`: same examples, same sizes, and the skew each promises."""

import numpy as np
import pytest

from fedkit.data import partition

LABELS = np.repeat(np.arange(10), 30)  # 300 examples, 30 of each label
SIZES = [5, 10, 15] * 10  # 30 clients holding the 300 examples, each smaller than a label's 30


def _all_rows(split):
    return np.sort(np.concatenate(list(split.values())))


def test_by_writer_keeps_each_owners_rows():
    split = partition.by_writer(["b", "a", "b", "c"])
    assert list(split) == ["a", "b", "c"]
    assert split["b"].tolist() == [0, 2]


@pytest.mark.parametrize(
    "make", [lambda s: partition.iid(300, SIZES, s), lambda s: partition.by_label(LABELS, SIZES, s)]
)
def test_splits_deal_every_example_once_into_the_given_sizes(make):
    split = make(0)
    assert _all_rows(split).tolist() == list(range(300))
    assert sorted(len(rows) for rows in split.values()) == sorted(SIZES)
    assert all(np.array_equal(a, b) for a, b in zip(make(0).values(), split.values(), strict=True))  # seeded


def test_by_label_gives_each_client_one_or_two_labels():
    held = (partition.label_counts(partition.by_label(LABELS, SIZES, 3), LABELS) > 0).sum(axis=1)
    assert held.min() >= 1 and held.max() <= 2


def test_iid_mixes_labels():
    held = (partition.label_counts(partition.iid(300, SIZES, 0), LABELS) > 0).sum(axis=1)
    assert np.median(held) >= 5


def test_sizes_that_do_not_add_up_are_refused():
    with pytest.raises(ValueError, match="sum to the 300 examples"):
        partition.iid(300, [100, 100], 0)


def test_non_iid_experiment_declares_seeds_and_settings():
    import json

    from fedkit.experiments import reproduce

    module = reproduce.load("non-iid")
    assert len(module.SEEDS) >= 3 and module.HELP
    settings = json.loads(json.dumps(module.settings()))
    assert {c["split"] for c in settings["configs"].values()} == {"writer", "iid", "label"}
