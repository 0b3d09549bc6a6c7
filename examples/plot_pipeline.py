"""
=====================================
Classify raw MNIST images in one step
=====================================

:func:`~skmnist.make_mnist_pipeline` chains :class:`~skmnist.FlattenScaler`
(28 x 28 images of 0-255 pixels -> rows of 784 floats in [0, 1]) and
:class:`~skmnist.MNISTClassifier` (the Keras tutorial's 784-512-512-10
perceptron), so it takes MNIST's uint8 images as they are. Here it is fitted on
the training images, scored on the test images, and a few test digits are shown
with what it predicts for them.
"""

import matplotlib.pyplot as plt

from skmnist import fetch_mnist, make_mnist_pipeline

X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
print(f"images: {X_train.shape} {X_train.dtype} to train on, {len(X_test)} to test")

# %%
# Fit and score
# -------------
# The defaults are the tutorial's model: 512 units, 20 epochs (the "Train the
# reference MNIST model" example fits it). A narrower network for 5 epochs
# trains in a minute and scores nearly as well.
pipe = make_mnist_pipeline(hidden_size=128, epochs=5, random_state=0)
pipe.fit(X_train, y_train)
print(pipe)
print(f"test accuracy: {pipe.score(X_test, y_test):.4f}")

# %%
# A few test digits and their predictions
# ---------------------------------------
# Each title gives the predicted digit and the probability the network gives it;
# red titles are mistakes, with the true digit.
n_digits = 12
proba = pipe.predict_proba(X_test[:n_digits])
y_pred = pipe.classes_[proba.argmax(axis=1)]

fig, axes = plt.subplots(2, n_digits // 2, figsize=(9, 3.6), layout="constrained")
for ax, image, label, pred, p in zip(
    axes.ravel(), X_test, y_test, y_pred, proba.max(axis=1), strict=False
):
    ax.imshow(image, cmap="gray_r", interpolation="nearest")
    if pred == label:
        ax.set_title(f"{pred} ({p:.0%})")
    else:
        ax.set_title(f"{pred} ({p:.0%}), is {label}", color="red")
    ax.set_axis_off()
fig.suptitle("Predicted digit (probability)")
plt.show()
