"""Tests of skmnist.datasets: fetch_mnist, load_mnist_sample and their readers.

Downloads are tested against a real HTTP server on 127.0.0.1 (tests/_http_server.py)
serving a synthetic MNIST of the real shapes, with the expected URL and SHA-256
patched to point at it. Tests marked "real data" read the actual MNIST from
$SKMNIST_DATA_HOME and fail, not skip, when it is not there.
"""

import concurrent.futures
import doctest
import fcntl
import gzip
import hashlib
import importlib.util
import inspect
import io
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from _http_server import Reply, ScriptedServer

from skmnist.datasets import (
    MNISTFetchError,
    MNISTFormatError,
    _fetch,
    _sample,
    fetch_mnist,
    get_data_home,
    load_mnist_sample,
)

ROOT = Path(__file__).resolve().parents[1]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# SHA-256 of the original arrays' bytes (see /work/shared/data/README.md).
REAL_ARRAY_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
FAST = {"n_retries": 0, "delay": 0.0, "timeout": 5.0}


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="session")
def synthetic():
    """A synthetic MNIST of the real shapes: blank images marked 1 (train) or 2
    (test) in their top-left pixel, random labels."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n, mark in [("train", 60_000, 1), ("test", 10_000, 2)]:
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = mark
        arrays[f"x_{split}"] = images
        arrays[f"y_{split}"] = rng.integers(0, 10, n, dtype=np.uint8)
    return arrays


@pytest.fixture(scope="session")
def synthetic_npz(synthetic):
    """The bytes of `synthetic` saved as mnist.npz."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **synthetic)
    return buffer.getvalue()


@pytest.fixture
def npz_folder(tmp_path, synthetic_npz):
    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "mnist.npz").write_bytes(synthetic_npz)
    return folder


@pytest.fixture
def server():
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def official(server, synthetic_npz, monkeypatch):
    """Make the server the official source of the synthetic mnist.npz."""
    monkeypatch.delenv("SKMNIST_MIRROR", raising=False)
    monkeypatch.setattr(_fetch, "MNIST_URL", server.url("/official/mnist.npz"))
    monkeypatch.setattr(
        _fetch, "MNIST_SHA256", hashlib.sha256(synthetic_npz).hexdigest()
    )
    server.script("/official/mnist.npz", Reply(body=synthetic_npz))
    return server


def write_idx(path, array, *, magic=None, dims=None):
    """Write `array` as an IDX file (gzipped if `path` ends in .gz); `magic` and
    `dims` override the header's."""
    magic = magic if magic is not None else 0x0800 + array.ndim
    dims = dims if dims is not None else array.shape
    data = struct.pack(f">{1 + len(dims)}I", magic, *dims) + array.tobytes()
    if path.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=1)
    path.write_bytes(data)


def write_npz(path, **arrays):
    np.savez(path, **arrays)  # uncompressed: faster to write and read


def snapshot(folder):
    """What a folder holds, with sizes and modification times."""
    entries = {".": os.stat(folder).st_mtime_ns}
    for entry in os.scandir(folder):
        info = entry.stat()
        entries[entry.name] = (info.st_size, info.st_mtime_ns)
    return entries


def closed_port_url(path="/mnist.npz"):
    """A URL on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def assert_synthetic(X, y, synthetic, subset):
    splits = ["train", "test"] if subset == "all" else [subset]
    images = np.concatenate([synthetic[f"x_{split}"] for split in splits])
    labels = np.concatenate([synthetic[f"y_{split}"] for split in splits])
    # np.array_equal: assert_array_equal takes a second per MNIST-sized array.
    assert np.array_equal(X, images)
    assert np.array_equal(y, labels)
    assert X.dtype == np.uint8
    assert y.dtype == np.int64


@pytest.fixture
def real_data_home():
    """The folder $SKMNIST_DATA_HOME names; fail (not skip) when it lacks MNIST."""
    folder = os.environ.get("SKMNIST_DATA_HOME")
    if not folder:
        pytest.fail(
            "SKMNIST_DATA_HOME is not set: the real-MNIST tests need it to name a "
            "folder holding mnist.npz (e.g. SKMNIST_DATA_HOME=/work/shared/data)."
        )
    names = os.listdir(folder) if os.path.isdir(folder) else []
    idx = {name.removesuffix(".gz") for name in names} >= set(IDX_NAMES.values())
    if "mnist.npz" not in names and not idx:
        pytest.fail(
            f"SKMNIST_DATA_HOME={folder} holds neither mnist.npz nor MNIST's four "
            "IDX files: the real-MNIST tests cannot run."
        )
    return folder


# ------------------------------------------------------------- arguments, cache folder


@pytest.mark.parametrize("loader", [fetch_mnist, load_mnist_sample])
@pytest.mark.parametrize("subset", ["training", "TRAIN", None, 0])
def test_bad_subset_names_valid_values(loader, subset):
    with pytest.raises(ValueError, match="'train', 'test', 'all'"):
        loader(subset=subset)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_retries": -1}, "n_retries"),
        ({"n_retries": 1.5}, "n_retries"),
        ({"delay": -1}, "delay"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": None}, "timeout"),
        ({"max_time": 0}, "max_time must be a number > 0"),
        ({"max_time": "60"}, "max_time must be a number > 0"),
    ],
)
def test_bad_download_parameters(kwargs, name, npz_folder):
    with pytest.raises(ValueError, match=name):
        fetch_mnist(data_home=npz_folder, **kwargs)


def test_get_data_home_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("SKMNIST_DATA_HOME", raising=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    assert get_data_home() == str(tmp_path / "sk" / "mnist")
    monkeypatch.setenv("SKMNIST_DATA_HOME", str(tmp_path / "env"))
    assert get_data_home() == str(tmp_path / "env")
    # The argument wins over the environment.
    assert get_data_home(tmp_path / "arg") == str(tmp_path / "arg")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_data_home("~/data") == str(tmp_path / "home" / "data")
    # Resolving creates nothing.
    assert os.listdir(tmp_path) == []


def test_fetch_reads_the_folder_in_the_environment(npz_folder, synthetic, monkeypatch):
    monkeypatch.setenv("SKMNIST_DATA_HOME", str(npz_folder))
    X, y = fetch_mnist(subset="test", return_X_y=True)
    assert_synthetic(X, y, synthetic, "test")
    # An explicit data_home wins over the environment.
    monkeypatch.setenv("SKMNIST_DATA_HOME", str(npz_folder.parent / "elsewhere"))
    X, y = fetch_mnist(subset="test", data_home=npz_folder, return_X_y=True)
    assert_synthetic(X, y, synthetic, "test")


# ------------------------------------------------------------------- local copies


@pytest.mark.parametrize("subset", ["train", "test", "all"])
def test_local_npz_bunch(npz_folder, synthetic, subset):
    bunch = fetch_mnist(subset=subset, data_home=npz_folder)
    assert_synthetic(bunch.images, bunch.target, synthetic, subset)
    assert bunch.data is bunch.images
    np.testing.assert_array_equal(bunch.target_names, np.arange(10))
    assert "LeCun" in bunch.DESCR and "CC BY-SA 3.0" in bunch.DESCR
    X, y = fetch_mnist(subset=subset, data_home=npz_folder, return_X_y=True)
    assert_synthetic(X, y, synthetic, subset)


def test_all_is_train_then_test(npz_folder):
    X, _ = fetch_mnist(subset="all", data_home=npz_folder, return_X_y=True)
    assert X.shape == (70_000, 28, 28)
    assert (X[:60_000, 0, 0] == 1).all() and (X[60_000:, 0, 0] == 2).all()


def test_local_copy_used_as_is_without_network_or_writes(npz_folder, official):
    npz_folder.chmod(0o555)  # root ignores this: check for writes, too
    try:
        before = snapshot(npz_folder)
        fetch_mnist(subset="all", data_home=npz_folder)
        assert snapshot(npz_folder) == before
    finally:
        npz_folder.chmod(0o755)
    assert official.requests == []


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("subset", ["train", "all"])
def test_idx_files(tmp_path, synthetic, official, gz, subset):
    for key, name in IDX_NAMES.items():
        write_idx(tmp_path / (name + (".gz" if gz else "")), synthetic[key])
    before = snapshot(tmp_path)
    X, y = fetch_mnist(subset=subset, data_home=tmp_path, return_X_y=True)
    assert_synthetic(X, y, synthetic, subset)
    assert X.flags.writeable
    assert snapshot(tmp_path) == before
    assert official.requests == []


def test_npz_is_preferred_over_idx(npz_folder, synthetic):
    images = np.full((10_000, 28, 28), 7, dtype=np.uint8)
    write_idx(npz_folder / IDX_NAMES["x_test"], images)
    write_idx(npz_folder / IDX_NAMES["y_test"], synthetic["y_test"])
    X, _ = fetch_mnist(subset="test", data_home=npz_folder, return_X_y=True)
    assert (X[:, 0, 0] == 2).all()


def _breakers(synthetic):
    """Ways to break a local mnist.npz: (name, writer, expected message)."""

    def with_changes(**changes):
        def write(path):  # the training split only: what fetch_mnist reads
            arrays = {"x_train": synthetic["x_train"], "y_train": synthetic["y_train"]}
            arrays.update(changes)
            write_npz(path, **{k: v for k, v in arrays.items() if v is not None})

        return write

    labels = synthetic["y_train"].copy()
    labels[123] = 10
    return {
        "wrong shape": (
            with_changes(x_train=np.zeros((100, 28, 28), np.uint8)),
            r"x_train has shape \(100, 28, 28\).*\(60000, 28, 28\)",
        ),
        "wrong dtype": (
            with_changes(x_train=np.zeros((100, 28, 28), np.float32)),
            "x_train has dtype float32.*uint8",
        ),
        "label 10": (with_changes(y_train=labels), "y_train holds labels from 0 to 10"),
        "float labels": (
            with_changes(y_train=synthetic["y_train"].astype(float)),
            "y_train has dtype float64",
        ),
        "labels shape": (
            with_changes(y_train=synthetic["y_train"][:10]),
            r"y_train has shape \(10,\)",
        ),
        "missing key": (with_changes(y_train=None), "has no array y_train"),
        "pickled": (
            with_changes(y_train=np.array([None] * 60_000, dtype=object)),
            "array y_train cannot be read",
        ),
        "not a zip": (
            lambda path: path.write_text("<html>Not found</html>"),
            r"is not an \.npz \(zip\) archive",
        ),
        "truncated": (
            lambda path: path.write_bytes(b"PK\x03\x04" + bytes(1000)),
            r"is not an \.npz \(zip\) archive",
        ),
    }


@pytest.mark.parametrize(
    "breaker",
    [
        "wrong shape",
        "wrong dtype",
        "label 10",
        "float labels",
        "labels shape",
        "missing key",
        "pickled",
        "not a zip",
        "truncated",
    ],
)
def test_broken_local_npz_names_file_and_problem(
    tmp_path, synthetic, official, breaker
):
    write, message = _breakers(synthetic)[breaker]
    path = tmp_path / "mnist.npz"
    write(path)
    with pytest.raises(MNISTFormatError, match=re.escape(str(path)) + ".*" + message):
        fetch_mnist(data_home=tmp_path)
    assert official.requests == []  # a broken copy is reported, not replaced


@pytest.mark.parametrize("breaker", ["not a zip", "truncated", "missing key"])
def test_broken_cached_npz_says_how_to_download_a_fresh_copy(
    tmp_path, synthetic, official, breaker
):
    write, message = _breakers(synthetic)[breaker]
    path = tmp_path / "mnist.npz"
    write(path)
    hint = f"To download a fresh copy, delete {path} and call fetch_mnist again"
    with pytest.raises(MNISTFormatError, match=message) as info:
        fetch_mnist(data_home=tmp_path, **FAST)
    assert hint in str(info.value)
    # Following the message's advice works.
    path.unlink()
    X, y = fetch_mnist(data_home=tmp_path, return_X_y=True, **FAST)
    assert_synthetic(X, y, synthetic, "train")
    assert official.requests == ["/official/mnist.npz"]


def test_broken_npz_in_a_read_only_folder_names_the_other_fixes(
    tmp_path, synthetic, monkeypatch
):
    (tmp_path / "mnist.npz").write_bytes(b"")
    # Root may write anywhere: make the folder read-only in the process's eyes.
    monkeypatch.setattr(os, "access", lambda path, mode, **kwargs: False)
    with pytest.raises(MNISTFormatError, match="not an .npz") as info:
        fetch_mnist(data_home=tmp_path, download_if_missing=False)
    message = str(info.value)
    assert f"{tmp_path} is not writable: replace the file with a good copy" in message
    assert "SKMNIST_DATA_HOME" in message
    assert "delete" not in message


def test_npz_that_is_a_folder_raises_oserror(tmp_path):
    (tmp_path / "mnist.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="Is a directory") as info:
        fetch_mnist(data_home=tmp_path, download_if_missing=False)
    assert info.value.filename == str(tmp_path / "mnist.npz")


def test_npz_with_corrupt_member(tmp_path, synthetic_npz):
    data = bytearray(synthetic_npz)
    middle = len(data) // 4  # inside x_train's compressed data
    data[middle : middle + 64] = bytes(64)
    path = tmp_path / "mnist.npz"
    path.write_bytes(bytes(data))
    message = re.escape(str(path)) + ": array x_train cannot be read"
    with pytest.raises(MNISTFormatError, match=message):
        fetch_mnist(data_home=tmp_path)


@pytest.mark.parametrize(
    "case, message",
    [
        ("magic", "has IDX magic number 2049; expected 2051"),
        ("dims", r"has IDX dimensions \(60000, 28, 27\); expected \(60000, 28, 28\)"),
        ("truncated", "is truncated"),
        ("trailing", "has more data than"),
        ("header", "too short to hold an IDX header"),
        ("bad gzip", "cannot be read"),
        ("label 10", "holds labels from 0 to 10"),
        ("half pair", "train-labels-idx1-ubyte .or train-labels-idx1-ubyte.gz. is"),
    ],
)
def test_broken_idx_names_file_and_problem(tmp_path, synthetic, case, message):
    # Gzipped (small, quick to write); the raw files go through the same code.
    images = tmp_path / (IDX_NAMES["x_train"] + ".gz")
    labels = tmp_path / (IDX_NAMES["y_train"] + ".gz")
    x, y = synthetic["x_train"], synthetic["y_train"]
    write_idx(images, x)
    write_idx(labels, y)
    culprit = images
    if case == "magic":
        write_idx(images, x, magic=2049)
    elif case == "dims":
        write_idx(images, x[:, :, :27].copy())
    elif case == "truncated":
        write_idx(images, x[:-1], dims=x.shape)
    elif case == "trailing":
        write_idx(images, np.concatenate([x, x[:1]]), dims=x.shape)
    elif case == "header":
        images.write_bytes(gzip.compress(b"\0\0\x08"))
    elif case == "bad gzip":
        images.write_bytes(b"\x1f\x8b\x08\0garbage")
    elif case == "label 10":
        culprit = labels
        bad_labels = y.copy()
        bad_labels[5] = 10
        write_idx(labels, bad_labels)
    elif case == "half pair":
        culprit = tmp_path
        labels.unlink()
    with pytest.raises(
        MNISTFormatError, match=re.escape(str(culprit)) + ".*" + message
    ):
        fetch_mnist(data_home=tmp_path, download_if_missing=False)


# ----------------------------------------------------------------------- downloads


def test_download_success_then_cache(tmp_path, official, synthetic, synthetic_npz):
    cache = tmp_path / "new" / "cache"
    X, y = fetch_mnist(data_home=cache, return_X_y=True, **FAST)
    assert_synthetic(X, y, synthetic, "train")
    assert os.listdir(cache) == ["mnist.npz"]
    assert (cache / "mnist.npz").read_bytes() == synthetic_npz
    assert official.requests == ["/official/mnist.npz"]
    # The second call reads the cache.
    X, y = fetch_mnist(data_home=cache, subset="test", return_X_y=True, **FAST)
    assert_synthetic(X, y, synthetic, "test")
    assert len(official.requests) == 1


class _Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self):
        return True


def test_download_progress_on_a_terminal(
    tmp_path, official, synthetic_npz, monkeypatch
):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    # Small reads, so that the progress is redrawn as the bytes come.
    monkeypatch.setattr(_fetch, "_CHUNK_SIZE", len(synthetic_npz) // 8 + 1)
    fetch_mnist(data_home=tmp_path, **FAST)
    shown = terminal.getvalue()
    assert shown.startswith("\r") and shown.endswith("\n")
    drawn = shown[1:-1].split("\r")
    assert len(drawn) >= 5
    total = f"{len(synthetic_npz) / 1e6:.1f} MB"
    url = official.url("/official/mnist.npz")
    assert drawn[-1] == f"Downloading {url}: {total[:-3]} of {total} (100%)"
    percents = [int(line.rpartition("(")[2].rstrip("%)")) for line in drawn]
    assert percents == sorted(percents) and percents[0] < 100


def test_download_is_silent_when_not_a_terminal(tmp_path, official, capfd):
    fetch_mnist(data_home=tmp_path, **FAST)
    assert capfd.readouterr() == ("", "")


def test_download_goes_to_the_default_folder(tmp_path, official, monkeypatch):
    monkeypatch.delenv("SKMNIST_DATA_HOME", raising=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path))
    fetch_mnist(**FAST)
    assert os.listdir(tmp_path / "mnist") == ["mnist.npz"]


def test_404_fails_at_once(tmp_path, official):
    official.script("/official/mnist.npz", Reply(status=404))
    with pytest.raises(MNISTFetchError, match="HTTP error 404") as info:
        fetch_mnist(data_home=tmp_path, n_retries=3, delay=0.0)
    assert official.url("/official/mnist.npz") in str(info.value)
    assert official.requests == ["/official/mnist.npz"]  # no retry on a 404
    assert os.listdir(tmp_path) == []


def test_500_then_success_retries(tmp_path, official, synthetic, synthetic_npz):
    official.script("/official/mnist.npz", Reply(status=500), Reply(body=synthetic_npz))
    with pytest.warns(UserWarning, match="HTTP error 500.*retrying"):
        X, y = fetch_mnist(data_home=tmp_path, n_retries=2, delay=0.0, return_X_y=True)
    assert_synthetic(X, y, synthetic, "train")
    assert len(official.requests) == 2
    assert os.listdir(tmp_path) == ["mnist.npz"]


def test_500_gives_up_after_n_retries(tmp_path, official):
    official.script("/official/mnist.npz", Reply(status=503))
    with pytest.warns(UserWarning, match="retrying"):
        with pytest.raises(MNISTFetchError, match=r"HTTP error 503.*\(3 attempts\)"):
            fetch_mnist(data_home=tmp_path, n_retries=2, delay=0.0)
    assert len(official.requests) == 3
    assert os.listdir(tmp_path) == []


def test_truncated_body_leaves_nothing(tmp_path, official, synthetic_npz):
    size = len(synthetic_npz)
    official.script(
        "/official/mnist.npz",
        Reply(body=synthetic_npz[: size // 2], content_length=size),
    )
    with pytest.raises(
        MNISTFetchError, match=f"closed after {size // 2} of {size} bytes"
    ):
        fetch_mnist(data_home=tmp_path / "new" / "cache", **FAST)
    # The folders made for the download are removed with its temporary file.
    assert os.listdir(tmp_path) == []


def test_truncated_body_then_success(tmp_path, official, synthetic_npz):
    size = len(synthetic_npz)
    official.script(
        "/official/mnist.npz",
        Reply(body=synthetic_npz[:1000], content_length=size),
        Reply(body=synthetic_npz),
    )
    with pytest.warns(UserWarning, match="closed after 1000"):
        fetch_mnist(data_home=tmp_path, n_retries=1, delay=0.0)
    assert os.listdir(tmp_path) == ["mnist.npz"]


def test_wrong_checksum_leaves_nothing(tmp_path, official, synthetic_npz):
    official.script("/official/mnist.npz", Reply(body=synthetic_npz[:-1] + b"!"))
    with pytest.raises(MNISTFetchError, match="SHA-256 is [0-9a-f]{64}, expected"):
        fetch_mnist(data_home=tmp_path, n_retries=3, delay=0.0)
    assert official.requests == ["/official/mnist.npz"]  # no retry on a mismatch
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "reply",
    [Reply(delay=30.0), Reply(stall=30.0)],
    ids=["no answer", "stops sending"],
)
@pytest.mark.filterwarnings("ignore:Downloading .* failed")
def test_too_slow_server_times_out(tmp_path, official, synthetic_npz, reply):
    reply.body = synthetic_npz
    official.script("/official/mnist.npz", reply)
    start = time.monotonic()
    with pytest.raises(MNISTFetchError, match="no answer within the 0.25 s timeout"):
        fetch_mnist(data_home=tmp_path, n_retries=1, delay=0.0, timeout=0.25)
    assert time.monotonic() - start < 15  # generous: two attempts of 0.25 s
    assert len(official.requests) == 2
    assert os.listdir(tmp_path) == []


def test_concurrent_fetches_end_with_one_valid_file(
    tmp_path, official, synthetic, synthetic_npz
):
    # Both requests wait for each other, so that the downloads overlap.
    barrier = threading.Barrier(2, timeout=10)
    official.script("/official/mnist.npz", Reply(body=synthetic_npz, barrier=barrier))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(fetch_mnist, data_home=tmp_path, return_X_y=True, **FAST)
            for _ in range(2)
        ]
        results = [future.result() for future in futures]
    for X, y in results:
        assert_synthetic(X, y, synthetic, "train")
    assert len(official.requests) == 2
    assert os.listdir(tmp_path) == ["mnist.npz"]
    assert (tmp_path / "mnist.npz").read_bytes() == synthetic_npz


@pytest.mark.parametrize("how", ["argument", "argument/", "environment"])
def test_mirror_is_tried_first(tmp_path, official, synthetic_npz, monkeypatch, how):
    official.script("/mirror/mnist.npz", Reply(body=synthetic_npz))
    base = official.url("/mirror")
    if how == "environment":
        monkeypatch.setenv("SKMNIST_MIRROR", base)
        fetch_mnist(data_home=tmp_path, **FAST)
    else:
        fetch_mnist(data_home=tmp_path, mirror=base + how[8:], **FAST)
    assert official.requests == ["/mirror/mnist.npz"]
    assert os.listdir(tmp_path) == ["mnist.npz"]


def test_mirror_argument_wins_over_environment(
    tmp_path, official, synthetic_npz, monkeypatch
):
    official.script("/mirror/mnist.npz", Reply(body=synthetic_npz))
    monkeypatch.setenv("SKMNIST_MIRROR", closed_port_url(""))
    fetch_mnist(data_home=tmp_path, mirror=official.url("/mirror"), **FAST)
    assert official.requests == ["/mirror/mnist.npz"]


@pytest.mark.parametrize(
    "mirror_reply", [Reply(status=404), Reply(body=b"not MNIST")], ids=["404", "sha"]
)
def test_failed_mirror_falls_back_to_official(tmp_path, official, mirror_reply):
    official.script("/mirror/mnist.npz", mirror_reply)
    fetch_mnist(data_home=tmp_path, mirror=official.url("/mirror"), **FAST)
    assert official.requests == ["/mirror/mnist.npz", "/official/mnist.npz"]
    assert os.listdir(tmp_path) == ["mnist.npz"]


def test_offline_error_says_what_was_tried_and_what_to_do(tmp_path, monkeypatch):
    official_url = closed_port_url("/official/mnist.npz")
    mirror = closed_port_url("/mirror")
    monkeypatch.setattr(_fetch, "MNIST_URL", official_url)
    cache = tmp_path / "new" / "cache"
    with pytest.raises(MNISTFetchError) as info:
        fetch_mnist(data_home=cache, mirror=mirror, **FAST)
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert f"MNIST is not in {cache}" in message
    assert f"{mirror}/mnist.npz: Connection refused" in message
    assert f"{official_url}: Connection refused" in message
    assert message.index(mirror) < message.index(official_url)  # mirror first
    assert f"download {official_url}" in message
    assert f"place it at {cache / 'mnist.npz'}" in message
    assert "SKMNIST_DATA_HOME" in message and "SKMNIST_MIRROR" in message
    assert all(name in message for name in IDX_NAMES.values())
    assert os.listdir(tmp_path) == []  # no folder made for nothing


def test_download_if_missing_false(tmp_path, official):
    cache = tmp_path / "cache"
    with pytest.raises(MNISTFetchError, match="download_if_missing=False") as info:
        fetch_mnist(data_home=cache, download_if_missing=False)
    assert f"place it at {cache / 'mnist.npz'}" in str(info.value)
    assert official.requests == []
    assert not cache.exists()


def test_unwritable_cache_folder(tmp_path, official):
    (tmp_path / "file").write_text("")
    with pytest.raises(
        MNISTFetchError,
        match=f"cannot be downloaded there: {tmp_path / 'file'} is not a folder",
    ):
        fetch_mnist(data_home=tmp_path / "file" / "mnist", **FAST)
    assert official.requests == []


def test_read_only_cache_folder_fails_before_downloading(
    tmp_path, official, monkeypatch
):
    monkeypatch.setattr(os, "access", lambda path, mode, **kwargs: False)
    with pytest.raises(MNISTFetchError, match=f"{tmp_path} is not writable"):
        fetch_mnist(data_home=tmp_path / "mnist", **FAST)
    assert official.requests == []
    assert os.listdir(tmp_path) == []


# ------------------------------------------------- slow servers, killed downloads


def test_default_failure_time_of_a_stuck_server_is_about_a_minute():
    defaults = {
        name: param.default
        for name, param in inspect.signature(fetch_mnist).parameters.items()
    }
    # A server that stops answering: every attempt waits `timeout`, in vain.
    attempts = 1 + defaults["n_retries"]
    stuck = attempts * defaults["timeout"] + defaults["n_retries"] * defaults["delay"]
    assert 45 <= stuck <= 75
    # One that trickles: one attempt (not retried) of at most max_time + timeout.
    assert defaults["max_time"] + defaults["timeout"] <= 150


def test_trickling_server_fails_at_max_time(tmp_path, official, synthetic_npz):
    # One byte every 20 ms: each read is far within `timeout`, the whole never
    # is within `max_time`. The server stops after 300 bytes (6 s) whatever
    # happens, which bounds this test.
    official.script(
        "/official/mnist.npz",
        Reply(body=synthetic_npz[:300], content_length=300, trickle=0.02),
    )
    cache = tmp_path / "new"
    with pytest.raises(
        MNISTFetchError,
        match=r"did not finish within max_time=0.3 s \(\d+ of 300 bytes received\)"
        r".*pass a larger max_time=",
    ):
        fetch_mnist(data_home=cache, n_retries=2, delay=0, timeout=5, max_time=0.3)
    assert official.requests == ["/official/mnist.npz"]  # not retried
    assert os.listdir(tmp_path) == []


def test_stale_partial_file_is_removed_by_the_next_download(
    tmp_path, official, synthetic, synthetic_npz
):
    stale = tmp_path / ".mnist.npz.x1y2z3.part"
    stale.write_bytes(synthetic_npz[:1000])
    other = tmp_path / "notes.part"  # not ours: left alone
    other.write_text("mine")
    X, y = fetch_mnist(data_home=tmp_path, return_X_y=True, **FAST)
    assert_synthetic(X, y, synthetic, "train")
    assert sorted(os.listdir(tmp_path)) == ["mnist.npz", "notes.part"]


def test_partial_file_of_a_running_download_is_kept(tmp_path, official):
    # A running download holds a lock on its temporary file.
    running = tmp_path / ".mnist.npz.r4nd0m.part"
    running.write_bytes(b"so far")
    with open(running, "rb") as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        fetch_mnist(data_home=tmp_path, **FAST)
        assert sorted(os.listdir(tmp_path)) == [running.name, "mnist.npz"]
    # Once that download is gone, its file is stale.
    (tmp_path / "mnist.npz").unlink()
    fetch_mnist(data_home=tmp_path, **FAST)
    assert os.listdir(tmp_path) == ["mnist.npz"]


def test_download_killed_by_sigterm_is_cleaned_up_by_the_next(
    tmp_path, official, synthetic, synthetic_npz
):
    # A download stalls halfway; its process is killed with SIGTERM.
    official.script("/official/mnist.npz", Reply(body=synthetic_npz, stall=60.0))
    code = (
        "import sys\n"
        "from skmnist.datasets import _fetch, fetch_mnist\n"
        "_fetch.MNIST_URL, _fetch.MNIST_SHA256 = sys.argv[1:3]\n"
        "fetch_mnist(data_home=sys.argv[3], n_retries=0, timeout=60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", code, _fetch.MNIST_URL, _fetch.MNIST_SHA256, tmp_path],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        give_up = time.monotonic() + 60
        while not list(tmp_path.glob(".mnist.npz.*.part")):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < give_up, "the download never started"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGTERM
    [part] = tmp_path.glob(".mnist.npz.*.part")  # what SIGTERM leaves behind

    official.script("/official/mnist.npz", Reply(body=synthetic_npz))
    X, y = fetch_mnist(data_home=tmp_path, return_X_y=True, **FAST)
    assert_synthetic(X, y, synthetic, "train")
    assert os.listdir(tmp_path) == ["mnist.npz"]


# -------------------------------------------------------------------------- sample


def test_sample_needs_no_data_home_and_no_network(tmp_path, monkeypatch):
    monkeypatch.delenv("SKMNIST_DATA_HOME", raising=False)
    monkeypatch.delenv("SKMNIST_MIRROR", raising=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise AssertionError("load_mnist_sample used the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    bunch = load_mnist_sample(subset="all")
    assert bunch.images.shape == (2_500, 28, 28)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "subset, n, counts",
    [("train", 2_000, TRAIN_COUNTS), ("test", 500, TEST_COUNTS)],
)
def test_sample_is_stratified(subset, n, counts):
    bunch = load_mnist_sample(subset=subset)
    assert bunch.images.shape == (n, 28, 28) and bunch.images.dtype == np.uint8
    assert bunch.data is bunch.images
    assert bunch.target.shape == (n,) and bunch.target.dtype == np.int64
    np.testing.assert_array_equal(bunch.target_names, np.arange(10))
    # Each class in proportion to its share of the full split, within one image.
    expected = n * np.array(counts) / sum(counts)
    assert np.abs(np.bincount(bunch.target, minlength=10) - expected).max() < 1


def test_sample_all_return_X_y_and_descr():
    X, y = load_mnist_sample(subset="all", return_X_y=True)
    X_train, y_train = load_mnist_sample(return_X_y=True)
    X_test, y_test = load_mnist_sample(subset="test", return_X_y=True)
    np.testing.assert_array_equal(X, np.concatenate([X_train, X_test]))
    np.testing.assert_array_equal(y, np.concatenate([y_train, y_test]))
    descr = load_mnist_sample().DESCR
    for text in ["sample", "CC BY-SA 3.0", "LeCun", "Cortes", "Burges", "stratif"]:
        assert text in descr


def test_sample_file_is_small_and_attributed():
    data = ROOT / "skmnist" / "datasets" / "data"
    assert (data / _sample.SAMPLE_FILENAME).stat().st_size < 1_000_000
    readme = (data / "README.txt").read_text()
    assert "CC BY-SA 3.0" in readme and "LeCun" in readme


# ----------------------------------------------------------------------- real data


@pytest.mark.realdata
@pytest.mark.parametrize(
    "subset, counts",
    [
        ("train", TRAIN_COUNTS),
        ("test", TEST_COUNTS),
        ("all", np.add(TRAIN_COUNTS, TEST_COUNTS)),
    ],
)
def test_real_mnist(real_data_home, subset, counts):
    bunch = fetch_mnist(subset=subset, download_if_missing=False)
    n = sum(counts)
    assert bunch.images.shape == (n, 28, 28) and bunch.images.dtype == np.uint8
    assert bunch.target.shape == (n,) and bunch.target.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(bunch.target), counts)
    if subset != "all":
        digest = hashlib.sha256(bunch.images.tobytes()).hexdigest()
        assert digest == REAL_ARRAY_SHA256[f"x_{subset}"]
        labels = bunch.target.astype(np.uint8).tobytes()
        assert hashlib.sha256(labels).hexdigest() == REAL_ARRAY_SHA256[f"y_{subset}"]


@pytest.mark.realdata
def test_real_mnist_as_idx_files(real_data_home, tmp_path):
    X, y = fetch_mnist(subset="test", download_if_missing=False, return_X_y=True)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", X)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", y.astype(np.uint8))
    X_idx, y_idx = fetch_mnist(subset="test", data_home=tmp_path, return_X_y=True)
    np.testing.assert_array_equal(X_idx, X)
    np.testing.assert_array_equal(y_idx, y)


@pytest.mark.realdata
def test_sample_is_a_subset_of_real_mnist(real_data_home):
    with np.load(_sample_path(), allow_pickle=False) as sample:
        for split in ["train", "test"]:
            X, y = fetch_mnist(subset=split, return_X_y=True)
            index = sample[f"{split}_index"]
            assert (np.diff(index) > 0).all()  # original order, no repeats
            np.testing.assert_array_equal(sample[f"x_{split}"], X[index])
            np.testing.assert_array_equal(sample[f"y_{split}"], y[index])


@pytest.mark.realdata
def test_sample_rebuild_is_identical(real_data_home):
    spec = importlib.util.spec_from_file_location(
        "make_mnist_sample", ROOT / "scripts" / "make_mnist_sample.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rebuilt = script.build_sample(os.path.join(real_data_home, "mnist.npz"))
    with np.load(_sample_path(), allow_pickle=False) as shipped:
        assert sorted(rebuilt) == sorted(shipped.files)
        for key in shipped.files:
            np.testing.assert_array_equal(rebuilt[key], shipped[key])


@pytest.mark.realdata
def test_docstring_examples(real_data_home):
    for module in [_fetch, _sample]:
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0
        assert result.failed == 0, f"{result.failed} doctest(s) failed in {module}"


def forbid_network(monkeypatch):
    """Make any connection fail the test; return the list of attempts."""
    attempts = []

    def no_network(address, *args, **kwargs):
        attempts.append(address)
        raise AssertionError(f"the network was used: {address}")

    monkeypatch.setattr(socket, "create_connection", no_network)
    return attempts


def test_docstring_examples_never_download(npz_folder, monkeypatch):
    attempts = forbid_network(monkeypatch)
    monkeypatch.setenv("SKMNIST_DATA_HOME", str(npz_folder))
    for module in [_fetch, _sample]:
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0
        assert result.failed == 0, f"{result.failed} doctest(s) failed in {module}"
    assert attempts == []


def test_docstring_examples_without_data_fail_without_network(tmp_path, monkeypatch):
    attempts = forbid_network(monkeypatch)
    monkeypatch.delenv("SKMNIST_DATA_HOME", raising=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path))
    result = doctest.testmod(_fetch, optionflags=doctest.ELLIPSIS, report=False)
    assert result.failed > 0  # MNISTFetchError: no data, and no download either
    assert attempts == []
    assert os.listdir(tmp_path) == []


def _sample_path():
    return ROOT / "skmnist" / "datasets" / "data" / _sample.SAMPLE_FILENAME
