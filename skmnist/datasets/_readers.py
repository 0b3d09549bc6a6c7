"""Readers for the two faithful forms of MNIST, with validation.

The two forms are Keras' ``mnist.npz`` (arrays ``x_train``, ``y_train``, ``x_test``,
``y_test``) and the four original IDX files, each gzipped or not. Every array is
checked for MNIST's shape, dtype and label range before it is returned, and a
broken file raises :class:`MNISTFormatError` naming the file and what is wrong.
"""

import gzip
import os
import struct
import zipfile
import zlib

import numpy as np

from .._errors import UserError

IMAGE_SHAPE = (28, 28)
MNIST_SIZES = {"train": 60_000, "test": 10_000}
NPZ_FILENAME = "mnist.npz"
NPZ_KEYS = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}
IDX_FILENAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# IDX magic numbers: two zero bytes, the type code (0x08: unsigned byte), the rank.
IDX_IMAGES_MAGIC = 0x0803  # 2051
IDX_LABELS_MAGIC = 0x0801  # 2049
_SPLIT_NAMES = {"train": "training", "test": "test"}


class MNISTFormatError(UserError, ValueError):
    """A file that should hold MNIST does not: bad format, shape, dtype or labels.

    The message names the file and what is wrong with it.
    """


def read_folder(folder, splits):
    """Read the MNIST copy held in `folder`, or return None if there is none.

    ``mnist.npz`` is used if present; otherwise the IDX files of the requested
    splits (``<name>`` preferred over ``<name>.gz``).

    Parameters
    ----------
    folder : str
        Folder to look in. Nothing in it is created or modified.
    splits : tuple of str
        Splits to read, among "train" and "test".

    Returns
    -------
    arrays : dict or None
        Split -> ``(images, labels)``; None when the folder holds neither
        ``mnist.npz`` nor the IDX files of every requested split.
    """
    npz_path = os.path.join(folder, NPZ_FILENAME)
    if os.path.lexists(npz_path):
        try:
            return read_npz(npz_path, splits)
        except MNISTFormatError as exc:
            raise MNISTFormatError(
                f"{exc} {_fresh_copy_hint(folder, npz_path)}"
            ) from exc.__cause__
    idx_paths = {split: _find_idx_pair(folder, split) for split in splits}
    if any(paths is None for paths in idx_paths.values()):
        return None
    return {
        split: read_idx_pair(*idx_paths[split], n_samples=MNIST_SIZES[split])
        for split in splits
    }


def read_npz(path, splits, sizes=MNIST_SIZES):
    """Read and validate the arrays of `splits` from an MNIST ``.npz`` file.

    Only the arrays of the requested splits are decompressed.

    Parameters
    ----------
    path : str or path-like
        An ``.npz`` file in the Keras layout (``x_train``, ``y_train``,
        ``x_test``, ``y_test``). Extra arrays are ignored.
    splits : tuple of str
        Splits to read, among "train" and "test".
    sizes : dict, default=MNIST_SIZES
        Split -> the number of images it must hold.

    Returns
    -------
    arrays : dict
        Split -> ``(images, labels)``.
    """
    path = os.fspath(path)
    # Opened first, so that a file we may not read raises the OSError it is.
    with open(path, "rb") as file:
        return _read_npz_file(file, path, splits, sizes)


def _read_npz_file(file, path, splits, sizes):
    # np.load would try a non-zip file as .npy, then as a pickle, and its error
    # would not say what is wrong; is_zipfile also catches most truncated archives.
    if not zipfile.is_zipfile(file):
        raise MNISTFormatError(
            f"{path} is not an .npz (zip) archive: it is not MNIST in the Keras "
            "layout, or it is truncated or corrupt."
        )
    file.seek(0)
    try:
        npz = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MNISTFormatError(f"{path} cannot be read as .npz: {exc}") from exc
    arrays = {}
    with npz:
        for split in splits:
            keys = NPZ_KEYS[split]
            missing = [key for key in keys if key not in npz.files]
            if missing:
                raise MNISTFormatError(
                    f"{path} has no array {' or '.join(missing)}: an MNIST .npz "
                    "holds x_train, y_train, x_test and y_test; this one holds "
                    f"{', '.join(npz.files) or 'nothing'}."
                )
            images, labels = (_npz_array(npz, path, key) for key in keys)
            _check_images(images, sizes[split], f"{path}: {keys[0]}", split)
            _check_labels(labels, sizes[split], f"{path}: {keys[1]}")
            arrays[split] = images, labels
    return arrays


def read_idx_pair(images_path, labels_path, *, n_samples):
    """Read and validate one split stored as an IDX images file and labels file.

    Parameters
    ----------
    images_path, labels_path : str
        IDX files (magic numbers 2051 and 2049), gzipped if the name ends in
        ``.gz``.
    n_samples : int
        The number of images the split must hold.

    Returns
    -------
    images : ndarray of shape (n_samples, 28, 28), dtype uint8
    labels : ndarray of shape (n_samples,), dtype uint8
    """
    images = _read_idx(images_path, IDX_IMAGES_MAGIC, (n_samples, *IMAGE_SHAPE))
    labels = _read_idx(labels_path, IDX_LABELS_MAGIC, (n_samples,))
    _check_labels(labels, n_samples, labels_path)
    return images, labels


def _fresh_copy_hint(folder, path):
    """How to replace a broken mnist.npz, for the error's message."""
    if os.access(folder, os.W_OK | os.X_OK):
        return (
            f"To download a fresh copy, delete {path} and call fetch_mnist again "
            "(with download_if_missing=True, the default)."
        )
    return (
        f"{folder} is not writable: replace the file with a good copy, or pass "
        "data_home= (or set SKMNIST_DATA_HOME) to a folder you can write to, "
        "where fetch_mnist will download a fresh copy."
    )


def _npz_array(npz, path, key):
    try:
        return npz[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise MNISTFormatError(f"{path}: array {key} cannot be read: {exc}") from exc


def _check_images(images, n_samples, where, split):
    if images.dtype != np.uint8:
        raise MNISTFormatError(
            f"{where} has dtype {images.dtype}; MNIST's images are uint8."
        )
    expected = (n_samples, *IMAGE_SHAPE)
    if images.shape != expected:
        raise MNISTFormatError(
            f"{where} has shape {images.shape}; MNIST's {_SPLIT_NAMES[split]} "
            f"images have shape {expected}."
        )


def _check_labels(labels, n_samples, where):
    if labels.shape != (n_samples,):
        raise MNISTFormatError(
            f"{where} has shape {labels.shape}; expected ({n_samples},), one label "
            "per image."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise MNISTFormatError(
            f"{where} has dtype {labels.dtype}; MNIST's labels are integers."
        )
    low, high = labels.min(), labels.max()
    if low < 0 or high > 9:
        raise MNISTFormatError(
            f"{where} holds labels from {low} to {high}; MNIST's labels are the "
            "digits 0 to 9."
        )


def _find_idx_pair(folder, split):
    """Paths of a split's two IDX files in `folder`; None if neither is there."""
    paths = [_find_idx_file(folder, name) for name in IDX_FILENAMES[split]]
    if paths[0] is None and paths[1] is None:
        return None
    for path, name in zip(paths, IDX_FILENAMES[split], strict=True):
        if path is None:
            raise MNISTFormatError(
                f"{folder} holds half of MNIST's {_SPLIT_NAMES[split]} split in "
                f"IDX format: {name} (or {name}.gz) is missing."
            )
    return paths


def _find_idx_file(folder, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(folder, candidate)
        if os.path.lexists(path):
            return path
    return None


def _read_idx(path, magic, shape):
    """Read an IDX file of unsigned bytes that must have `magic` and `shape`."""
    header_size = 4 * (1 + len(shape))
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as file:
            header = file.read(header_size)
            if len(header) < header_size:
                raise MNISTFormatError(
                    f"{path} is too short to hold an IDX header ({len(header)} "
                    f"bytes, expected {header_size})."
                )
            found_magic, *dims = struct.unpack(f">{1 + len(shape)}I", header)
            if found_magic != magic:
                raise MNISTFormatError(
                    f"{path} has IDX magic number {found_magic}; expected {magic} "
                    f"(unsigned bytes in {len(shape)} dimensions)."
                )
            if tuple(dims) != shape:
                raise MNISTFormatError(
                    f"{path} has IDX dimensions {tuple(dims)}; expected {shape}."
                )
            array = np.empty(shape, dtype=np.uint8)
            _read_into(file, array, path)
    except (OSError, EOFError, zlib.error) as exc:
        raise MNISTFormatError(f"{path} cannot be read: {exc}") from exc
    return array


def _read_into(file, array, path):
    """Fill `array` with the rest of `file`, which must be exactly its size."""
    buffer = memoryview(array).cast("B")
    filled = 0
    while filled < buffer.nbytes:
        count = file.readinto(buffer[filled:])
        if not count:
            raise MNISTFormatError(
                f"{path} is truncated: it holds {filled} bytes of data, its "
                f"header announces {buffer.nbytes}."
            )
        filled += count
    if file.read(1):
        raise MNISTFormatError(
            f"{path} has more data than the {buffer.nbytes} bytes its header announces."
        )
