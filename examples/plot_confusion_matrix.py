"""
======================================
Which digits does the network confuse?
======================================

The confusion matrix counts, for each true digit (rows), what the fitted
pipeline predicted (columns): the diagonal holds the right answers, and the
cells off it the mistakes, such as 4s read as 9s.
:func:`skmnist.plot_confusion_matrix` draws it with a count in each
cell; ``normalize="true"`` shows the fraction of each digit instead.

Set ``SKMNIST_EXAMPLE_SIZE=small`` to train a small network on the sample shipped
with skmnist instead of the full MNIST.
"""

import os

import matplotlib.pyplot as plt
from sklearn.metrics import classification_report

from skmnist import (
    fetch_mnist,
    load_mnist_sample,
    make_mnist_pipeline,
    plot_confusion_matrix,
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
y_pred = pipe.predict(X_test)
print(classification_report(y_test, y_pred, digits=3))
print(f"test accuracy: {pipe.score(X_test, y_test):.4f}")

# %%
# Counts
# ------
fig = plot_confusion_matrix(y_test, y_pred, labels=pipe.classes_)

# %%
# Fraction of each true digit
# ---------------------------
# Each row sums to 1: the diagonal is the recall of each digit.
fig = plot_confusion_matrix(y_test, y_pred, labels=pipe.classes_, normalize="true")
plt.show()
