"""Grid searches in parallel: joblib's loky processes and a Dask cluster.

A seeded grid search must give the same results whatever runs its fits: the
parent process (n_jobs=1), joblib's loky worker processes (n_jobs=2), or the
worker processes of a Dask cluster. And in those workers TensorFlow must use only
the share of the cores the worker was given (``OMP_NUM_THREADS``, which loky sets
to cpu_count // n_jobs and Dask's nanny to 1), not one thread per core each.

Everything here is sized to stay under two minutes on two busy cores: most
of the time is spent starting worker processes and importing TensorFlow in them.
"""

import os

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.model_selection import GridSearchCV

from skmnist import load_mnist_sample, make_mnist_pipeline

pytestmark = [pytest.mark.slow]

PARAM_GRID = {"mlp__hidden_size": [16, 32], "mlp__epochs": [1, 2]}


def _grid_search(n_jobs):
    # refit=False: the refit runs in the parent process whatever n_jobs is, so it
    # tests nothing here and only costs time.
    # scoring="neg_log_loss": a continuous score, so the comparison below sees
    # any change in the fitted weights, which accuracy (a count of right answers,
    # in steps of 1/300 here) would hide.
    return GridSearchCV(
        make_mnist_pipeline(random_state=0, batch_size=64),
        PARAM_GRID,
        cv=2,
        scoring="neg_log_loss",
        refit=False,
        n_jobs=n_jobs,
    )


def _assert_same_search(search, reference):
    assert search.best_params_ == reference.best_params_
    assert list(search.cv_results_["params"]) == list(reference.cv_results_["params"])
    # Tolerance: the parent process runs TensorFlow with one intra-op thread per
    # core, the workers with one thread in all (their OMP_NUM_THREADS). On the
    # 2-core development machine the results were bit-identical (here, and for
    # the 512-unit reference width fitted with 1 and with 2 intra-op threads),
    # but nothing promises that elsewhere: on other CPUs or core counts oneDNN
    # and Eigen may split a reduction over threads and round its sum in another
    # order, and a last-bit change in the weights grows a little over the
    # training steps. rtol=1e-5 is far above that rounding and far below what
    # any real difference moves these scores by: another seed, fold or
    # parameter changes the log loss by 1e-3 or more.
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        assert_allclose(search.cv_results_[key], reference.cv_results_[key], rtol=1e-5)


@pytest.fixture(scope="module")
def digits():
    X, y = load_mnist_sample(return_X_y=True)
    return X[:600], y[:600]


@pytest.fixture(scope="module")
def sequential_search(digits):
    """The grid search run in this process, the reference for the parallel ones."""
    search = _grid_search(n_jobs=1).fit(*digits)
    scores = search.cv_results_["mean_test_score"]
    # The candidates are far apart, so best_params_ compares something real.
    assert np.ptp(scores) > 0.01 and len(np.unique(np.round(scores, 3))) == 4
    return search


def test_grid_search_loky_matches_sequential(digits, sequential_search):
    with joblib.parallel_backend("loky"):
        search = _grid_search(n_jobs=2).fit(*digits)
    _assert_same_search(search, sequential_search)


def _fit_and_report_threads(seed):
    """In a worker: fit a tiny classifier, report TensorFlow's thread pool sizes."""
    import tensorflow as tf

    from skmnist import MNISTClassifier

    X, y = load_mnist_sample(return_X_y=True)
    X = X[:200].reshape(200, -1) / 255.0
    MNISTClassifier(hidden_size=8, epochs=1, random_state=seed).fit(X, y[:200])
    return {
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "pid": os.getpid(),
    }


def test_tensorflow_threads_bounded_in_loky_workers(monkeypatch):
    # loky passes an OMP_NUM_THREADS of the parent on unchanged: test its default.
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    expected = max(joblib.cpu_count() // 2, 1)
    reports = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(_fit_and_report_threads)(seed) for seed in range(4)
    )
    assert all(report["pid"] != os.getpid() for report in reports)
    for report in reports:
        assert report["OMP_NUM_THREADS"] == str(expected)
        # 0 would mean TensorFlow's default (one thread per core): the limit was
        # set too late, after TensorFlow's runtime had started.
        assert report["intra_op"] == expected
        assert 1 <= report["inter_op"] <= expected


@pytest.fixture
def dask_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        processes=True,
        n_workers=2,
        threads_per_worker=1,
        dashboard_address=None,
    ) as cluster:
        with distributed.Client(cluster) as client:
            yield client


def test_grid_search_dask_matches_sequential(digits, sequential_search, dask_client):
    with joblib.parallel_backend("dask"):
        search = _grid_search(n_jobs=-1).fit(*digits)

    def tensorflow_threads_here():  # nested: pickled by value, as the workers
        import tensorflow as tf  # cannot import this test module

        return {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "pid": os.getpid(),
        }

    # The fits ran in the cluster's worker processes, whose nanny sets
    # OMP_NUM_THREADS=1: TensorFlow there uses one intra-op thread.
    reports = dask_client.run(tensorflow_threads_here)
    assert len(reports) == 2
    for address, report in reports.items():
        assert report["pid"] != os.getpid(), address
        assert report["OMP_NUM_THREADS"] == "1", address
        assert report["intra_op"] == 1, address

    reference = sequential_search.cv_results_
    assert search.best_params_ == sequential_search.best_params_
    assert list(search.cv_results_["params"]) == list(reference["params"])
    # Exactly as for loky: every layer and the batch shuffle are seeded from the
    # fit's seed, never from Python's global `random`, which a Dask worker's event
    # loop thread draws from while the fit runs in an executor thread.
    _assert_same_search(search, sequential_search)
