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

small = os.environ.get("SKMNIST_EXAMPLE_SIZE", "full") == "small"
if small:
    X_train, y_train = load_mnist_sample(subset="train", return_X_y=True)
    X_test, y_test = load_mnist_sample(subset="test", return_X_y=True)
    pipe = make_mnist_pipeline(hidden_size=64, epochs=5, random_state=0)
else:
    X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
    pipe = make_mnist_pipeline(random_state=0)  # the tutorial's model

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
