"""
======================================
Which digits does the network confuse?
======================================

The confusion matrix counts, for each true digit (rows), what the fitted
pipeline predicted (columns): the diagonal holds the right answers, and the
cells off it the mistakes, such as 4s read as 9s.
:func:`skmnist.plot_confusion_matrix` draws it with a count in each
cell; ``normalize="true"`` shows the fraction of each digit instead.
"""

import matplotlib.pyplot as plt
from sklearn.metrics import classification_report

from skmnist import fetch_mnist, make_mnist_pipeline, plot_confusion_matrix

X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
X_test, y_test = fetch_mnist(subset="test", return_X_y=True)

# Narrower and shorter than the tutorial's model (512 units, 20 epochs: see
# train_mnist.py), so that it trains in a minute; its mistakes are of the same kinds.
pipe = make_mnist_pipeline(hidden_size=128, epochs=5, random_state=0)

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
