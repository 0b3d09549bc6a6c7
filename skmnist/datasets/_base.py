"""What fetch_mnist and load_mnist_sample share: subsets, DESCR files, the Bunch."""

from importlib import resources

import numpy as np

# subset -> the splits it is made of, in the order they are concatenated.
SUBSETS = {"train": ("train",), "test": ("test",), "all": ("train", "test")}


def check_subset(subset):
    """Return the splits of `subset`; raise ValueError naming the valid values."""
    if not isinstance(subset, str) or subset not in SUBSETS:
        valid = ", ".join(repr(name) for name in SUBSETS)
        raise ValueError(f"subset must be one of {valid}; got {subset!r}.")
    return SUBSETS[subset]


def load_descr(filename):
    """Text of ``skmnist/datasets/descr/<filename>``."""
    descr = resources.files(__package__).joinpath("descr", filename)
    return descr.read_text(encoding="utf-8")


def make_bunch(arrays, splits, *, descr_file, return_X_y):
    """Assemble the value fetch_mnist and load_mnist_sample return.

    Parameters
    ----------
    arrays : dict
        Split name -> ``(images, labels)``, as the readers return them: images
        uint8 of shape (n, 28, 28), labels of an integer dtype with values 0..9.
    splits : tuple of str
        The splits to return, in order.
    descr_file : str
        File name under ``descr/`` holding the DESCR text.
    return_X_y : bool
        Return ``(images, target)`` instead of a Bunch.
    """
    if len(splits) == 1:
        images, labels = arrays[splits[0]]
        target = labels.astype(np.int64, copy=False)
    else:
        images = np.concatenate([arrays[split][0] for split in splits])
        target = np.concatenate([arrays[split][1] for split in splits], dtype=np.int64)
    if return_X_y:
        return images, target
    # Imported here: (images, target) alone, as skmnist serve's self-test asks
    # for them, needs no scikit-learn (and none of the SciPy and pandas it loads).
    from sklearn.utils import Bunch

    return Bunch(
        images=images,
        data=images,
        target=target,
        target_names=np.arange(10, dtype=np.int64),
        DESCR=load_descr(descr_file),
    )
