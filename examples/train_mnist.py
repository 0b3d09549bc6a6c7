"""
===========================================
Train the reference MNIST model end to end
===========================================

Fetch MNIST (verified and cached), fit the default pipeline
(:class:`~skmnist.FlattenScaler` -> :class:`~skmnist.MNISTClassifier`: the Keras
tutorial's 784-512-512-10 network, Adam, batch 128, 20 epochs, 10% validation),
print the test accuracy and log loss, then draw the learning curves and the
confusion matrix of the test digits.

Set ``SKMNIST_EXAMPLE_SIZE=small`` to run on the packaged sample for a few
epochs instead (as the test suite does). The docs build sets
``SKMNIST_EXAMPLE_SIZE=docs``: the full MNIST when it is on disk already, else
the sample; the output below says which.
"""

import os

import matplotlib.pyplot as plt
from sklearn.metrics import log_loss

from skmnist import (
    fetch_mnist,
    load_mnist_sample,
    make_mnist_pipeline,
    plot_confusion_matrix,
    plot_learning_curves,
)
from skmnist.datasets import MNISTFetchError

# SKMNIST_EXAMPLE_SIZE: "full" (the default) fetches MNIST, downloading it if
# need be; "small" uses the sample shipped with skmnist; "docs" (the docs build)
# uses MNIST if it is on disk already (as in CI), else the sample.
size = os.environ.get("SKMNIST_EXAMPLE_SIZE", "full")
if size == "docs":
    try:
        fetch_mnist(subset="test", download_if_missing=False)
    except MNISTFetchError:
        size = "small"
if size == "small":
    X_train, y_train = load_mnist_sample(subset="train", return_X_y=True)
    X_test, y_test = load_mnist_sample(subset="test", return_X_y=True)
else:
    X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
print(
    f"{len(X_train):,} training and {len(X_test):,} test images "
    f"({'the packaged sample' if size == 'small' else 'MNIST'})"
)

# %%
# Fit and score
# -------------
# The reference model; on the sample, only a couple of epochs. Keras's progress
# bar on a terminal (``verbose=1``), one line per epoch in a log (``verbose=2``).
if size == "small":
    pipe = make_mnist_pipeline(epochs=2, random_state=0, verbose=2)
else:
    pipe = make_mnist_pipeline(random_state=0, verbose=1 if size == "full" else 2)
pipe.fit(X_train, y_train)

accuracy = pipe.score(X_test, y_test)
loss = log_loss(y_test, pipe.predict_proba(X_test), labels=pipe.classes_)
print(f"test accuracy: {accuracy:.4f}")
print(f"test loss:     {loss:.4f}")

# %%
# Learning curves
# ---------------
# Loss and accuracy on the training images and the held-out 10%, per epoch: the
# tutorial's recipe reaches its lowest validation loss after a few epochs, and
# ``early_stopping=True`` would stop there.
fig = plot_learning_curves(pipe)
fig.suptitle("The reference model: training and validation, per epoch")

# %%
# Confusion matrix of the test digits
# -----------------------------------
fig = plot_confusion_matrix(y_test, pipe.predict(X_test), labels=pipe.classes_)
plt.show()
