"""
==========================================
Scores after every epoch, inside a search
==========================================

With scikit-learn 1.9 or later, :mod:`sklearn.callback`'s callbacks reach
:class:`~skmnist.MNISTClassifier`'s epochs: each epoch of a fit is a task that
a callback hears of, with the network as it stands after that epoch. Here a
:class:`~sklearn.callback.ScoringMonitor` set on the classifier scores it after
every epoch (on the fit's own training data), first in two plain fits, then in
every fit of a grid search. A :class:`~sklearn.callback.ProgressBar` set on the
search itself (``search.set_callbacks(ProgressBar())``, with ``rich``
installed) would show its candidates, folds and epochs as they run.
"""

from collections import defaultdict

import matplotlib.pyplot as plt
from sklearn.callback import ScoringMonitor
from sklearn.model_selection import GridSearchCV

from skmnist import fetch_mnist, make_mnist_pipeline

X_train, y_train = fetch_mnist(subset="train", return_X_y=True)


def epoch_scores(log):
    """The accuracy after each epoch, per fit of the classifier in one run."""
    fits = defaultdict(list)
    for row in log.data:
        if row["task_name"] == "epoch":
            fits[row["parent_task_id_path"]].append(row["accuracy"])
    return list(fits.values())


monitor = ScoringMonitor(scoring="accuracy")
fig, ax = plt.subplots(figsize=(6, 4))
for width in (32, 128):
    pipe = make_mnist_pipeline(hidden_size=width, epochs=6, random_state=0)
    pipe.named_steps["mlp"].set_callbacks(monitor)
    pipe.fit(X_train, y_train)
    (scores,) = epoch_scores(monitor.get_logs())  # the most recent fit
    shown = " ".join(f"{score:.4f}" for score in scores)
    print(f"hidden_size={width:4d}, accuracy by epoch: {shown}")
    ax.plot(range(1, len(scores) + 1), scores, marker="o", label=f"{width} units")
ax.set_xlabel("epoch")
ax.set_ylabel("training accuracy after the epoch")
ax.set_title("ScoringMonitor on MNISTClassifier")
ax.legend()
plt.show()

# %%
# Inside a grid search
# --------------------
# The classifier keeps its callback when the search clones it, so the monitor
# scores every epoch of every fit: two candidates on each of two folds, all in
# one run of the search. The refit of the best candidate on all the data is the
# plain fit above again: skmnist resumes it from that fit's end state and trains
# nothing, so its epochs are reported as done but have no network to score.
search = GridSearchCV(pipe, {"mlp__hidden_size": [32, 128]}, cv=2)
search.fit(X_train, y_train)
fits = epoch_scores(monitor.get_logs())
print(f"{len(fits)} fits, {sum(map(len, fits))} epochs scored")
print(f"best: {search.best_params_}")
print(f"cross-validated accuracy: {search.best_score_:.4f}")
