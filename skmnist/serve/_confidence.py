"""How much to trust an answer: "not sure", and "this may not be a digit".

A network's top probability is no measure of how sure it should be: it says
"97.7%" for a zigzag. Two cheap signals, measured on MNIST's 10,000 test digits
and on drawn and rendered non-digits by ``benchmarks/serve_confidence.py``
(whose results set the thresholds below):

- *not sure*: the top probability is below :data:`SURE_PROBABILITY`;
- *may not be a digit*: the image's ink, as the model saw it (28x28, after the
  conversion that fits a digit into 20x20 and centres it by mass), is unlike
  MNIST's: its amount, its spread around the centre, its stroke width, or its
  distance from the nearest digit's shapes (the residual of its projection on
  the 20 principal components of the packaged sample's images of each digit)
  lies outside the range that holds 99.8% of MNIST's training digits.

NumPy only (and the packaged sample, read once): computed on the images the
service already has, whatever model it serves.
"""

import functools

import numpy as np

# The top probability below which an answer is "not sure": about 1% of MNIST's
# held-out training digits, drawn as on the page, fall below it for the
# reference network (benchmarks/results/serve_confidence.md).
SURE_PROBABILITY = 0.5

# Ranges of 10,000 held-out MNIST training digits (their 0.1% and 99.9%
# quantiles), drawn as on the page and converted as the service converts
# pictures: ink mass (sum of pixels / 255), spread (root mean square distance
# of the ink from its centre of mass, pixels), stroke width (twice the inked
# area over its outline's length, pixels) and shape (the residual of the
# nearest digit's principal components, relative to the image's norm).
INK_RANGES = {
    "mass": (30.9, 207.9),
    "spread": (4.25, 8.19),
    "stroke": (0.94, 4.24),
    "shape": (0.0, 0.68),
}
_COMPONENTS = 20  # principal components kept per digit


def ink_features(images):
    """The ink statistics of images (n, 28, 28), 0-255, light ink on black.

    Returns
    -------
    features : dict of str to ndarray of shape (n,)
        ``mass``, ``spread``, ``stroke`` and ``shape`` (see the module).
    """
    ink = np.asarray(images, dtype=np.float64).reshape(-1, 28, 28) / 255.0
    mass = ink.sum(axis=(1, 2))
    rows = np.arange(28, dtype=np.float64)
    safe = np.maximum(mass, 1e-9)
    cy = (ink.sum(axis=2) * rows).sum(axis=1) / safe
    cx = (ink.sum(axis=1) * rows).sum(axis=1) / safe
    dy = rows[None, :, None] - cy[:, None, None]
    dx = rows[None, None, :] - cx[:, None, None]
    spread = np.sqrt((ink * (dy**2 + dx**2)).sum(axis=(1, 2)) / safe)
    inked = ink >= 0.5
    area = inked.sum(axis=(1, 2))
    padded = np.pad(inked, ((0, 0), (1, 1), (1, 1)))
    edges = (padded[:, 1:, :] != padded[:, :-1, :]).sum(axis=(1, 2)) + (
        padded[:, :, 1:] != padded[:, :, :-1]
    ).sum(axis=(1, 2))
    stroke = 2.0 * area / np.maximum(edges, 1)
    # |x - m|^2 - |V (x - m)|^2 for each digit's mean m and orthonormal
    # components V, for all digits in two matrix products.
    means, components, offsets = _digit_subspaces()
    rows = ink.reshape(len(ink), -1)
    norm2 = (rows**2).sum(axis=1)
    centred2 = norm2[:, None] - 2 * rows @ means.T + (means**2).sum(axis=1)
    projected = (rows @ components.T - offsets).reshape(len(rows), len(means), -1)
    residual2 = np.maximum(centred2 - (projected**2).sum(axis=2), 0.0)
    shape = np.sqrt(residual2.min(axis=1) / np.maximum(norm2, 1e-9))
    return {"mass": mass, "spread": spread, "stroke": stroke, "shape": shape}


@functools.lru_cache(maxsize=1)
def _digit_subspaces():
    """Each digit's mean image and principal directions, from the packaged
    sample's 2,000 training images (computed once per process: ~0.1 s)."""
    from ..datasets import load_mnist_sample

    images, labels = load_mnist_sample(return_X_y=True)
    rows = images.reshape(len(images), -1).astype(np.float64) / 255.0
    means, components = [], []
    for digit in np.unique(labels):
        own = rows[labels == digit]
        means.append(own.mean(axis=0))
        _, _, vt = np.linalg.svd(own - means[-1], full_matrices=False)
        components.append(vt[:_COMPONENTS])
    means = np.stack(means)
    offsets = np.concatenate([v @ m for v, m in zip(components, means, strict=True)])
    return means, np.concatenate(components), offsets


def unlike_digits(images, ranges=None):
    """Whether each image's ink is outside MNIST's ranges (n,) bool."""
    ranges = INK_RANGES if ranges is None else ranges
    features = ink_features(images)
    out = np.zeros(len(features["mass"]), dtype=bool)
    for name, (low, high) in ranges.items():
        out |= (features[name] < low) | (features[name] > high)
    return out


def not_sure(proba, threshold=SURE_PROBABILITY):
    """Whether each row's top probability is below `threshold` (n,) bool."""
    return np.asarray(proba).max(axis=1) < threshold
