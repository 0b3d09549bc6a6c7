"""Build skmnist/datasets/data/mnist_sample.npz, the sample load_mnist_sample loads.

The sample is 2,000 images of MNIST's training split and 500 of its test split,
drawn with scikit-learn's ``train_test_split(..., stratify=labels)`` under a fixed
seed, so that each class keeps its share, and kept in MNIST's original order.
The file also records where each image comes from (``train_index``,
``test_index``: positions in the full splits).

Usage::

    python scripts/make_mnist_sample.py [--source MNIST_NPZ] [--output PATH]

``--source`` defaults to ``$SKMNIST_DATA_HOME/mnist.npz``: any ``mnist.npz`` in
the Keras layout with the original arrays (the official file, or a repacked one)
gives the same sample. The script prints the SHA-256 of every array it writes:
``np.savez_compressed`` stamps the time into the archive, so compare those hashes,
not the file's, to check a rebuild. They are also listed in
``skmnist/datasets/data/README.txt``.
"""

import argparse
import hashlib
import os
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

SEED = 0
SIZES = {"train": 2_000, "test": 500}
OUTPUT = (
    Path(__file__).parents[1] / "skmnist" / "datasets" / "data" / "mnist_sample.npz"
)


def sample_indices(labels, size, seed=SEED):
    """Sorted positions of a stratified random sample of `size` of `labels`."""
    indices, _ = train_test_split(
        np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed
    )
    return np.sort(indices).astype(np.int32)


def build_sample(source):
    """The arrays of the sample, drawn from the MNIST .npz file `source`."""
    arrays = {}
    with np.load(source, allow_pickle=False) as mnist:
        for split, size in SIZES.items():
            images, labels = mnist[f"x_{split}"], mnist[f"y_{split}"]
            index = sample_indices(labels, size)
            arrays[f"x_{split}"] = images[index]
            arrays[f"y_{split}"] = labels[index]
            arrays[f"{split}_index"] = index
    return arrays


def main(argv=None):
    data_home = os.environ.get("SKMNIST_DATA_HOME")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        default=os.path.join(data_home, "mnist.npz") if data_home else None,
        required=not data_home,
        help="MNIST in the Keras .npz layout (default: $SKMNIST_DATA_HOME/mnist.npz)",
    )
    parser.add_argument("--output", default=str(OUTPUT), help="default: %(default)s")
    args = parser.parse_args(argv)

    arrays = build_sample(args.source)
    np.savez_compressed(args.output, **arrays)
    print(f"wrote {args.output} ({os.path.getsize(args.output):,} bytes)")
    print("SHA-256 of each array's bytes (hashlib.sha256(a.tobytes())):")
    for name, array in arrays.items():
        digest = hashlib.sha256(array.tobytes()).hexdigest()
        print(f"  {name:<11} {str(array.shape):<15} {array.dtype}  {digest}")
    for split in SIZES:
        counts = np.bincount(arrays[f"y_{split}"], minlength=10)
        print(f"class counts, {split}: {' '.join(map(str, counts))}")


if __name__ == "__main__":
    main()
