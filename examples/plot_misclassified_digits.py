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
"""

import matplotlib.pyplot as plt
import numpy as np

from skmnist import fetch_mnist, make_mnist_pipeline, plot_digits

X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
X_test, y_test = fetch_mnist(subset="test", return_X_y=True)

# Narrower and shorter than the tutorial's model (512 units, 20 epochs: see
# train_mnist.py), so that it trains in a minute.
pipe = make_mnist_pipeline(hidden_size=128, epochs=5, random_state=0)

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
