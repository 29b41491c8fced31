"""fedkit.experiments.pooled: evaluation over all test writers as one pooled dataset scores as TFF's federated
evaluation does, per writer too, and misses a writer's examples when that writer is left out."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from fedkit import algorithms, data, experiments, models


@pytest.fixture(scope="module")
def setup(emnist):
    """TFF's evaluation, then (built after it) a pooled one, and CNN weights that score well above chance."""
    train, test = emnist
    evaluation = algorithms.build_evaluation("cnn")  # a graph-mode build: Keras models come after it
    pooled = experiments.PooledEvaluation("cnn", test)
    tf.keras.utils.set_random_seed(3)
    model = models.create_keras_model("cnn")
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    batches = [next(iter(d)) for d in data.federated_data(train, train.client_ids[:12], batch_size=1000, seed=0)]
    x, y = (np.concatenate([b[i] for b in batches]) for i in (0, 1))
    model.fit(x, y, batch_size=20, epochs=1, verbose=0)
    weights = tff.learning.models.ModelWeights(
        trainable=[v.numpy() for v in model.trainable_variables], non_trainable=[]
    )
    test_data = [data.preprocess_test(test.create_tf_dataset_for_client(c)) for c in test.client_ids]
    return evaluation, pooled, weights, test, test_data


def test_pooled_evaluation_equals_tffs_federated_evaluation(setup):
    evaluation, pooled, weights, _, test_data = setup
    theirs = experiments.evaluate(evaluation, weights, test_data)
    ours = pooled(weights)
    assert set(ours) == set(theirs) == {"loss", "accuracy"}
    assert 0.3 < theirs["accuracy"] < 1  # trained weights: a comparison that argmax ties cannot pass by chance
    assert ours["accuracy"] == pytest.approx(theirs["accuracy"], abs=1e-5)
    assert ours["loss"] == pytest.approx(theirs["loss"], abs=1e-5)
    # The same through the one-call form, with the weights as the Keras model's list of arrays.
    again = experiments.evaluate_pooled(models.create_keras_model("cnn"), weights.trainable, setup[3])
    assert again == pytest.approx(ours, abs=1e-6)


def test_per_writer_metrics_are_each_writers_own_and_add_up(setup):
    evaluation, pooled, weights, test, test_data = setup
    result = pooled(weights, per_writer=True)
    per_writer = result["per_writer"]
    assert list(per_writer) == list(test.client_ids)
    counts = np.array([w["examples"] for w in per_writer.values()])
    assert counts.sum() == sum(int(y.shape[0]) for d in test_data for _, y in d)
    weighted = lambda key: sum(w[key] * w["examples"] for w in per_writer.values()) / counts.sum()  # noqa: E731
    assert weighted("accuracy") == pytest.approx(result["accuracy"], abs=1e-9)
    assert weighted("loss") == pytest.approx(result["loss"], abs=1e-9)
    largest = int(np.argmax(counts))  # that writer alone through TFF's evaluation
    alone = experiments.evaluate(evaluation, weights, [test_data[largest]])
    assert per_writer[test.client_ids[largest]]["accuracy"] == pytest.approx(alone["accuracy"], abs=1e-5)
    assert per_writer[test.client_ids[largest]]["loss"] == pytest.approx(alone["loss"], abs=1e-5)


def test_batches_across_writers_do_not_change_the_sums(setup):
    _, pooled, weights, test, _ = setup
    small = experiments.PooledEvaluation(pooled.model, test, batch_size=7)
    assert small(weights) == pytest.approx(pooled(weights), abs=1e-6)


def test_a_dropped_writer_changes_the_sums(setup):
    _, pooled, weights, test, _ = setup
    full = pooled.sums(weights)
    dropped = int(np.argmax(full["examples"]))
    kept = [c for i, c in enumerate(test.client_ids) if i != dropped]
    partial = experiments.PooledEvaluation(pooled.model, test, client_ids=kept).sums(weights)
    assert partial["examples"].sum() == full["examples"].sum() - full["examples"][dropped]
    assert partial["correct"].sum() == full["correct"].sum() - full["correct"][dropped]
    assert partial["loss_sum"].sum() == pytest.approx(full["loss_sum"].sum() - full["loss_sum"][dropped], rel=1e-9)
    assert partial["loss_sum"].sum() < full["loss_sum"].sum() - 1.0  # the check above would see a missing writer


def test_no_writers_is_refused(emnist):
    with pytest.raises(ValueError, match="client_ids is empty"):
        experiments.pooled_dataset(emnist[1], client_ids=[])
