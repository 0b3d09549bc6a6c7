"""make_mnist_pipeline and the workflows users named: fit, grid search, joblib."""

import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from sklearn.base import is_classifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, check_cv
from sklearn.pipeline import Pipeline

from skmnist import (
    FlattenScaler,
    MNISTClassifier,
    load_mnist_sample,
    make_mnist_pipeline,
)


def test_pipeline_steps_and_parameters():
    pipe = make_mnist_pipeline(hidden_size=64, epochs=3)
    assert isinstance(pipe, Pipeline)
    assert list(pipe.named_steps) == ["flatten", "mlp"]
    assert isinstance(pipe.named_steps["flatten"], FlattenScaler)
    assert isinstance(pipe.named_steps["mlp"], MNISTClassifier)
    params = pipe.get_params()
    assert params["mlp__hidden_size"] == 64 and params["mlp__epochs"] == 3
    assert make_mnist_pipeline().named_steps["mlp"].get_params() == (
        MNISTClassifier().get_params()
    )
    assert is_classifier(pipe)


def test_pipeline_fits_raw_uint8_images():
    X, y = load_mnist_sample(return_X_y=True)
    X_test, y_test = load_mnist_sample(subset="test", return_X_y=True)
    assert X.dtype == np.uint8 and X.shape[1:] == (28, 28)
    pipe = make_mnist_pipeline(hidden_size=64, epochs=5, random_state=0).fit(X, y)
    assert pipe.named_steps["mlp"].n_features_in_ == 784
    proba = pipe.predict_proba(X_test)
    assert proba.shape == (500, 10)
    assert accuracy_score(y_test, pipe.predict(X_test)) > 0.8


@pytest.mark.slow
def test_grid_search_is_stratified_and_saves(tmp_path):
    X, y = load_mnist_sample(return_X_y=True)
    X, y = X[:600], y[:600]
    fold_counts = []

    def recording_accuracy(estimator, X_fold, y_fold):
        fold_counts.append(np.bincount(y_fold, minlength=10))
        return accuracy_score(y_fold, estimator.predict(X_fold))

    pipe = make_mnist_pipeline(batch_size=64, random_state=0)
    grid = GridSearchCV(
        pipe,
        {"mlp__hidden_size": [16, 32], "mlp__epochs": [1, 3]},
        cv=3,
        scoring=recording_accuracy,
    ).fit(X, y)
    assert isinstance(check_cv(3, y, classifier=is_classifier(pipe)), StratifiedKFold)
    # 4 candidates x 3 folds, plus the refit scored on nothing
    assert len(fold_counts) == 12
    expected = np.bincount(y, minlength=10) / 3
    for counts in fold_counts:  # each test fold keeps the class proportions
        assert np.all(np.abs(counts - expected) <= 1)
    assert set(grid.best_params_) == {"mlp__hidden_size", "mlp__epochs"}
    best = grid.best_estimator_
    assert best.named_steps["mlp"].hidden_size == grid.best_params_["mlp__hidden_size"]

    np.testing.assert_array_equal(
        _predict_proba_in_fresh_process(best, X[:50], tmp_path),
        best.predict_proba(X[:50]),
    )


@pytest.mark.slow
def test_fitted_grid_search_reloads_in_a_fresh_process(tmp_path):
    X, y = load_mnist_sample(return_X_y=True)
    grid = GridSearchCV(
        make_mnist_pipeline(epochs=1, batch_size=64, random_state=0),
        {"mlp__hidden_size": [8, 16]},
        cv=2,
    ).fit(X[:300], y[:300])
    np.testing.assert_array_equal(
        _predict_proba_in_fresh_process(grid, X[:50], tmp_path),
        grid.predict_proba(X[:50]),
    )


_LOAD_AND_PREDICT_PROBA = textwrap.dedent(
    """
    import sys
    import joblib
    import numpy as np
    model = joblib.load(sys.argv[1])
    np.save(sys.argv[3], model.predict_proba(np.load(sys.argv[2])))
    """
)


def _predict_proba_in_fresh_process(model, X, folder):
    """joblib.dump `model`, load it in a new Python and return its predict_proba(X)."""
    paths = [folder / name for name in ("model.joblib", "X.npy", "proba.npy")]
    joblib.dump(model, paths[0])
    np.save(paths[1], X)
    subprocess.run(
        [sys.executable, "-c", _LOAD_AND_PREDICT_PROBA, *map(str, paths)], check=True
    )
    return np.load(paths[2])


@pytest.mark.slow
@pytest.mark.realdata
def test_default_pipeline_on_real_mnist(mnist_train, mnist_test):
    pipe = make_mnist_pipeline(random_state=0).fit(mnist_train.data, mnist_train.target)
    accuracy = pipe.score(mnist_test.data, mnist_test.target)
    print(f"default pipeline, real MNIST test accuracy: {accuracy:.4f}")
    # Over seeds 0-9 the default pipeline averaged 0.9809 (sd 0.0023, lowest
    # 0.9774) on the development machine; on another CPU, rounding makes seed 0
    # a fresh draw from that spread, so the bound sits about 2.5 sd below the
    # mean. benchmarks/run.py judges the mean over seeds; a broken model (double
    # scaling, a bad split, a wrong loss) lands far below this.
    assert accuracy >= 0.975
    mlp = pipe.named_steps["mlp"]
    assert mlp.n_iter_ == 20 and len(mlp.history_["val_accuracy"]) == 20
