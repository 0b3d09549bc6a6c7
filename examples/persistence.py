"""
====================================
Save a fitted model and load it back
====================================

Two ways to keep a fitted pipeline (or a whole fitted grid search) for later:

* :func:`joblib.dump` / :func:`joblib.load`, scikit-learn's usual way, which
  saves any fitted estimator, a :class:`~sklearn.model_selection.GridSearchCV`
  included. **A joblib (or pickle) file runs code when it is loaded**, code
  chosen by whoever wrote the file: load such files only from sources you trust
  as much as your own code.
* :func:`skmnist.save_model` / :func:`skmnist.load_model`, which save a fitted
  :class:`~skmnist.MNISTClassifier` or :func:`~skmnist.make_mnist_pipeline`
  pipeline as data only: JSON and the network's weights as NumPy arrays, with a
  checksum. Loading runs nothing from the file, so such files can be shared and
  loaded from anyone.

Both give back a model whose predictions are identical to the original's.
"""

# The docs build does not run this script; its card shows the pipeline it saves
# and loads, as the pipeline example (run before it in the gallery) draws it.
# sphinx_gallery_thumbnail_path = "auto_examples/images/sphx_glr_plot_pipeline_001.png"

import os
import tempfile

import joblib
import numpy as np
from sklearn.model_selection import GridSearchCV

from skmnist import fetch_mnist, load_model, make_mnist_pipeline, save_model

X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
# Narrower and shorter than the tutorial's model, to save and load in seconds.
pipe = make_mnist_pipeline(hidden_size=128, epochs=5, random_state=0)
pipe.fit(X_train, y_train)
proba = pipe.predict_proba(X_test)
print(f"test accuracy of the fitted pipeline: {pipe.score(X_test, y_test):.4f}")

# The files go to a temporary folder, removed at the end.
folder = tempfile.TemporaryDirectory(prefix="skmnist-example-")

# %%
# joblib: any fitted estimator, from trusted sources only
# -------------------------------------------------------
# joblib.dump pickles the pipeline; the Keras network inside is saved with it.
path = os.path.join(folder.name, "pipeline.joblib")
joblib.dump(pipe, path)
print(f"joblib file: {os.path.getsize(path) / 1e6:.1f} MB")

# SECURITY: joblib.load (like pickle.load) runs code stored in the file. Load
# only files you made yourself or got from a source you trust.
restored = joblib.load(path)
assert np.array_equal(restored.predict_proba(X_test), proba)
print(f"joblib-loaded pipeline, test accuracy: {restored.score(X_test, y_test):.4f}")

# %%
# A fitted grid search is saved the same way: its results (``cv_results_``,
# ``best_params_``) and its refitted best pipeline come back with it.
search = GridSearchCV(
    make_mnist_pipeline(epochs=5, random_state=0),
    {"mlp__hidden_size": [64, 128]},
    cv=2,
).fit(X_train, y_train)
search_path = os.path.join(folder.name, "search.joblib")
joblib.dump(search, search_path)
restored_search = joblib.load(search_path)  # trusted: we wrote it just now
assert restored_search.best_params_ == search.best_params_
assert np.array_equal(
    restored_search.predict_proba(X_test), search.predict_proba(X_test)
)
print(f"joblib-loaded grid search, best parameters: {restored_search.best_params_}")
print(
    "joblib-loaded grid search, test accuracy: "
    f"{restored_search.score(X_test, y_test):.4f}"
)

# %%
# skmnist.save_model: pickle-free, safe to share
# ----------------------------------------------
# save_model takes a fitted pipeline or classifier (for a grid search, save its
# ``best_estimator_``). The file holds data only; load_model runs nothing from it.
model_path = os.path.join(folder.name, "digits.skmnist")
save_model(pipe, model_path)
print(f"skmnist file: {os.path.getsize(model_path) / 1e6:.1f} MB")
loaded = load_model(model_path)
assert np.array_equal(loaded.predict_proba(X_test), proba)
print(f"load_model pipeline, test accuracy: {loaded.score(X_test, y_test):.4f}")

save_model(search.best_estimator_, os.path.join(folder.name, "best.skmnist"))

# %%
# load_model never unpickles: handed a joblib file, it refuses it (with a
# ModelFileError, a ValueError) instead of running what the file holds.
try:
    load_model(path)
except ValueError as exc:
    print(f"load_model refuses the joblib file: {exc}")

folder.cleanup()
