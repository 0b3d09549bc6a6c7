"""
======================================================
Tune the network's width and epochs with a grid search
======================================================

:func:`~skmnist.make_mnist_pipeline` is an ordinary scikit-learn pipeline, so
:class:`~sklearn.model_selection.GridSearchCV` tunes the network through its
step name: ``mlp__hidden_size``, ``mlp__epochs``, ... Because
:class:`~skmnist.MNISTClassifier` is a classifier to scikit-learn, the folds are
stratified by digit. The heat map shows the mean cross-validated accuracy of
every combination.

``n_jobs=2`` runs the fits in two worker processes; skmnist gives TensorFlow in
each its share of the cores, so that the workers do not fight over them. To run
the fits on a Dask cluster instead, see the Dask grid search example.

The search runs on 10,000 of MNIST's training images, over a small grid of
widths and epochs: 27 fits, a few minutes on two cores.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV

from skmnist import fetch_mnist, make_mnist_pipeline

X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
X_train, y_train = X_train[:10_000], y_train[:10_000]
param_grid = {"mlp__hidden_size": [32, 128, 512], "mlp__epochs": [2, 5, 10]}

# %%
# The search
# ----------
# Every candidate is fitted on each of the folds (with the same seed, so that
# the candidates differ only by their parameters), then the best one is refitted
# on all the training images.
search = GridSearchCV(
    make_mnist_pipeline(random_state=0),
    param_grid,
    cv=3,
    n_jobs=2,
)
search.fit(X_train, y_train)
print(f"best parameters: {search.best_params_}")
print(f"best cross-validated accuracy: {search.best_score_:.4f}")
print(f"test accuracy of the refitted best model: {search.score(X_test, y_test):.4f}")

# %%
# Mean cross-validated accuracy of each candidate
# -----------------------------------------------
hidden_sizes = param_grid["mlp__hidden_size"]
epochs = param_grid["mlp__epochs"]
scores = np.empty((len(hidden_sizes), len(epochs)))
for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
):
    row = hidden_sizes.index(params["mlp__hidden_size"])
    col = epochs.index(params["mlp__epochs"])
    scores[row, col] = score

fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
image = ax.imshow(scores, cmap="viridis", origin="lower", aspect="auto")
fig.colorbar(image, ax=ax, label="mean CV accuracy")
middle = (scores.max() + scores.min()) / 2
for (row, col), score in np.ndenumerate(scores):
    ax.text(
        col,
        row,
        f"{score:.3f}",
        ha="center",
        va="center",
        color="black" if score > middle else "white",
    )
ax.set_xticks(range(len(epochs)), [str(e) for e in epochs])
ax.set_yticks(range(len(hidden_sizes)), [str(h) for h in hidden_sizes])
ax.set_xlabel("mlp__epochs")
ax.set_ylabel("mlp__hidden_size")
ax.set_title("Grid search: mean cross-validated accuracy")
plt.show()
