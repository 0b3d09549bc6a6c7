"""load_mnist_sample: a small stratified sample of MNIST shipped in the package."""

from importlib import resources

from ._base import check_subset, make_bunch
from ._readers import read_npz

SAMPLE_FILENAME = "mnist_sample.npz"
SAMPLE_SIZES = {"train": 2_000, "test": 500}


def load_mnist_sample(*, subset="train", return_X_y=False):
    """Load a small sample of MNIST that ships with skmnist: no download.

    =================   ======================
    Classes                                 10
    Samples total       2,500 (2,000 train,
                        500 test)
    Dimensionality      28 x 28 pixels
    Features            integers 0-255 (uint8)
    =================   ======================

    The sample holds 2,000 images of MNIST's training split and 500 of its test
    split, drawn at random with each class in proportion (stratified), in
    MNIST's original order. It is meant for quick starts, documentation and
    tests; use :func:`fetch_mnist` for the full dataset.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        The part to load: the 2,000 training images, the 500 test images, or
        all 2,500 (training images first).

    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        images : ndarray of shape (n_samples, 28, 28), dtype uint8
            The images, pixel values 0 (background) to 255 (ink).
        data : ndarray of shape (n_samples, 28, 28), dtype uint8
            The same array as `images` (not a copy): the ``X`` to give a
            pipeline that starts with :class:`~skmnist.FlattenScaler`.
        target : ndarray of shape (n_samples,), dtype int64
            The digit each image shows, 0 to 9.
        target_names : ndarray of shape (10,), dtype int64
            The classes, ``0, 1, ..., 9``.
        DESCR : str
            Description of the sample and of MNIST: source, license, citation,
            how the sample was drawn.

    (images, target) : tuple if ``return_X_y`` is True
        The arrays described above.

    See Also
    --------
    fetch_mnist : The full MNIST dataset.

    Examples
    --------
    >>> from skmnist.datasets import load_mnist_sample
    >>> digits = load_mnist_sample()
    >>> digits.images.shape, digits.images.dtype
    ((2000, 28, 28), dtype('uint8'))
    >>> digits.target.shape
    (2000,)
    >>> X_test, y_test = load_mnist_sample(subset="test", return_X_y=True)
    >>> X_test.shape
    (500, 28, 28)
    """
    splits = check_subset(subset)
    sample = resources.files(__package__).joinpath("data", SAMPLE_FILENAME)
    with resources.as_file(sample) as path:
        arrays = read_npz(path, splits, sizes=SAMPLE_SIZES)
    return make_bunch(
        arrays, splits, descr_file="mnist_sample.rst", return_X_y=return_X_y
    )
