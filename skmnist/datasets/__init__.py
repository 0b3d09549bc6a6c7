"""MNIST for scikit-learn: the full dataset, and a small sample shipped with skmnist.

Nothing here imports TensorFlow or Keras: only NumPy, scikit-learn and the
standard library.
"""

from ._fetch import MNISTFetchError, fetch_mnist, get_data_home
from ._readers import MNISTFormatError
from ._sample import load_mnist_sample

__all__ = [
    "MNISTFetchError",
    "MNISTFormatError",
    "fetch_mnist",
    "get_data_home",
    "load_mnist_sample",
]
