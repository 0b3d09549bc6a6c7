"""
==================================================
The digits the network gets wrong, most sure first
==================================================

Accuracy says how often the network is wrong; looking at the mistakes says why.
:func:`skmnist.plot_digits` shows images with their true and predicted
labels, by default only the misclassified ones. Here the test digits are sorted
by how much probability the network gave its answer, so the grid starts with its
most confident mistakes: often digits a person would hesitate over too, and now
and then a mislabelled one.

Set ``SKMNIST_EXAMPLE_SIZE=small`` to train a small network on the sample shipped
with skmnist instead of the full MNIST.
"""

import os

import matplotlib.pyplot as plt
import numpy as np

from skmnist import fetch_mnist, load_mnist_sample, make_mnist_pipeline, plot_digits
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

if size == "full":
    pipe = make_mnist_pipeline(random_state=0)  # the tutorial's model
elif size == "docs":
    # The docs build trains the reference model once, in train_mnist.py; here a
    # narrower network on the same full MNIST.
    pipe = make_mnist_pipeline(hidden_size=128, epochs=5, random_state=0)
else:
    pipe = make_mnist_pipeline(hidden_size=64, epochs=5, random_state=0)
print(
    f"{pipe.named_steps['mlp'].hidden_size} hidden units, "
    f"{pipe.named_steps['mlp'].epochs} epochs, on {len(X_train):,} training images "
    f"({'the packaged sample' if size == 'small' else 'MNIST'})"
)

pipe.fit(X_train, y_train)
proba = pipe.predict_proba(X_test)
y_pred = pipe.classes_[proba.argmax(axis=1)]
wrong = y_pred != y_test
print(f"test accuracy: {1 - wrong.mean():.4f} ({wrong.sum()} of {len(y_test)} wrong)")

# %%
# The most confident mistakes
# ---------------------------
order = np.argsort(-proba.max(axis=1), kind="stable")
fig = plot_digits(X_test[order], y_test[order], y_pred[order], n=24, ncols=8)
fig.suptitle("Misclassified test digits, most confident first")
plt.show()
