"""make_mnist_pipeline: raw images in, digits out."""

from sklearn.pipeline import Pipeline

from ._classifier import MNISTClassifier
from ._scaler import FlattenScaler

__all__ = ["make_mnist_pipeline"]


def make_mnist_pipeline(**classifier_params):
    """Build the pipeline ``FlattenScaler() -> MNISTClassifier(**classifier_params)``.

    The steps are named ``"flatten"`` and ``"mlp"``, so grid searches address the
    network's parameters as ``mlp__hidden_size``, ``mlp__epochs``, ...

    Parameters
    ----------
    **classifier_params : dict
        Parameters of :class:`~skmnist.MNISTClassifier`; the defaults give the
        reference model of the Keras MNIST tutorial.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Unfitted; takes images of shape (n, 28, 28) (or (n, 28, 28, 1), or rows of
        784 pixels) with values in [0, 255].

    Examples
    --------
    >>> from skmnist import load_mnist_sample, make_mnist_pipeline
    >>> X, y = load_mnist_sample(return_X_y=True)
    >>> pipe = make_mnist_pipeline(hidden_size=64, epochs=2, random_state=0)
    >>> pipe.fit(X, y).predict(X[:5]).shape
    (5,)
    >>> list(pipe.named_steps)
    ['flatten', 'mlp']
    """
    return Pipeline(
        [("flatten", FlattenScaler()), ("mlp", MNISTClassifier(**classifier_params))]
    )
