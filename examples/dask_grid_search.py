"""
===================================
Run a grid search on a Dask cluster
===================================

scikit-learn runs the fits of a search through joblib, and joblib can hand them
to a Dask cluster: inside ``with joblib.parallel_backend("dask"):`` every fit of
:class:`~sklearn.model_selection.GridSearchCV` runs on the cluster's workers
instead of in local processes. Nothing about the estimator changes; the seeded
fits give the same scores as on your own machine.

Here the cluster is a :class:`distributed.LocalCluster` of two worker processes
with one thread each (Dask's nanny sets ``OMP_NUM_THREADS=1`` in them, and
skmnist gives TensorFlow that many threads). To use a cluster that is already
running, connect to its scheduler instead of starting one (see ``main`` below).

Needs ``pip install 'skmnist[dask]'`` (``dask[distributed]``). The search runs
on 10,000 of MNIST's training images.

The work is done under ``if __name__ == "__main__":`` because the local
cluster's workers are new Python processes that import this script; without the
guard each of them would start a search (and a cluster) of its own.
"""

# The docs build does not run this script; its card shows the heat map of the
# grid-search example (run before it in the gallery): the same search, run locally.
# sphinx_gallery_thumbnail_path = "auto_examples/images/sphx_glr_plot_grid_search_001.png"

import joblib
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV

from skmnist import fetch_mnist, make_mnist_pipeline


def main():
    X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
    X_train, y_train = X_train[:10_000], y_train[:10_000]
    param_grid = {"mlp__hidden_size": [64, 256], "mlp__epochs": [5, 10]}
    search = GridSearchCV(
        make_mnist_pipeline(random_state=0),
        param_grid,
        cv=3,
        n_jobs=-1,  # with the Dask backend: as many fits at once as the cluster runs
    )

    # A cluster of two worker processes on this machine. To use a running cluster
    # instead (its workers need skmnist installed, and the same versions of
    # scikit-learn, Keras and TensorFlow as here), connect to its scheduler:
    #
    #     with Client("tcp://scheduler:8786") as client:
    #         with joblib.parallel_backend("dask"):
    #             search.fit(X_train, y_train)
    #
    # The training data is sent to the workers along with the fits.
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster,
        Client(cluster) as client,
    ):
        print(f"Dask cluster: {len(client.scheduler_info()['workers'])} workers")
        if client.dashboard_link:
            print(f"dashboard: {client.dashboard_link}")
        with joblib.parallel_backend("dask"):
            search.fit(X_train, y_train)

    # The best candidate is refitted on all the training images, by the search
    # (here, in this process), so the fitted search is used as usual.
    print(f"best parameters: {search.best_params_}")
    print(f"best cross-validated accuracy: {search.best_score_:.4f}")
    for params, score in zip(
        search.cv_results_["params"],
        search.cv_results_["mean_test_score"],
        strict=True,
    ):
        print(f"  {params}: mean accuracy {score:.4f}")
    print(f"test accuracy of the best model: {search.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
