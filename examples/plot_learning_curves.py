"""
=================================
Watch the network learn, by epoch
=================================

:class:`~skmnist.MNISTClassifier` holds out a stratified 10% of the training
images (``validation_split=0.1``) and records the loss and accuracy on the
training and held-out images after each epoch in ``history_``.
:func:`skmnist.plot_learning_curves` draws them, from the history or
from the fitted classifier or pipeline itself. A validation loss that turns up
while the training loss keeps falling is the network starting to overfit; with
``early_stopping=True`` the classifier stops there and keeps its best epoch.

Set ``SKMNIST_EXAMPLE_SIZE=small`` to train a small network on the sample shipped
with skmnist instead of the full MNIST.
"""

import os

import matplotlib.pyplot as plt

from skmnist import (
    fetch_mnist,
    load_mnist_sample,
    make_mnist_pipeline,
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

if size == "full":
    pipe = make_mnist_pipeline(random_state=0)  # the tutorial's model, 20 epochs
elif size == "docs":
    # The docs build trains the reference model once, in train_mnist.py; here a
    # narrower network on the same full MNIST.
    pipe = make_mnist_pipeline(hidden_size=128, epochs=10, random_state=0)
else:
    pipe = make_mnist_pipeline(hidden_size=128, epochs=10, random_state=0)
print(
    f"{pipe.named_steps['mlp'].hidden_size} hidden units, "
    f"{pipe.named_steps['mlp'].epochs} epochs, on {len(X_train):,} training images "
    f"({'the packaged sample' if size == 'small' else 'MNIST'})"
)

pipe.fit(X_train, y_train)
history = pipe.named_steps["mlp"].history_
for epoch, (loss, val_loss) in enumerate(
    zip(history["loss"], history["val_loss"], strict=True), start=1
):
    print(f"epoch {epoch:2d}: loss {loss:.4f}, validation loss {val_loss:.4f}")
print(f"final validation accuracy: {history['val_accuracy'][-1]:.4f}")
print(f"test accuracy: {pipe.score(X_test, y_test):.4f}")

# %%
# Loss and accuracy per epoch
# ---------------------------
fig = plot_learning_curves(pipe)
fig.suptitle("MNISTClassifier: training and validation, per epoch")
plt.show()
