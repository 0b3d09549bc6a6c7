"""fetch_mnist: where MNIST is cached, and how it gets there.

The download is our own rather than :func:`sklearn.datasets.fetch_file`:
``fetch_file`` calls ``urlretrieve``, which has no timeout (a server that stops
answering hangs it forever) and does not say which URLs failed and why, and it
retries on every error, a 404 included. What we keep from it is its discipline:
download to a temporary file in the destination folder, check the SHA-256, then
rename atomically, so that the cache never holds a partial or unverified file
and concurrent downloads end with one valid file.
"""

import hashlib
import http.client
import numbers
import os
import tempfile
import time
import urllib.error
import urllib.request
import warnings

from ._base import check_subset, make_bunch
from ._readers import IDX_FILENAMES, NPZ_FILENAME, read_folder, read_npz

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
DATA_HOME_ENV = "SKMNIST_DATA_HOME"
MIRROR_ENV = "SKMNIST_MIRROR"

# HTTP statuses worth another try: the server may answer differently later.
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_CHUNK_SIZE = 1 << 20


class MNISTFetchError(OSError):
    """MNIST is neither in the cache folder nor downloadable.

    The message names the cache folder, every URL tried and why it failed, and
    how to put the data in place by hand.
    """


class _DownloadFailure(Exception):
    """One attempt at one URL failed; `retry` says whether trying again may help."""

    def __init__(self, reason, *, retry):
        super().__init__(reason)
        self.retry = retry


def get_data_home(data_home=None):
    """Return the folder fetch_mnist reads MNIST from and caches it in.

    The folder holds ``mnist.npz`` (or MNIST's four IDX files) directly. It is
    not created here: :func:`fetch_mnist` creates it only to download into it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. If None, the environment variable
        ``SKMNIST_DATA_HOME`` if set, else the subfolder ``mnist`` of
        scikit-learn's data folder (``~/scikit_learn_data/mnist``, or
        ``$SCIKIT_LEARN_DATA/mnist``). ``~`` is expanded.

    Returns
    -------
    data_home : str
        The path of the folder.

    Examples
    --------
    >>> from skmnist.datasets import get_data_home
    >>> get_data_home("~/my_data").endswith("my_data")
    True
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or None
    if data_home is None:
        # The rule of sklearn.datasets.get_data_home, which we do not call
        # because it creates the folder: looking for data must write nothing.
        sklearn_home = os.environ.get(
            "SCIKIT_LEARN_DATA", os.path.join("~", "scikit_learn_data")
        )
        data_home = os.path.join(sklearn_home, "mnist")
    return os.path.expanduser(os.fspath(data_home))


def fetch_mnist(
    *,
    subset="train",
    data_home=None,
    download_if_missing=True,
    return_X_y=False,
    mirror=None,
    n_retries=3,
    delay=1.0,
    timeout=60.0,
):
    """Load the MNIST handwritten digits, downloading them if necessary.

    =================   ======================
    Classes                                 10
    Samples total       70,000 (60,000 train,
                        10,000 test)
    Dimensionality      28 x 28 pixels
    Features            integers 0-255 (uint8)
    =================   ======================

    The data is read from the folder :func:`get_data_home` returns. A folder
    that already holds MNIST, as ``mnist.npz`` in the Keras layout or as the
    four original IDX files (gzipped or not), is used as it is: it may be
    read-only, and nothing is written to it. Otherwise ``mnist.npz`` is
    downloaded into it (from `mirror` first, if one is given, then from the
    official URL), verified against its SHA-256, and moved into place
    atomically: an interrupted or corrupt download leaves nothing behind.
    Local copies are checked for MNIST's shapes, dtype and labels.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        The split to load: the 60,000 training images, the 10,000 test images,
        or all 70,000 (training images first).

    data_home : str or path-like, default=None
        The folder holding ``mnist.npz`` or the IDX files, and where a download
        goes. If None, ``$SKMNIST_DATA_HOME`` if set, else
        ``~/scikit_learn_data/mnist`` (see :func:`get_data_home`).

    download_if_missing : bool, default=True
        If False, raise :class:`MNISTFetchError` instead of downloading when the
        data is not in `data_home`.

    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch.

    mirror : str, default=None
        Base URL of a server that serves ``mnist.npz`` (the file is fetched from
        ``<mirror>/mnist.npz`` and must match the official SHA-256). It is tried
        before the official URL. If None, ``$SKMNIST_MIRROR`` if set.

    n_retries : int, default=3
        Number of retries per URL after a failure that may be temporary (a
        timeout, a lost connection, a truncated body, HTTP 5xx). A 404 or a
        checksum mismatch moves on to the next URL at once.

    delay : float, default=1.0
        Number of seconds between retries.

    timeout : float, default=60.0
        Seconds to wait for the server to accept the connection, answer, or
        send the next block of data, before the attempt fails.

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
            Description of the dataset: source, license, citation.

    (images, target) : tuple if ``return_X_y`` is True
        The arrays described above.

    Raises
    ------
    MNISTFetchError
        If the data is not in `data_home` and cannot be downloaded (or
        `download_if_missing` is False). A subclass of OSError.
    MNISTFormatError
        If `data_home` holds a copy of MNIST that is broken. A subclass of
        ValueError.

    See Also
    --------
    load_mnist_sample : A small sample of MNIST shipped with skmnist.

    Examples
    --------
    >>> from skmnist.datasets import fetch_mnist
    >>> X, y = fetch_mnist(subset="test", return_X_y=True)
    >>> X.shape, X.dtype
    ((10000, 28, 28), dtype('uint8'))
    >>> y[:10]
    array([7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    """
    splits = check_subset(subset)
    _check_download_params(n_retries, delay, timeout)
    folder = get_data_home(data_home)
    arrays = read_folder(folder, splits)
    if arrays is None:
        if not download_if_missing:
            raise MNISTFetchError(
                f"MNIST is not in {folder}, and download_if_missing=False forbids "
                f"downloading it.\n{_manual_install_hint(folder)}"
            )
        path = download(
            download_urls(mirror),
            folder,
            sha256=MNIST_SHA256,
            n_retries=n_retries,
            delay=delay,
            timeout=timeout,
        )
        arrays = read_npz(path, splits)
    return make_bunch(arrays, splits, descr_file="mnist.rst", return_X_y=return_X_y)


def download_urls(mirror=None):
    """The URLs to download ``mnist.npz`` from, in the order they are tried."""
    if mirror is None:
        mirror = os.environ.get(MIRROR_ENV) or None
    urls = [MNIST_URL]
    if mirror is not None:
        urls.insert(0, f"{str(mirror).rstrip('/')}/{NPZ_FILENAME}")
    return urls


def download(urls, folder, *, sha256, n_retries, delay, timeout):
    """Download ``mnist.npz`` into `folder` from the first URL that works.

    Each URL is tried up to ``1 + n_retries`` times while its failures may be
    temporary. The file is written to a temporary file in `folder`, checked
    against `sha256` and then renamed to ``mnist.npz``; whatever fails, no
    temporary file is left behind.

    Returns
    -------
    path : str
        The path of the verified ``mnist.npz``.
    """
    path = os.path.join(folder, NPZ_FILENAME)
    failures = []
    for url in urls:
        for attempt in range(1, n_retries + 2):
            try:
                _download_once(url, path, sha256=sha256, timeout=timeout)
                return path
            except _DownloadFailure as exc:
                failure = exc
            if not failure.retry or attempt > n_retries:
                break
            warnings.warn(
                f"Downloading {url} failed ({failure}); retrying in {delay} s "
                f"(retry {attempt} of {n_retries}).",
                stacklevel=3,
            )
            time.sleep(delay)
        tries = f" ({attempt} attempts)" if attempt > 1 else ""
        failures.append(f"  - {url}: {failure}{tries}")
    raise MNISTFetchError(
        f"MNIST is not in {folder}, and it could not be downloaded:\n"
        + "\n".join(failures)
        + f"\n{_manual_install_hint(folder)}"
    )


def _download_once(url, path, *, sha256, timeout):
    folder, name = os.path.split(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, temp_path = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise MNISTFetchError(
            f"MNIST is not in {folder}, and it cannot be downloaded there: {exc}\n"
            f"{_manual_install_hint(folder)}"
        ) from exc
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _copy_url(url, out, timeout=timeout)
        if digest != sha256:
            raise _DownloadFailure(
                f"the file's SHA-256 is {digest}, expected {sha256}", retry=False
            )
        os.chmod(temp_path, 0o644)  # mkstemp makes it 0o600
        # Atomic on one file system: a concurrent reader sees the old state or
        # the whole verified file, and concurrent downloads each replace it whole.
        os.replace(temp_path, path)
    finally:
        if os.path.lexists(temp_path):
            os.unlink(temp_path)


def _copy_url(url, out, *, timeout):
    """Copy the body at `url` to the binary file `out`; return its SHA-256."""
    hasher = hashlib.sha256()
    received = 0
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _DownloadFailure(
            f"HTTP error {exc.code} {exc.reason}",
            retry=exc.code in _RETRY_STATUSES,
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _DownloadFailure(_describe(exc, timeout), retry=True) from exc
    with response:
        length = response.headers.get("Content-Length")
        while True:
            try:
                chunk = response.read(_CHUNK_SIZE)
            except (OSError, http.client.HTTPException) as exc:
                raise _DownloadFailure(
                    f"{_describe(exc, timeout)} after {received} bytes", retry=True
                ) from exc
            if not chunk:
                break
            hasher.update(chunk)
            out.write(chunk)
            received += len(chunk)
    # http.client's read(n) returns b"" when the connection closes early, even
    # if fewer than Content-Length bytes came: check the length ourselves.
    if length is not None and length.isdigit() and received != int(length):
        raise _DownloadFailure(
            f"the connection closed after {received} of {length} bytes", retry=True
        )
    return hasher.hexdigest()


def _describe(exc, timeout):
    """Say in words why a connection failed."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, Exception):
        exc = exc.reason
    elif isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, TimeoutError):
        return f"no answer within the {timeout} s timeout"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror  # e.g. "Connection refused"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _manual_install_hint(folder):
    idx_files = [name for pair in IDX_FILENAMES.values() for name in pair]
    return (
        f"To install MNIST by hand, download {MNIST_URL} (SHA-256 {MNIST_SHA256}) "
        f"and place it at {os.path.join(folder, NPZ_FILENAME)}; or set "
        f"{DATA_HOME_ENV} (or pass data_home=) to a folder that holds "
        f"{NPZ_FILENAME} or the four IDX files {', '.join(idx_files)} (each may "
        f"be gzipped, .gz); or pass mirror= (or set {MIRROR_ENV}) to the base URL "
        f"of a server that serves {NPZ_FILENAME}."
    )


def _check_download_params(n_retries, delay, timeout):
    if not isinstance(n_retries, numbers.Integral) or n_retries < 0:
        raise ValueError(f"n_retries must be an integer >= 0; got {n_retries!r}.")
    if not isinstance(delay, numbers.Real) or delay < 0:
        raise ValueError(f"delay must be a number >= 0; got {delay!r}.")
    if not isinstance(timeout, numbers.Real) or timeout <= 0:
        raise ValueError(f"timeout must be a number > 0; got {timeout!r}.")
