"""
===========================================
Train the reference MNIST model end to end
===========================================

Fetch MNIST (verified and cached), fit the default pipeline
(:class:`~skmnist.FlattenScaler` -> :class:`~skmnist.MNISTClassifier`: the Keras
tutorial's 784-512-512-10 network, Adam, batch 128, 20 epochs, 10% validation),
print the test accuracy and log loss, then draw the learning curves and the
confusion matrix of the test digits.
"""

import matplotlib.pyplot as plt
from sklearn.metrics import log_loss

from skmnist import (
    fetch_mnist,
    make_mnist_pipeline,
    plot_confusion_matrix,
    plot_learning_curves,
)

X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
print(f"{len(X_train):,} training and {len(X_test):,} test images")

# %%
# Fit and score
# -------------
# The reference model. ``verbose=1``: a moving progress bar on a terminal, one
# line per epoch when the output goes to a file.
pipe = make_mnist_pipeline(random_state=0, verbose=1)
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
