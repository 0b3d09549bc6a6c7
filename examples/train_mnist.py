"""
===========================================
Train the reference MNIST model end to end
===========================================

Fetch MNIST (verified and cached), fit the default pipeline
(:class:`~skmnist.FlattenScaler` -> :class:`~skmnist.MNISTClassifier`: the Keras
tutorial's 784-512-512-10 network, Adam, batch 128, 20 epochs, 10% validation)
with Keras's progress bars, then print the test accuracy and log loss.

Set ``SKMNIST_EXAMPLE_SIZE=small`` to run on the packaged sample for a few
epochs instead (as the test suite and the docs build do).
"""

import os

from sklearn.metrics import log_loss

from skmnist import fetch_mnist, load_mnist_sample, make_mnist_pipeline

small = os.environ.get("SKMNIST_EXAMPLE_SIZE", "full") == "small"
if small:
    X_train, y_train = load_mnist_sample(subset="train", return_X_y=True)
    X_test, y_test = load_mnist_sample(subset="test", return_X_y=True)
else:
    X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)

pipe = make_mnist_pipeline(epochs=2 if small else 20, verbose=1 if not small else 2)
pipe.fit(X_train, y_train)

accuracy = pipe.score(X_test, y_test)
loss = log_loss(y_test, pipe.predict_proba(X_test), labels=pipe.classes_)
print(f"test accuracy: {accuracy:.4f}")
print(f"test loss:     {loss:.4f}")
