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
"""

import matplotlib.pyplot as plt

from skmnist import fetch_mnist, make_mnist_pipeline, plot_learning_curves

X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
X_test, y_test = fetch_mnist(subset="test", return_X_y=True)

# Narrower than the tutorial's model (512 units: see train_mnist.py), so that
# ten epochs take a minute or two; its validation loss turns up all the same.
pipe = make_mnist_pipeline(hidden_size=128, epochs=10, random_state=0)

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
