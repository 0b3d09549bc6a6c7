"""fetch_mnist: where MNIST is cached, and how it gets there.

The download is our own rather than :func:`sklearn.datasets.fetch_file`:
``fetch_file`` calls ``urlretrieve``, which has no timeout (a server that stops
answering hangs it forever) and does not say which URLs failed and why, and it
retries on every error, a 404 included. What we keep from it is its discipline:
download to a temporary file in the destination folder, check the SHA-256, then
rename atomically, so that the cache never holds a partial or unverified file
and concurrent downloads end with one valid file.

Two bounds keep a failing download short: `timeout` for each wait on the server,
and `max_time` for a whole attempt, so that a server that stops sending fails
after ``(1 + n_retries) * timeout`` seconds (and the retries' delays) in all, and
one that trickles fails after ``max_time``. A temporary file left behind by a
killed process is removed by the next download into the folder; a download that
fails leaves no folder it created.
"""

import hashlib
import http.client
import numbers
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings

try:
    import fcntl
except ImportError:  # Windows, where an open file cannot be deleted: lock enough
    fcntl = None

from .._errors import UserError
from ._base import check_subset, make_bunch
from ._readers import IDX_FILENAMES, NPZ_FILENAME, read_folder, read_npz

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
DATA_HOME_ENV = "SKMNIST_DATA_HOME"
MIRROR_ENV = "SKMNIST_MIRROR"

# HTTP statuses worth another try: the server may answer differently later.
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_CHUNK_SIZE = 1 << 20
# Temporary files of downloads: .mnist.npz.<random>.part, next to mnist.npz.
_PART_PREFIX = f".{NPZ_FILENAME}."
_PART_SUFFIX = ".part"


class MNISTFetchError(UserError, OSError):
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
    not created here: :func:`fetch_mnist` creates it only when a download
    starts to arrive, and removes it again if that download fails.

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
    timeout=15.0,
    max_time=120.0,
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
    atomically: an interrupted or corrupt download leaves nothing behind (a
    temporary file left by a killed process is removed by the next download,
    and a download that fails removes the folder it created). Local copies are
    checked for MNIST's shapes, dtype and labels; a broken one raises
    :class:`MNISTFormatError`, whose message says how to download a fresh copy
    (delete the file named, and call again).

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
        timeout, a lost connection, a truncated body, HTTP 5xx). A 404, a
        checksum mismatch or an attempt that runs out of `max_time` moves on
        to the next URL at once.

    delay : float, default=1.0
        Number of seconds between retries.

    timeout : float, default=15.0
        Seconds to wait for the server to accept the connection, answer, or
        send the next block of data, before the attempt fails. With the
        defaults, a server that stops answering fails after about a minute
        in all: 4 attempts of 15 s and 3 delays of 1 s.

    max_time : float, default=120.0
        Seconds one attempt may take in all, from connecting to the last
        byte: a server that sends, but too slowly to finish, fails after
        `max_time` (give it more on a slow connection). The body is checked
        against it after each block received, so an attempt ends at most
        `timeout` seconds later.

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
        ValueError. The message names the file and what is wrong, and how to
        get a fresh copy.
    OSError
        If `data_home` holds a copy of MNIST that cannot be read (for example
        PermissionError).

    See Also
    --------
    load_mnist_sample : A small sample of MNIST shipped with skmnist.

    Examples
    --------
    The first call downloads MNIST (11 MB) into :func:`get_data_home`; later
    calls read it from there. This example reads a copy already in place, so
    it never downloads:

    >>> from skmnist.datasets import fetch_mnist
    >>> X, y = fetch_mnist(subset="test", return_X_y=True, download_if_missing=False)
    >>> X.shape, X.dtype, y.shape
    ((10000, 28, 28), dtype('uint8'), (10000,))
    >>> sorted(set(y.tolist()))
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    splits = check_subset(subset)
    _check_download_params(n_retries, delay, timeout, max_time)
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
            max_time=max_time,
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


def download(urls, folder, *, sha256, n_retries, delay, timeout, max_time):
    """Download ``mnist.npz`` into `folder` from the first URL that works.

    Each URL is tried up to ``1 + n_retries`` times while its failures may be
    temporary. The file is written to a temporary file in `folder`, checked
    against `sha256` and then renamed to ``mnist.npz``; whatever fails, no
    temporary file is left behind, and no folder that this call created.
    Temporary files that killed downloads left in `folder` are removed first.

    Returns
    -------
    path : str
        The path of the verified ``mnist.npz``.
    """
    path = os.path.join(folder, NPZ_FILENAME)
    _check_can_create(folder)
    remove_stale_parts(folder)
    created = []  # the folders this call made, outermost first
    failures = []
    try:
        for url in urls:
            for attempt in range(1, n_retries + 2):
                try:
                    _download_once(
                        url, path, sha256, timeout, max_time, created=created
                    )
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
    except BaseException:
        _remove_empty(created)
        raise
    _remove_empty(created)
    raise MNISTFetchError(
        f"MNIST is not in {folder}, and it could not be downloaded:\n"
        + "\n".join(failures)
        + f"\n{_manual_install_hint(folder)}"
    )


def remove_stale_parts(folder):
    """Remove the temporary files that killed downloads left in `folder`.

    A download holds an exclusive lock on its temporary file until the file is
    renamed, and the system drops the lock when the process ends, however it
    ends: a file that can be locked belongs to no running download. Without
    ``fcntl`` (Windows), the system refuses to delete a file that a running
    download holds open.
    """
    try:
        entries = [
            entry.path
            for entry in os.scandir(folder)
            if entry.name.startswith(_PART_PREFIX) and entry.name.endswith(_PART_SUFFIX)
        ]
    except OSError:  # no folder yet, or not one we can list: nothing to clean
        return
    for part in entries:
        if fcntl is None:
            _unlink_quietly(part)
            continue
        try:
            fd = os.open(part, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # The same file still: not one renamed into place meanwhile.
            if os.path.samestat(os.fstat(fd), os.stat(part)):
                os.unlink(part)
        except OSError:
            pass  # a running download's, or gone already
        finally:
            os.close(fd)


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _check_can_create(folder):
    """Fail early, before any download, when `folder` cannot be created or written."""
    existing = os.path.abspath(folder)
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        problem = "not a folder" if not os.path.isdir(existing) else "not writable"
        raise MNISTFetchError(
            f"MNIST is not in {folder}, and it cannot be downloaded there: "
            f"{existing} is {problem}.\n{_manual_install_hint(folder)}"
        )


def _make_folders(folder, created):
    """Create `folder` and its missing parents; append each one made to `created`."""
    missing = []
    head = os.path.abspath(folder)
    while not os.path.isdir(head):
        missing.append(head)
        head = os.path.dirname(head)
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:
            continue  # made meanwhile by a concurrent download: not ours
        created.append(path)


def _remove_empty(created):
    """Remove the folders in `created`, innermost first, if they are empty."""
    for path in reversed(created):
        try:
            os.rmdir(path)
        except OSError:
            return  # not empty: a concurrent download wrote there
    created.clear()


def _download_once(url, path, sha256, timeout, max_time, *, created):
    deadline = time.monotonic() + max_time
    response = _open_url(url, timeout)
    with response:
        folder = os.path.dirname(path)
        try:
            fd, temp_path = _create_part_file(folder, created)
        except OSError as exc:
            raise MNISTFetchError(
                f"MNIST is not in {folder}, and it cannot be downloaded there: "
                f"{exc}\n{_manual_install_hint(folder)}"
            ) from exc
        try:
            with os.fdopen(fd, "wb") as out:
                digest = _copy_body(response, out, timeout, max_time, deadline)
                if digest != sha256:
                    raise _DownloadFailure(
                        f"the file's SHA-256 is {digest}, expected {sha256}",
                        retry=False,
                    )
                out.flush()
                os.fsync(out.fileno())
                os.chmod(temp_path, 0o644)  # mkstemp makes it 0o600
                if fcntl is not None:
                    # Renamed while still locked, so that no cleaner takes it
                    # for stale. Atomic on one file system: a concurrent reader
                    # sees the old state or the whole verified file.
                    os.replace(temp_path, path)
            if fcntl is None:
                os.replace(temp_path, path)  # Windows renames only closed files
        finally:
            if os.path.lexists(temp_path):
                os.unlink(temp_path)


def _create_part_file(folder, created):
    """A new, locked temporary file in `folder`, made if need be: ``(fd, path)``."""
    races = 0
    while True:
        _make_folders(folder, created)
        try:
            fd, temp_path = tempfile.mkstemp(
                prefix=_PART_PREFIX, suffix=_PART_SUFFIX, dir=folder
            )
        except FileNotFoundError:
            races += 1
            if races > 3:
                raise
            continue  # a failed concurrent download removed the empty folder
        if fcntl is None:
            return fd, temp_path
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a file system without locks: do without
            return fd, temp_path
        if os.fstat(fd).st_nlink:
            return fd, temp_path
        # A cleaner took the file for stale between its creation and the lock.
        os.close(fd)


def _open_url(url, timeout):
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _DownloadFailure(
            f"HTTP error {exc.code} {exc.reason}",
            retry=exc.code in _RETRY_STATUSES,
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _DownloadFailure(_describe(exc, timeout), retry=True) from exc


def _copy_body(response, out, timeout, max_time, deadline):
    """Copy the body of `response` to the binary file `out`; return its SHA-256."""
    hasher = hashlib.sha256()
    received = 0
    length = response.headers.get("Content-Length")
    of_length = f" of {length}" if length is not None else ""
    progress = _DownloadProgress(response.geturl(), length)
    try:
        while True:
            if time.monotonic() > deadline:
                raise _DownloadFailure(
                    f"the download did not finish within max_time={max_time:g} s "
                    f"({received}{of_length} bytes received): pass a larger "
                    "max_time= on a slow connection",
                    retry=False,
                )
            try:
                # read1: one read from the socket at most, so that a server
                # sending a byte at a time still meets the deadline check above.
                chunk = response.read1(_CHUNK_SIZE)
            except (OSError, http.client.HTTPException) as exc:
                raise _DownloadFailure(
                    f"{_describe(exc, timeout)} after {received} bytes", retry=True
                ) from exc
            if not chunk:
                break
            hasher.update(chunk)
            out.write(chunk)
            received += len(chunk)
            progress.update(received)
    finally:
        progress.close()
    # http.client's reads return b"" when the connection closes early, even
    # if fewer than Content-Length bytes came: check the length ourselves.
    if length is not None and length.isdigit() and received != int(length):
        raise _DownloadFailure(
            f"the connection closed after {received} of {length} bytes", retry=True
        )
    return hasher.hexdigest()


class _DownloadProgress:
    """A download's progress, on standard error when that is a terminal.

    One line, redrawn with ``"\r"`` whenever the megabytes or the percentage
    shown change; nothing at all when standard error is a file or a pipe (a log,
    CI), which a progress line would only clutter.
    """

    def __init__(self, url, length):
        stream = sys.stderr
        try:
            self._stream = stream if stream is not None and stream.isatty() else None
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            self._stream = None
        self._url = url
        self._total = int(length) if length is not None and length.isdigit() else None
        self._shown = None

    def update(self, received):
        if self._stream is None:
            return
        text = f"Downloading {self._url}: {received / 1e6:.1f}"
        if self._total:
            percent = 100 * received // self._total
            text += f" of {self._total / 1e6:.1f} MB ({percent}%)"
        else:
            text += " MB"
        if text != self._shown:
            self._stream.write(f"\r{text}")
            self._stream.flush()
            self._shown = text

    def close(self):
        """End the line (a failure's message then starts on a line of its own)."""
        if self._stream is not None and self._shown is not None:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = None


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


def _check_download_params(n_retries, delay, timeout, max_time):
    if not isinstance(n_retries, numbers.Integral) or n_retries < 0:
        raise ValueError(f"n_retries must be an integer >= 0; got {n_retries!r}.")
    if not isinstance(delay, numbers.Real) or delay < 0:
        raise ValueError(f"delay must be a number >= 0; got {delay!r}.")
    if not isinstance(timeout, numbers.Real) or timeout <= 0:
        raise ValueError(f"timeout must be a number > 0; got {timeout!r}.")
    if not isinstance(max_time, numbers.Real) or max_time <= 0:
        raise ValueError(f"max_time must be a number > 0; got {max_time!r}.")
