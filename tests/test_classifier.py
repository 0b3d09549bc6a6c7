"""MNISTClassifier as a scikit-learn classifier: API, validation, seeding, weights.

The epoch loop (history_, n_iter_, early stopping, callbacks) is tested in
test_training.py."""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import scipy.sparse as sp
from _settings import FAST
from scikeras.wrappers import KerasClassifier
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, check_cv
from sklearn.utils._param_validation import InvalidParameterError

from skmnist import MNISTClassifier, set_resumable_fits


def _fit(X, y, **params):
    return MNISTClassifier(**{**FAST, "random_state": 0, **params}).fit(X, y)


# -- what it is ----------------------------------------------------------------------


def test_is_a_scikeras_classifier_and_a_sklearn_classifier():
    assert issubclass(MNISTClassifier, KerasClassifier)
    assert is_classifier(MNISTClassifier())


def test_grid_search_splits_stratified(blobs):
    X, y = blobs
    cv = check_cv(3, y, classifier=is_classifier(MNISTClassifier()))
    assert isinstance(cv, StratifiedKFold)
    grid = GridSearchCV(
        MNISTClassifier(**FAST, random_state=0), {"hidden_size": [8, 16]}, cv=2
    ).fit(X, y)
    assert grid.best_params_["hidden_size"] in (8, 16)
    assert grid.best_estimator_.hidden_size == grid.best_params_["hidden_size"]


def test_defaults_are_the_reference_model():
    params = MNISTClassifier().get_params()
    assert params == {
        "hidden_size": 512,
        "n_hidden_layers": 2,
        "activation": "relu",
        "dropout": 0.0,
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "epochs": 20,
        "batch_size": 128,
        "validation_split": 0.1,
        "early_stopping": False,
        "patience": 5,
        "shuffle": True,
        "class_weight": None,
        "callbacks": None,
        "warm_start": False,
        "random_state": None,
        "verbose": 0,
        "jit_compile": "auto",
        "steps_per_execution": "auto",
    }


def test_default_network_is_784_512_512_10_with_adam():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 784).astype(np.float32)
    y = np.tile(np.arange(10), 4)
    clf = MNISTClassifier(epochs=1, random_state=0).fit(X, y)
    dense = [
        layer for layer in clf.model_.layers if isinstance(layer, keras.layers.Dense)
    ]
    assert [layer.units for layer in dense] == [512, 512, 10]
    assert [layer.activation.__name__ for layer in dense] == ["relu", "relu", "linear"]
    assert clf.model_.layers[-1].activation.__name__ == "softmax"  # its own layer
    assert clf.model_.count_params() == 669_706
    assert isinstance(clf.model_.optimizer, keras.optimizers.Adam)
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(1e-3)
    assert clf.n_features_in_ == 784 and clf.n_classes_ == 10


def test_widths_come_from_the_data(blobs):
    X, y = blobs
    clf = _fit(X, y, n_hidden_layers=3, dropout=0.2)
    assert clf.model_.input_shape == (None, 8)
    assert clf.model_.output_shape == (None, 3)
    kinds = [type(layer).__name__ for layer in clf.model_.layers[1:]]
    assert kinds == ["Dense", "Dropout"] * 3 + ["Dense", "Activation"]


def test_parameters_are_validated(blobs):
    X, y = blobs
    with pytest.raises(InvalidParameterError, match="hidden_size"):
        MNISTClassifier(hidden_size=0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="validation_split"):
        MNISTClassifier(validation_split=1.0).fit(X, y)
    with pytest.raises(ValueError, match="not a Keras optimizer name"):
        MNISTClassifier(**FAST, optimizer="nope").fit(X, y)


def test_optimizer_by_name_and_instance(blobs):
    X, y = blobs
    clf = _fit(X, y, optimizer="sgd", learning_rate=0.05)
    assert isinstance(clf.model_.optimizer, keras.optimizers.SGD)
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(0.05)
    given = keras.optimizers.RMSprop(learning_rate=0.01)
    clf = _fit(X, y, optimizer=given)
    assert isinstance(clf.model_.optimizer, keras.optimizers.RMSprop)
    assert clf.model_.optimizer is not given  # fits never share optimizer state


# -- labels, predictions, score --------------------------------------------------------


def test_string_labels_round_trip(blobs):
    X, y = blobs
    clf = _fit(X, y, epochs=20)
    assert list(clf.classes_) == ["a", "b", "c"]
    pred = clf.predict(X)
    assert pred.dtype == y.dtype and set(pred) <= {"a", "b", "c"}
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], pred)
    assert accuracy_score(y, pred) > 0.9


def test_integer_and_binary_labels(blobs):
    X, y = blobs
    y_int = np.searchsorted(["a", "b", "c"], y) * 7 + 3  # labels 3, 10, 17
    clf = _fit(X, y_int)
    assert list(clf.classes_) == [3, 10, 17]
    assert set(clf.predict(X)) <= {3, 10, 17}
    binary = y_int != 3
    clf = _fit(X, binary)
    assert list(clf.classes_) == [False, True]
    assert clf.predict_proba(X).shape == (150, 2)


def test_single_sample_predict_proba_is_2d(blobs):
    X, y = blobs
    clf = _fit(X, y)
    assert clf.predict_proba(X[:1]).shape == (1, 3)
    assert clf.predict(X[:1]).shape == (1,)


def test_score_is_accuracy_with_sample_weight(blobs):
    X, y = blobs
    clf = _fit(X, y, epochs=1)
    pred = clf.predict(X)
    weights = np.where(pred == y, 1.0, 5.0)
    assert clf.score(X, y) == pytest.approx(accuracy_score(y, pred))
    assert clf.score(X, y, sample_weight=weights) == pytest.approx(
        accuracy_score(y, pred, sample_weight=weights)
    )


def test_sample_and_class_weight_leave_callers_array_alone(blobs):
    X, y = blobs
    weights = np.ones(len(y))
    _fit(X, y, epochs=1, class_weight="balanced").fit(X, y, sample_weight=weights)
    np.testing.assert_array_equal(weights, np.ones(len(y)))


def test_feature_names_from_dataframe(blobs):
    pd = pytest.importorskip("pandas")
    X, y = blobs
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    clf = _fit(df, y, epochs=1)
    assert list(clf.feature_names_in_) == list(df.columns)
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


# -- errors -------------------------------------------------------------------------


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        MNISTClassifier().predict(np.zeros((2, 4)))
    with pytest.raises(NotFittedError):
        MNISTClassifier().predict_proba(np.zeros((2, 4)))


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.full((10, 3), np.nan), ValueError, "Input X contains NaN"),
        (np.full((10, 3), np.inf), ValueError, "Input X contains infinity"),
        (np.zeros(10), ValueError, "Expected 2D array, got 1D array"),
        (np.zeros((0, 3)), ValueError, "0 sample"),
        (sp.csr_matrix(np.ones((10, 3))), TypeError, "dense data is required"),
        ([["a", "b", "c"]] * 10, ValueError, "Input X contains strings"),
    ],
    ids=["nan", "inf", "1d", "empty", "sparse", "strings"],
)
def test_bad_X_gets_clear_errors(X, error, match):
    y = np.arange(np.shape(X)[0]) % 2
    with pytest.raises(error, match=match):
        MNISTClassifier(**FAST, validation_split=0.0).fit(X, y)


def test_bad_X_at_predict(blobs):
    X, y = blobs
    clf = _fit(X, y, epochs=1)
    with pytest.raises(ValueError, match="X has 7 features, but MNISTClassifier is "):
        clf.predict(X[:, :7])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.predict_proba(np.full((2, 8), np.nan))


def test_bad_y(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="only one class"):
        MNISTClassifier(**FAST).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        MNISTClassifier(**FAST).fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MNISTClassifier(**FAST).fit(X, np.zeros(3))


# -- reproducibility ------------------------------------------------------------------


def test_int_random_state_is_reproducible_in_process(blobs):
    X, y = blobs
    first = _fit(X, y, random_state=7, dropout=0.1).predict_proba(X)
    # Trained again, not resumed from the first fit's end state.
    previous = set_resumable_fits(False)
    try:
        second = _fit(X, y, random_state=7, dropout=0.1).predict_proba(X)
    finally:
        set_resumable_fits(previous)
    third = _fit(X, y, random_state=8, dropout=0.1).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, third)


_FRESH_PROCESS_FIT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from skmnist import MNISTClassifier
    rng = np.random.RandomState(0)
    X = rng.rand(120, 6).astype("float32")
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    clf = MNISTClassifier(hidden_size=16, epochs=3, random_state=42).fit(X, y)
    np.save(sys.argv[1], clf.predict_proba(X))
    """
)


@pytest.mark.slow
def test_int_random_state_is_reproducible_across_processes(tmp_path):
    outputs = []
    for i in range(2):
        out = tmp_path / f"proba{i}.npy"
        subprocess.run([sys.executable, "-c", _FRESH_PROCESS_FIT, str(out)], check=True)
        outputs.append(np.load(out))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_random_state_instances_give_real_seeds(blobs):
    X, y = blobs
    w1 = _fit(
        X, y, epochs=1, random_state=np.random.RandomState(1)
    ).model_.get_weights()
    w2 = _fit(
        X, y, epochs=1, random_state=np.random.RandomState(2)
    ).model_.get_weights()
    set_resumable_fits(False)  # trained again, not resumed from the first
    try:
        w1_again = _fit(
            X, y, epochs=1, random_state=np.random.RandomState(1)
        ).model_.get_weights()
    finally:
        set_resumable_fits(True)
    assert not np.allclose(w1[0], w2[0])
    np.testing.assert_array_equal(w1[0], w1_again[0])


def test_unseeded_fits_differ(blobs):
    X, y = blobs
    w1 = MNISTClassifier(**FAST).fit(X, y).model_.get_weights()[0]
    w2 = MNISTClassifier(**FAST).fit(X, y).model_.get_weights()[0]
    assert not np.allclose(w1, w2)


# -- validation split, early stopping, history --------------------------------------


def test_data_sorted_by_class_still_validates_on_every_class():
    # Sorted by class, as CV folds often are: Keras's own validation_split would
    # hold out the last rows, all of class 3, which training then never sees.
    centers = np.eye(4, 6, dtype=np.float32) * 4
    X = np.repeat(centers, 25, axis=0) + np.random.RandomState(0).normal(
        scale=0.3, size=(100, 6)
    ).astype(np.float32)
    y = np.repeat([0, 1, 2, 3], 25)
    clf = MNISTClassifier(
        hidden_size=16,
        epochs=30,
        batch_size=16,
        validation_split=0.2,
        learning_rate=0.01,
        random_state=0,
    ).fit(X, y)
    assert clf.history_["val_accuracy"][-1] == 1.0


def test_sample_weights_reach_training(blobs):
    X, y = blobs
    weights = np.where(y == "a", 10.0, 0.1)
    weighted = MNISTClassifier(**{**FAST, "epochs": 5}, random_state=0)
    weighted.fit(X, y, sample_weight=weights)
    plain = _fit(X, y, epochs=5)
    assert (weighted.predict(X) == "a").mean() > (plain.predict(X) == "a").mean()
    # validation losses are weighted too: they differ from the unweighted run's
    assert weighted.history_["val_loss"] != plain.history_["val_loss"]


@pytest.mark.parametrize("class_weight", ["balanced", {"a": 3.0, "c": 0.5}])
def test_class_weight_trains_as_compute_sample_weight_gives_it(blobs, class_weight):
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = blobs
    rows = np.flatnonzero((y != "b") | (np.arange(len(y)) % 5 == 0))  # imbalanced
    X, y = X[rows], y[rows]
    own = np.where(y == "a", 2.0, 0.5)  # exact in float32 and float64
    params = dict(FAST, random_state=0, validation_split=0.0)
    ours = MNISTClassifier(**params, class_weight=class_weight)
    ours.fit(X, y, sample_weight=own)
    weights = own * compute_sample_weight(class_weight, y)
    theirs = MNISTClassifier(**params).fit(X, y, sample_weight=weights)
    assert ours.history_ == theirs.history_
    pairs = zip(ours.model_.get_weights(), theirs.model_.get_weights(), strict=True)
    for a, b in pairs:
        np.testing.assert_array_equal(a, b)


def test_rows_of_zero_weight_are_left_out_of_training_and_validation(blobs):
    X, y = blobs
    weights = np.where(np.arange(len(y)) % 4 == 0, 0.0, 1.5)
    kept = weights > 0
    params = dict(FAST, random_state=0)
    with_zeros = MNISTClassifier(**params).fit(X, y, sample_weight=weights)
    without = MNISTClassifier(**params).fit(X[kept], y[kept], weights[kept])
    assert with_zeros.history_ == without.history_
    models = (with_zeros.model_, without.model_)
    pairs = zip(*(m.get_weights() for m in models), strict=True)
    for a, b in pairs:
        np.testing.assert_array_equal(a, b)


def test_too_few_samples_for_the_split(blobs):
    X, y = blobs
    few = np.r_[0:5, 50:55, 100:101]  # 5 + 5 + 1 samples: one class has one sample
    X_few, y_few = X[np.argsort(y)][few], np.sort(y)[few]
    with pytest.raises(ValueError, match=r"validation_split=0.1 needs at least 2"):
        MNISTClassifier(**FAST).fit(X_few, y_few)
    clf = MNISTClassifier(**FAST, validation_split=0.0).fit(X_few, y_few)
    assert "val_loss" not in clf.history_


def test_early_stopping_needs_a_validation_split(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="early_stopping=True needs held-out data"):
        MNISTClassifier(early_stopping=True, validation_split=0.0).fit(X, y)


def test_warm_start_and_partial_fit_continue_training(blobs):
    X, y = blobs
    clf = _fit(X, y, epochs=2, warm_start=True)
    model = clf.model_
    clf.fit(X, y)
    assert clf.model_ is model
    clf.partial_fit(X, y)
    assert clf.model_ is model and clf.n_iter_ == 3
    cold = _fit(X, y, epochs=2)
    first = cold.model_
    cold.fit(X, y)
    assert cold.model_ is not first


def test_warm_started_fit_keeps_the_classes_and_predicts_labels(blobs):
    X, y = blobs
    clf = _fit(X, y, epochs=1, warm_start=True)
    clf.fit(X[y != "c"], y[y != "c"])  # a continued fit on fewer classes
    assert list(clf.classes_) == ["a", "b", "c"] and clf.n_classes_ == 3
    assert set(clf.predict(X)) <= {"a", "b", "c"}
    assert clf.predict_proba(X).shape == (len(X), 3)


def test_partial_fit_from_scratch_with_classes(blobs):
    X, y = blobs
    clf = MNISTClassifier(**FAST, validation_split=0.0, random_state=0)
    first = y != "c"
    clf.partial_fit(X[first], y[first], classes=np.array(["a", "b", "c"]))
    assert list(clf.classes_) == ["a", "b", "c"]
    clf.partial_fit(X, y)
    assert clf.predict_proba(X).shape == (150, 3)


def test_verbose_shows_keras_progress(blobs, capfd):
    X, y = blobs
    _fit(X, y, epochs=1)
    assert "/step" not in capfd.readouterr().out
    _fit(X, y, epochs=1, verbose=1)
    out = capfd.readouterr().out
    assert "/step" in out and "val_accuracy" in out


def test_clone_keeps_parameters_not_fit():
    clf = MNISTClassifier(hidden_size=32, epochs=2, random_state=1)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert repr(copy) == "MNISTClassifier(epochs=2, hidden_size=32, random_state=1)"


# -- persistence -----------------------------------------------------------------


_LOAD_AND_PREDICT = textwrap.dedent(
    """
    import sys
    import joblib
    import numpy as np
    clf = joblib.load(sys.argv[1])
    X = np.load(sys.argv[2])
    np.save(sys.argv[3], clf.predict_proba(X))
    print(type(clf).__name__, clf.classes_.tolist())
    """
)


@pytest.mark.slow
def test_joblib_round_trip_in_a_fresh_process(blobs, tmp_path):
    joblib = pytest.importorskip("joblib")
    X, y = blobs
    clf = _fit(X, y)
    joblib.dump(clf, tmp_path / "clf.joblib")
    np.save(tmp_path / "X.npy", X)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _LOAD_AND_PREDICT,
            str(tmp_path / "clf.joblib"),
            str(tmp_path / "X.npy"),
            str(tmp_path / "proba.npy"),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "MNISTClassifier ['a', 'b', 'c']" in done.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "proba.npy"), clf.predict_proba(X))


# -- speed settings (they must not change the model) ------------------------------


@pytest.mark.parametrize("steps_per_execution", [1, 3, 64, "epoch", "auto"])
def test_steps_per_execution_does_not_change_the_model(blobs, steps_per_execution):
    # The same steps on the same state, and the epoch's sums carried from call to
    # call: the same weights and history to the last bit.
    X, y = blobs  # 135 training rows: 5 batches of 32 (the last of 7) per epoch
    reference = _fit(X, y, steps_per_execution=1)
    clf = _fit(X, y, steps_per_execution=steps_per_execution)
    assert int(clf.model_.optimizer.iterations) == 3 * 5  # no epoch runs over
    np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))
    assert clf.history_ == reference.history_
