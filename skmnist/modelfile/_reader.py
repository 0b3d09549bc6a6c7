"""Reading and checking skmnist model files, with NumPy and scikit-learn alone.

The one reader of the files that :func:`skmnist.save_model` writes: the seal,
the zip, the format version, the arrays' headers and contents, and every
fitted attribute, checked as a fit would have produced it. Both
:func:`skmnist.load_model` (which then builds the Keras network) and
:func:`skmnist.load_predictor` (which predicts in NumPy) start here, so that
this module imports no TensorFlow, Keras, JAX or scikeras.
"""

import contextlib
import hashlib
import io
import json
import math
import os
import re
import struct
import zipfile

import numpy as np

from .._errors import UserError
from ._checks import check_history, check_params, require
from ._layout import check_layout

__all__ = ["ModelFile", "ModelFileError", "read_model_file", "require"]

FORMAT_NAME, FORMAT_VERSION = "skmnist-model", 2

MANIFEST, ARRAYS = "manifest.json", "arrays.npz"
# The manifest's entries: the format, the estimator's kind, its parts, and the
# versions of what wrote it.
MANIFEST_KEYS = {"format", "format_version", "estimator", "versions"}
MANIFEST_KEYS |= {"pipeline", "scaler", "classifier"}
SEAL, DIGITS = b"skmnist-sha256:", 64
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0}
_NPY_HEADERS[2, 0] = np.lib.format.read_array_header_2_0
ATTRIBUTE = re.compile(r"[a-z][a-z0-9_]*_")  # a public fitted attribute's name
FITTED = ["classes_", "n_features_in_", "feature_names_in_", "history_", "n_iter_"]
FITTED += ["best_epoch_"]
# What a damaged or hostile file can make reading raise. Anything else (OSError,
# MemoryError, a bug's AttributeError) is not the file's fault: it propagates.
_FILE_ERRORS = (ValueError, TypeError, LookupError, ArithmeticError, EOFError)
_FILE_ERRORS += (RuntimeError, zipfile.BadZipFile)
_CHUNK = 1 << 20  # bytes read at once: 1 MiB (a few transient copies of it)


class ModelFileError(UserError, ValueError):
    """A file that :func:`load_model` cannot load: damaged, foreign or inconsistent.

    Its ``path`` and ``problem`` attributes name the file and what is wrong with it.
    """

    def __init__(self, path, problem):
        self.path, self.problem = os.fspath(path), problem
        super().__init__(f"cannot load skmnist model file {self.path!r}: {problem}")

    def __reduce__(self):
        return type(self), (self.path, self.problem)


class ModelFile:
    """The checked contents of a model file.

    Attributes
    ----------
    path : str
    size : int
        The file's size in bytes.
    manifest : dict
        The manifest as stored (for the versions that wrote it).
    kind : {"MNISTClassifier", "Pipeline"}
    params : dict
        The classifier's parameters, checked against MNISTClassifier's
        constraints, ``class_weight``'s pairs made a dict again.
    optimizer : tuple of (str, dict)
        The optimizer's Keras class name and config (``{}`` for a name).
    fitted : dict
        The classifier's fitted attributes, decoded and checked.
    pipeline : dict or None
        A pipeline's ``steps`` (its two names) and ``params``.
    scaler : FittedScaling or None
        A pipeline's fitted scaler as plain data (its ``get_params()`` and
        fitted attributes), checked; :func:`skmnist.load_model` makes the
        FlattenScaler.
    arrays : dict of str to ndarray
        Every array, by key: ``"hidden_1/kernel"``, ..., ``"state/0"``, ...
    weights : list of ndarray
        The kernels and biases in build_mlp's order, float32, finite.
    state : list of ndarray
        The non-trainable and optimizer state, in the order the network and
        its optimizer keep it, each checked against the variable it restores.
    """

    def __init__(self, path, size, manifest, **parts):
        self.path, self.size, self.manifest = path, size, manifest
        vars(self).update(parts)  # kind, params, fitted, pipeline, scaler, arrays...


@contextlib.contextmanager
def file_errors(path):
    """Turn what a damaged or hostile file makes reading raise into a
    ModelFileError naming the file."""
    try:
        yield
    except UserError:  # already says what is wrong (e.g. a ModelFileError)
        raise
    except _FILE_ERRORS as exc:
        kind = "" if type(exc) is ValueError else f" ({type(exc).__name__})"
        raise ModelFileError(path, f"{str(exc)[:300]}{kind}") from exc


def read_model_file(path):
    """Read a model file and check everything in it, without Keras.

    The one verdict on a file: :func:`skmnist.load_model`,
    :func:`skmnist.load_predictor`, ``skmnist info``, ``skmnist predict`` and
    ``skmnist serve`` all read it here. The file is read in a stream: its
    arrays are the only copy of its contents held at once.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`skmnist.save_model`.

    Returns
    -------
    model_file : ModelFile

    Raises
    ------
    ModelFileError
        If the file is empty, truncated, corrupted, of another kind (a joblib
        or pickle file), of another format version, or inconsistent: members
        named twice, arrays that are not float32 finite numbers of the shapes
        the network and its optimizer keep, parameters MNISTClassifier refuses,
        fitted attributes that no fit produces, a missing attribute.
    """
    with open(path, "rb") as f, file_errors(path):
        size = os.fstat(f.fileno()).st_size
        check_seal(f, size)
        f.seek(0)
        with zipfile.ZipFile(f) as archive:
            manifest, member = _read_members(archive, size)
            arrays = _arrays(_Member(f, member), size)
        return _parse(os.fspath(path), manifest, arrays, size)


def _parse(path, manifest, arrays, size):
    kind = manifest.get("estimator")
    ok = kind in ("MNISTClassifier", "Pipeline")
    require(ok, f"it holds an estimator of the kind {kind!r:.50}")
    pipeline = scaler = None
    if kind == "Pipeline":
        pipeline = _get(manifest, "pipeline", dict)
        names, params = _get(pipeline, "steps", list), _get(pipeline, "params", dict)
        ok = all(isinstance(n, str) and n and "__" not in n for n in names)
        ok = ok and len(names) == len(set(names)) == 2
        require(ok, f"its steps {names!r:.100} are not valid")
        # A fit would load the pickles in a cache folder: save_model never sets one.
        require(params.get("memory") is None, "its pipeline sets a memory folder")
        unknown = sorted(set(params) - {"memory", "transform_input", "verbose"})
        require(not unknown, f"its pipeline has parameters {unknown!r:.100}")
        verbose = params.get("verbose", False)
        require(type(verbose) is bool, f"its pipeline's verbose {verbose!r:.20}")
        transform = params.get("transform_input")
        require(transform is None, f"its pipeline's transform_input {transform!r:.50}")
    params, fitted, optimizer = check_classifier(
        _get(manifest, "classifier", dict), size
    )
    n_classes, n_features = len(fitted["classes_"]), fitted["n_features_in_"]
    versions = manifest.get("versions")
    keras_version = versions.get("keras") if isinstance(versions, dict) else None
    weights, state = check_layout(
        arrays, n_features, n_classes, params, optimizer, keras_version
    )
    if kind == "Pipeline":
        scaler = check_scaler(_get(manifest, "scaler", dict), fitted, size)
    parts = dict(kind=kind, params=params, fitted=fitted, pipeline=pipeline)
    parts.update(optimizer=optimizer, weights=weights, state=state)
    return ModelFile(path, size, manifest, scaler=scaler, arrays=arrays, **parts)


def check_classifier(spec, size):
    """The classifier's section of a manifest, checked: its parameters (their
    pairs of class weights made a dict again), its decoded fitted attributes
    and its optimizer's (class name, config). save_model asks it too, so that
    it never writes a file that this reader refuses."""
    params = dict(_get(spec, "params", dict))
    if isinstance(params.get("class_weight"), list):  # pairs: JSON keys are strings
        pairs = params["class_weight"]
        ok = all(isinstance(pair, list) and len(pair) == 2 for pair in pairs)
        require(ok, f"its class_weight {pairs!r:.50} is not pairs")
        params["class_weight"] = {key: w for key, w in pairs}
    fitted = _get(spec, "fitted", dict)
    require(set(fitted) <= set(FITTED), f"its classifier has {sorted(fitted)}")
    fitted = {name: _decode(value, size) for name, value in fitted.items()}
    _check_classifier_fitted(fitted)
    optimizer = check_params(params, fitted["classes_"])
    return params, fitted, optimizer


class _Member(io.RawIOBase):
    """A stored (uncompressed) zip member read in place from the open file:
    the .npz inside the model file, read without a copy of it in memory."""

    def __init__(self, f, info):
        # A local file header (the zip format's): 30 bytes, of which the
        # lengths of the name and of the extra field are the last four.
        f.seek(info.header_offset)
        header = f.read(30)
        require(header[:4] == b"PK\x03\x04", "its zip is damaged")
        name, extra = struct.unpack("<HH", header[26:30])
        self._f, self._pos, self.size = f, 0, info.file_size
        self._start = info.header_offset + 30 + name + extra

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self._pos

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}
        self._pos = max(0, base[whence] + offset)
        return self._pos

    def readinto(self, buffer):
        n = max(0, min(len(buffer), self.size - self._pos))
        self._f.seek(self._start + self._pos)
        n = self._f.readinto(memoryview(buffer)[:n])
        self._pos += n
        return n


def _check_classifier_fitted(fitted):
    """The classifier's fitted attributes as a fit produces them (in place)."""
    for name in ("classes_", "n_features_in_"):
        require(name in fitted, f"its classifier has no fitted attribute {name!r}")
    classes, n_features = fitted["classes_"], fitted["n_features_in_"]
    ok = isinstance(classes, np.ndarray) and classes.ndim == 1 and len(classes) >= 2
    ok = ok and type(n_features) is int and n_features > 0
    require(ok, "its classes_ or n_features_in_ are wrong")
    require(
        _are_labels(classes),
        f"its classes {classes.tolist()!r:.100} are not "
        "labels a fit takes (integers, integral floats, booleans or strings)",
    )
    unique = np.unique(classes)
    ok = unique.dtype == classes.dtype and np.array_equal(unique, classes)
    require(ok, f"its classes {classes.tolist()!r:.100} are not sorted and unique")
    # A fit sets history_ and n_iter_ together; initialize() alone sets neither.
    has = [name in fitted for name in ("history_", "n_iter_")]
    require(all(has) or not any(has), "it has only one of history_ and n_iter_")
    if "history_" in fitted:
        history = fitted["history_"]
        ok = isinstance(history, dict) and all(isinstance(k, str) for k in history)
        require(ok, "its history_ is not a dict")
        history = {k: check_history(k, v) for k, v in history.items()}
        n_iter = fitted["n_iter_"]
        lengths = {len(values) for values in history.values()}
        ok = type(n_iter) is int and n_iter >= 1 and "loss" in history
        ok = ok and lengths == {n_iter}
        require(ok, f"its n_iter_ {n_iter!r:.20} is not its history_'s length")
        fitted["history_"] = history
    if "best_epoch_" in fitted:
        best, n_iter = fitted["best_epoch_"], fitted.get("n_iter_", 0)
        ok = type(best) is int and 0 <= best < n_iter
        require(ok, f"its best_epoch_ {best!r:.20} is not an epoch of its history_")
    _check_feature_names(fitted, "classifier")


def check_scaler(spec, classifier_fitted, size):
    """The pipeline's fitted scaler as plain data (a FittedScaling), its
    parameters and attributes checked as FlattenScaler and its fit set them.

    No FlattenScaler is made here, so that reading imports no scikit-learn:
    load_model builds one from these values.
    """
    from ..images._pixels import FittedScaling

    params = _get(spec, "params", dict)
    scale, dtype = params.get("scale", "auto"), params.get("dtype", "float32")
    unknown = sorted(set(params) - {"scale", "dtype"})
    require(not unknown, f"its scaler has parameters {unknown!r:.100}, not 'scale'")
    number = type(scale) in (int, float) and math.isfinite(scale) and scale > 0
    ok = scale == "auto" or number
    require(ok, f"its scaler's 'scale' parameter {scale!r:.20} is not 'auto' or > 0")
    ok = dtype in ("float32", "float64")
    require(ok, f"its scaler's 'dtype' {dtype!r:.20} is not 'float32' or 'float64'")
    fitted = {}
    for name, value in _get(spec, "fitted", dict).items():
        require(ATTRIBUTE.fullmatch(name), f"its scaler has attribute {name!r:.50}")
        fitted[name] = _decode(value, size)
    for name in ("scale_", "image_shape_", "n_features_in_"):
        require(name in fitted, f"its scaler has no fitted attribute {name!r}")
    scale_ = fitted["scale_"]
    ok = type(scale_) is float and math.isfinite(scale_) and scale_ > 0
    learned = (1.0, 255.0) if scale == "auto" else (float(scale),)
    require(
        ok and scale_ in learned,
        f"its scaler's scale_ {scale_!r:.20} is not one FlattenScaler(scale="
        f"{scale!r}) learns: expected {' or '.join(map(repr, learned))}",
    )
    shape = fitted["image_shape_"]
    ok = isinstance(shape, tuple) and all(type(n) is int and n > 0 for n in shape)
    ok = ok and len(shape) in (1, 2)
    n_features = classifier_fitted["n_features_in_"]
    ok = ok and math.prod(shape) == fitted["n_features_in_"] == n_features
    require(ok, f"its scaler's image_shape_ {shape!r:.50} does not fit its widths")
    _check_feature_names(fitted, "scaler")
    return FittedScaling(params, fitted)


def _check_feature_names(fitted, owner):
    names = fitted.get("feature_names_in_")
    if names is None and "feature_names_in_" not in fitted:
        return
    n_features = fitted["n_features_in_"]
    ok = isinstance(names, np.ndarray) and names.shape == (n_features,)
    ok = ok and all(isinstance(name, str) for name in names.tolist())
    require(ok, f"its {owner}'s feature_names_in_ are not {n_features} strings")
    fitted["feature_names_in_"] = names.astype(object)


def _arrays(member, size):
    """Every array of the .npz, keyed in stored order: numeric, of the size its
    .npy header claims (checked before its data is read, so that a forged
    header allocates nothing: np.load would allocate what it claims first),
    and finite; each read into its own array, the only copy made."""
    arrays, claimed = {}, 0
    with zipfile.ZipFile(member) as npz:
        infos = npz.infolist()
        names = [info.filename for info in infos]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        require(not duplicated, f"its arrays.npz holds {duplicated!r:.100} twice")
        for info in infos:
            key = info.filename.removesuffix(".npy")
            with npz.open(info) as f:
                version = np.lib.format.read_magic(f)
                require(version in _NPY_HEADERS, f"{key!r:.50} is .npy {version}")
                shape, fortran, dtype = _NPY_HEADERS[version](f)
                nbytes = math.prod(shape) * dtype.itemsize
                ok = key != info.filename and info.compress_type == zipfile.ZIP_STORED
                ok = ok and f.tell() + nbytes == info.file_size
                ok = ok and dtype.kind in "biuf" and not fortran
                require(ok, f"its array {key!r:.50} is not a numeric .npy of its size")
                claimed += nbytes
                ok = claimed <= size
                require(ok, f"its arrays claim {claimed} bytes, over its size")
                arrays[key] = _read_array(f, shape, dtype)
            ok = dtype.kind != "f" or bool(np.isfinite(arrays[key]).all())
            require(ok, f"its array {key!r:.50} holds NaN or infinite values")
    return arrays


def _read_array(f, shape, dtype):
    """The array of `shape` and `dtype` whose bytes `f` holds next, read into
    place in chunks (no second copy), in native byte order."""
    array = np.empty(shape, dtype)
    view = memoryview(array.reshape(-1).view(np.uint8))
    for start in range(0, len(view), _CHUNK):
        chunk = f.read(min(_CHUNK, len(view) - start))
        require(len(chunk) == min(_CHUNK, len(view) - start), "it is truncated")
        view[start : start + len(chunk)] = chunk
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def check_seal(f, size):
    """Refuse (ValueError) a binary file of `size` bytes that is not a whole,
    undamaged sealed archive; reads it in chunks."""
    require(size, "the file is empty")
    f.seek(0)
    head = f.read(6)
    # A pickle starts with its protocol opcode; joblib compresses with zlib (a
    # two-byte header that is a multiple of 31), gzip, bz2, xz or lzma.
    magic = (b"\x80", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x5d\x00\x00")
    zlib = head[0] == 0x78 and int.from_bytes(head[:2], "big") % 31 == 0
    require(
        not (head.startswith(magic) or zlib),
        "it looks like a pickle or joblib file, not a file made by save_model; such "
        "files run code when loaded: load them with joblib.load only if you trust "
        "their source as your own code",
    )
    end = size - DIGITS
    ok = head.startswith(b"PK") and end - len(SEAL) >= 0
    if ok:
        f.seek(end - len(SEAL))
        ok = f.read(len(SEAL)) == SEAL
    require(ok, "it is truncated, or not a file made by save_model")
    digest, done = hashlib.sha256(), 0
    f.seek(0)
    while done < end:
        chunk = f.read(min(_CHUNK, end - done))
        require(chunk, "it is truncated")
        digest.update(chunk)
        done += len(chunk)
    seal = f.read(DIGITS)
    ok = digest.hexdigest().encode() == seal
    require(ok, "its SHA-256 checksum is wrong: it is damaged")


def _read_members(archive, size):
    """The manifest and the zip entry of the .npz member of a sealed archive."""
    infos = archive.infolist()
    stored = all(info.compress_type == zipfile.ZIP_STORED for info in infos)
    ok = stored and sum(info.file_size for info in infos) <= size
    require(ok, "its members are compressed or larger than the file")
    names = [info.filename for info in infos]
    # Two members of one name: zip tools disagree on which one is the file's.
    duplicated = sorted({name for name in names if names.count(name) > 1})
    require(not duplicated, f"it holds the members {duplicated!r:.100} twice")
    manifest = json.loads(archive.read(MANIFEST), object_pairs_hook=_unique_keys)
    ok = isinstance(manifest, dict) and manifest.get("format") == FORMAT_NAME
    require(ok, f"its manifest is not that of a {FORMAT_NAME!r} file")
    version = manifest.get("format_version")
    how = "fit the model again and save it, or load it with the skmnist that wrote it"
    if type(version) is int and version > FORMAT_VERSION:
        how = "upgrade skmnist to load it"
    problem = f"it has format version {version!r:.20}, and this skmnist reads only "
    ok = type(version) is int and version == FORMAT_VERSION  # 2.0 is not 2
    require(ok, f"{problem}{FORMAT_VERSION}: {how}")
    # What this version writes, and nothing else: a key it does not know would
    # be a field that some reader could take and another ignore.
    unknown = sorted(set(manifest) - MANIFEST_KEYS)
    require(not unknown, f"its manifest has the unknown entries {unknown!r:.100}")
    return manifest, archive.getinfo(ARRAYS)


def _unique_keys(pairs):
    keys = [key for key, _ in pairs]
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    require(not duplicated, f"its manifest names {duplicated!r:.100} twice")
    return dict(pairs)


def _are_labels(classes):
    """Whether `classes` are labels of classes, as a fit's check of its targets
    (scikit-learn's ``check_classification_targets``) lets through: not
    continuous values, not a mix of kinds."""
    if classes.dtype.kind in "biuU":
        return True
    if classes.dtype.kind == "f":
        return bool(np.all(np.isfinite(classes) & (classes == np.round(classes))))
    return all(isinstance(c, str) for c in classes.tolist())


def _decode(value, size):
    """A fitted attribute from its JSON form (see _persistence._encode)."""
    if isinstance(value, dict) and set(value) == {"tuple"}:
        return tuple(_get(value, "tuple", list))
    if not (isinstance(value, dict) and set(value) == {"array", "dtype", "shape"}):
        return value
    dtype, shape = np.dtype(_get(value, "dtype", str)), _get(value, "shape", list)
    ok = all(type(n) is int and n >= 0 for n in shape) and dtype.kind in "biufUO"
    ok = ok and math.prod(shape) * dtype.itemsize <= size
    require(ok, f"it holds an array of dtype {dtype} and shape {shape!r:.50}")
    array = np.empty(shape, dtype=dtype)
    array[...] = value["array"]
    ok = array.tolist() == value["array"]
    require(ok, f"its values {value['array']!r:.100} do not fit the dtype {dtype}")
    return array[()] if array.ndim == 0 else array


def _get(mapping, key, kind):
    value = mapping.get(key)
    require(isinstance(value, kind), f"its manifest has no valid {key!r} entry")
    return value
