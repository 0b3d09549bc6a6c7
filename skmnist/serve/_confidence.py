"""How much to trust an answer: "not sure", and "this may not be a digit".

A network's top probability is no measure of how sure it should be: it says
"97.7%" for a zigzag. Two cheap signals, measured on MNIST's 10,000 test digits
and on drawn and rendered non-digits by ``benchmarks/serve_confidence.py``
(whose results set the thresholds below):

- *not sure*: the top probability is below :data:`SURE_PROBABILITY`;
- *may not be a digit*: the image's ink, as the model saw it (28x28, after the
  conversion that fits a digit into 20x20 and centres it by mass), is unlike
  MNIST's: its amount, its spread around the centre, or its stroke width lies
  outside the range that holds 99.8% of MNIST's training digits.

NumPy only, element-wise (no matrix products, so no BLAS threads woken for
every batch): computed on the images the service already has, whatever model
it serves. A fourth statistic, the distance from the nearest digit's principal
components, was measured too: it flagged 2 more scribbles and 2 more letters
in 310, and cost more than the model's call (a millisecond a request on 2
cores).
"""

import numpy as np

# The top probability below which an answer is "not sure": about 1% of MNIST's
# held-out training digits, drawn as on the page, fall below it for the
# reference network (benchmarks/results/serve_confidence.md).
SURE_PROBABILITY = 0.5

# Ranges of 10,000 held-out MNIST training digits (their 0.1% and 99.9%
# quantiles), drawn as on the page and converted as the service converts
# pictures: ink mass (sum of pixels / 255), spread (root mean square distance
# of the ink from its centre of mass, pixels), stroke width (twice the inked
# area over its outline's length, pixels).
INK_RANGES = {
    "mass": (30.9, 207.9),
    "spread": (4.25, 8.19),
    "stroke": (0.94, 4.24),
}


def ink_features(images):
    """The ink statistics of images (n, 28, 28), 0-255, light ink on black.

    Returns
    -------
    features : dict of str to ndarray of shape (n,)
        ``mass``, ``spread`` and ``stroke`` (see the module).
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
    return {"mass": mass, "spread": spread, "stroke": stroke}


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
