"""Pickle-free model files: :func:`save_model` and :func:`load_model`.

A file holds an estimator's parameters and fitted attributes as JSON and its
network's weights as NumPy arrays (the layout: docs/user_guide/persistence.rst).
"""

import hashlib
import io
import json
import math
import os
import re
import warnings
import zipfile

import numpy as np

from ._errors import UserError
from ._files import check_write_target, write_atomically

__all__ = ["ModelFileError", "load_model", "save_model"]

FORMAT_NAME, FORMAT_VERSION = "skmnist-model", 2

_MANIFEST, _ARRAYS = "manifest.json", "arrays.npz"
_SEAL, _DIGITS = b"skmnist-sha256:", 64
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0}
_NPY_HEADERS[2, 0] = np.lib.format.read_array_header_2_0
_SCALARS = (str, int, float, type(None))  # what an optimizer's config may hold
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the same model always gives the same bytes
_ATTRIBUTE = re.compile(r"[a-z][a-z0-9_]*_")  # a public fitted attribute's name
_FITTED = ["classes_", "n_features_in_", "feature_names_in_", "history_", "n_iter_"]
_FITTED += ["best_epoch_"]
# What a damaged or hostile file can make reading raise. Anything else (OSError,
# MemoryError, a bug's AttributeError) is not the file's fault: it propagates.
_FILE_ERRORS = (ValueError, TypeError, LookupError, ArithmeticError, EOFError)
_FILE_ERRORS += (RuntimeError, zipfile.BadZipFile)


class ModelFileError(UserError, ValueError):
    """A file that :func:`load_model` cannot load: damaged, foreign or inconsistent.

    Its ``path`` and ``problem`` attributes name the file and what is wrong with it.
    """

    def __init__(self, path, problem):
        self.path, self.problem = os.fspath(path), problem
        super().__init__(f"cannot load skmnist model file {self.path!r}: {problem}")

    def __reduce__(self):
        return type(self), (self.path, self.problem)


def save_model(estimator, path):
    """Save a fitted model to one pickle-free file that :func:`load_model` reads.

    Unlike a ``joblib`` or :mod:`pickle` file, which runs code when loaded, the
    file holds data only: it is safe to share. It is written atomically, so
    after a failure (a full disk, a killed process) `path` holds what it held.

    Parameters
    ----------
    estimator : MNISTClassifier or Pipeline
        A fitted :class:`~skmnist.MNISTClassifier`, or a fitted pipeline of a
        :class:`~skmnist.FlattenScaler` and an :class:`~skmnist.MNISTClassifier`.
        ``callbacks``, a ``RandomState`` as ``random_state`` and a pipeline's
        ``memory`` are left out with a warning (None in the loaded model).
    path : str or os.PathLike
        The file to write. An existing regular file is replaced and keeps its
        permission bits; a folder, named pipe, socket or device is refused.

    Raises
    ------
    TypeError
        If the estimator is of another kind, or a parameter is not data.
    OSError
        If `path` cannot be written: ``skmnist``'s ``UnsafeWriteTarget`` (an
        ``OSError`` naming `path`) when it is empty, names something other than
        a regular file, or lies in a folder that does not exist.

    See Also
    --------
    load_model : Load such a file (examples: :ref:`persistence`).
    """
    check_write_target(path)  # before the work: a FIFO or folder is refused
    manifest, variables = _describe(estimator)
    arrays = {}
    for key, variable in variables.items():
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.array(variable.numpy(), order="C"))
        arrays[f"{key}.npy"] = buffer.getvalue()
    text = json.dumps(manifest, indent=1, sort_keys=True, default=_json_default)
    members = {_MANIFEST: text.encode(), _ARRAYS: _archive(arrays, seal=False)}
    write_atomically(path, _archive(members, seal=True))


def load_model(path):
    """Load a model file written by :func:`save_model`, running no code from it.

    The file's checksum, format, parameters and the shapes and sizes of its
    arrays are checked before the network is built; nothing is unpickled, and
    no temporary file is written. The estimator predicts as the saved one did,
    and trains on (``warm_start``, ``partial_fit``) as it would have.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save_model`.

    Returns
    -------
    estimator : MNISTClassifier or Pipeline
        The fitted estimator that was saved.

    Raises
    ------
    ModelFileError
        If the file is empty, truncated, corrupted, of another kind (such as a
        joblib or pickle file), of another format version, or inconsistent.
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        _check_seal(data)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            manifest, blob = _read_members(archive, len(data))
        return _restore(manifest, blob, len(data))
    except _FILE_ERRORS as exc:
        kind = "" if type(exc) is ValueError else f" ({type(exc).__name__})"
        raise ModelFileError(path, f"{str(exc)[:300]}{kind}") from exc


def _describe(estimator):
    """The manifest and the variables ({key: Keras variable}) of an estimator."""
    import sklearn
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    from . import __version__
    from ._classifier import MNISTClassifier, keras
    from ._preprocessing import FlattenScaler

    versions = [("skmnist", __version__), ("keras", keras.__version__)]
    versions += [("scikit-learn", sklearn.__version__), ("numpy", np.__version__)]
    manifest = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION}
    manifest.update(versions=dict(versions), estimator=type(estimator).__name__)
    kinds = [type(step) for _, step in getattr(estimator, "steps", [])]
    if isinstance(estimator, Pipeline) and kinds == [FlattenScaler, MNISTClassifier]:
        (_, scaler), (_, clf) = estimator.steps
        check_is_fitted(scaler)
        params = estimator.get_params(deep=False)
        del params["steps"]
        _drop(params, "memory", "it is a cache for fit, not part of the model")
        names = [name for name, _ in estimator.steps]
        manifest["pipeline"] = {"steps": names, "params": params}
        fitted = {k: v for k, v in vars(scaler).items() if _ATTRIBUTE.fullmatch(k)}
        fitted = {k: _encode(v) for k, v in fitted.items()}
        manifest["scaler"] = {"params": scaler.get_params(), "fitted": fitted}
    elif type(estimator) is MNISTClassifier:
        clf = estimator
    else:
        raise TypeError(
            "save_model saves a fitted skmnist.MNISTClassifier, or a fitted Pipeline "
            "of a FlattenScaler and an MNISTClassifier (make_mnist_pipeline; save a "
            f"search's best_estimator_), not a {type(estimator).__name__}. Use "
            "joblib.dump for others, and load their files only from trusted sources."
        )
    check_is_fitted(clf)
    params = clf.get_params()
    _drop(params, "callbacks", "they are code, and act only during fit")
    if isinstance(params["random_state"], np.random.RandomState):
        _drop(params, "random_state", "a RandomState is a random stream, not data")
    optimizer = params["optimizer"]
    if not isinstance(optimizer, str):
        cls, config = type(optimizer), optimizer.get_config()
        plain = all(isinstance(v, _SCALARS) for v in config.values())
        if not plain or getattr(keras.optimizers, cls.__name__, None) is not cls:
            raise TypeError(
                "save_model stores an optimizer instance as its class and config, so "
                f"only a built-in Keras optimizer with a config of numbers, not {cls} "
                f"with {config!r:.200}. Pass optimizer='adam' (or 'sgd', ...) and "
                "learning_rate=, or e.g. keras.optimizers.SGD(learning_rate=0.01)."
            )
        params["optimizer"] = {"class": cls.__name__, "config": config}
    if isinstance(params["class_weight"], dict):  # JSON's keys are all strings
        params["class_weight"] = [list(item) for item in params["class_weight"].items()]
    fitted = {n: _encode(getattr(clf, n)) for n in _FITTED if hasattr(clf, n)}
    manifest["classifier"] = {"params": params, "fitted": fitted}
    model = clf.model_
    names = _weight_shapes(1, 1, 1, clf.n_hidden_layers)
    variables = dict(zip(names, model.trainable_variables, strict=True))
    state = model.non_trainable_variables + model.optimizer.variables
    variables.update({f"state/{i}": v for i, v in enumerate(state)})
    return manifest, variables


def _drop(params, name, why):
    if params.get(name) is not None:
        message = f"save_model does not store {name}={params[name]!r:.100}: {why}. "
        message += f"The loaded model has {name}=None; set_params it again if needed."
        warnings.warn(message, UserWarning, stacklevel=4)  # save_model's caller
        params[name] = None


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, type) and issubclass(value, np.generic):
        value = np.dtype(value)
    if isinstance(value, np.dtype):
        return value.name  # dtype parameters take names too
    raise TypeError(f"save_model cannot store {value!r:.100}: it is not data")


def _encode(value):
    """A fitted attribute as JSON, arrays and tuples tagged to come back as such."""
    if isinstance(value, tuple):
        return {"tuple": list(value)}
    if not isinstance(value, (np.ndarray, np.generic)):
        return value
    array = np.asarray(value)
    return {"array": array.tolist(), "dtype": array.dtype.str, "shape": array.shape}


def _weight_shapes(n_features, n_classes, hidden_size, n_hidden_layers):
    """{name: shape} of the kernels and biases that build_mlp makes, in its order."""
    widths = [n_features] + [hidden_size] * n_hidden_layers + [n_classes]
    names = [f"hidden_{i}" for i in range(1, n_hidden_layers + 1)] + ["logits"]
    shapes = {}
    for name, n_in, n_out in zip(names, widths[:-1], widths[1:], strict=True):
        shapes.update({f"{name}/kernel": (n_in, n_out), f"{name}/bias": (n_out,)})
    return shapes


def _archive(members, seal):
    """A zip of the uncompressed ``members``, sealed with its SHA-256 if `seal`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, blob in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), blob)
        archive.comment = _SEAL + b"0" * _DIGITS if seal else b""
    data = buffer.getvalue()
    if seal:
        data = data[:-_DIGITS] + hashlib.sha256(data[:-_DIGITS]).hexdigest().encode()
    return data


def _check_seal(data):
    _require(data, "the file is empty")
    # A pickle starts with its protocol opcode; joblib compresses with zlib (a
    # two-byte header that is a multiple of 31), gzip, bz2, xz or lzma.
    magic = (b"\x80", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x5d\x00\x00")
    zlib = data[0] == 0x78 and int.from_bytes(data[:2], "big") % 31 == 0
    _require(
        not (data.startswith(magic) or zlib),
        "it looks like a pickle or joblib file, not a file made by save_model; such "
        "files run code when loaded: load them with joblib.load only if you trust "
        "their source as your own code",
    )
    ok = data.startswith(b"PK") and data[-_DIGITS - len(_SEAL) : -_DIGITS] == _SEAL
    _require(ok, "it is truncated, or not a file made by save_model")
    digest = hashlib.sha256(data[:-_DIGITS]).hexdigest().encode()
    _require(digest == data[-_DIGITS:], "its SHA-256 checksum is wrong: it is damaged")


def _read_members(archive, size):
    """The manifest and the .npz member of a sealed archive."""
    infos = archive.infolist()
    stored = all(info.compress_type == zipfile.ZIP_STORED for info in infos)
    ok = stored and sum(info.file_size for info in infos) <= size
    _require(ok, "its members are compressed or larger than the file")
    manifest = json.loads(archive.read(_MANIFEST))
    ok = isinstance(manifest, dict) and manifest.get("format") == FORMAT_NAME
    _require(ok, f"its manifest is not that of a {FORMAT_NAME!r} file")
    version = manifest.get("format_version")
    how = "fit the model again and save it, or load it with the skmnist that wrote it"
    if type(version) is int and version > FORMAT_VERSION:
        how = "upgrade skmnist to load it"
    problem = f"it has format version {version!r:.20}, and this skmnist reads only "
    _require(version == FORMAT_VERSION, f"{problem}{FORMAT_VERSION}: {how}")
    return manifest, archive.read(_ARRAYS)


def _npz_headers(blob):
    """{key: shape} of the arrays of an .npz, read from their headers only."""
    headers, claimed = {}, 0
    with zipfile.ZipFile(io.BytesIO(blob)) as npz:
        for info in npz.infolist():
            key = info.filename.removesuffix(".npy")
            with npz.open(info) as f:
                version = np.lib.format.read_magic(f)
                _require(version in _NPY_HEADERS, f"{key!r:.50} is .npy {version}")
                shape, fortran, dtype = _NPY_HEADERS[version](f)
                nbytes = math.prod(shape) * dtype.itemsize
                ok = key != info.filename and info.compress_type == zipfile.ZIP_STORED
                ok = ok and f.tell() + nbytes == info.file_size
                ok = ok and dtype.kind in "biuf" and not fortran
            _require(ok, f"its array {key!r:.50} is not a numeric .npy of its size")
            headers[key], claimed = shape, claimed + nbytes
    _require(claimed <= len(blob), f"its arrays claim {claimed} bytes, over its size")
    return headers


def _restore(manifest, blob, size):
    from sklearn.pipeline import Pipeline

    from ._preprocessing import FlattenScaler

    shapes = _npz_headers(blob)
    spec, kind = _get(manifest, "classifier", dict), manifest.get("estimator")
    if kind == "MNISTClassifier":
        return _restore_classifier(spec, blob, shapes, size)
    _require(kind == "Pipeline", f"it holds an estimator of the kind {kind!r:.50}")
    pipeline = _get(manifest, "pipeline", dict)
    scaler_spec = _get(manifest, "scaler", dict)
    names, params = _get(pipeline, "steps", list), _get(pipeline, "params", dict)
    ok = all(isinstance(n, str) and n and "__" not in n for n in names)
    ok = ok and len(names) == len(set(names)) == 2
    _require(ok, f"its steps {names!r:.100} are not valid")
    # A fit would load the pickles in a cache folder: save_model never sets one.
    _require(params.get("memory") is None, "its pipeline sets a memory folder")
    scaler = FlattenScaler(**_get(scaler_spec, "params", dict))
    scaler._validate_params()
    for name, value in _get(scaler_spec, "fitted", dict).items():
        _require(_ATTRIBUTE.fullmatch(name), f"its scaler has attribute {name!r:.50}")
        setattr(scaler, name, _decode(value, size))
    shape = getattr(scaler, "image_shape_", None)
    ok = isinstance(shape, tuple) and all(type(n) is int and n > 0 for n in shape)
    n_features = _get(spec, "fitted", dict).get("n_features_in_")
    ok = ok and math.prod(shape) == getattr(scaler, "n_features_in_", 0) == n_features
    _require(ok, f"its scaler's image_shape_ {shape!r:.50} does not fit its widths")
    clf = _restore_classifier(spec, blob, shapes, size)
    pipe = Pipeline([(names[0], scaler), (names[1], clf)], **params)
    pipe._validate_params()
    return pipe


def _restore_classifier(spec, blob, shapes, size):
    from ._classifier import MNISTClassifier, _check_class_weight, keras

    params = dict(_get(spec, "params", dict))
    optimizer = params.get("optimizer")
    if isinstance(optimizer, dict):
        cls = getattr(keras.optimizers, str(optimizer.get("class")), None)
        config = optimizer.get("config")
        ok = isinstance(cls, type) and issubclass(cls, keras.optimizers.Optimizer)
        ok = ok and isinstance(config, dict)
        ok = ok and all(isinstance(v, _SCALARS) for v in config.values())
        _require(ok, f"its optimizer {optimizer!r:.100} is not a built-in one")
        params["optimizer"] = cls.from_config(config)
    if isinstance(params.get("class_weight"), list):
        params["class_weight"] = {key: w for key, w in params["class_weight"]}
    clf = MNISTClassifier(**params)
    clf._check_params()
    fitted = _get(spec, "fitted", dict)
    _require(set(fitted) <= set(_FITTED), f"its classifier has {sorted(fitted)}")
    fitted = {name: _decode(value, size) for name, value in fitted.items()}
    classes, n_features = fitted.get("classes_"), fitted.get("n_features_in_")
    ok = isinstance(classes, np.ndarray) and classes.ndim == 1
    ok = ok and type(n_features) is int and n_features > 0
    _require(ok, "its classes_ or n_features_in_ are wrong")
    _check_class_weight(clf.class_weight, classes)  # as fit checks it

    # Every parameter that sizes the network, against the arrays' headers.
    weights = [(key, shape) for key, shape in shapes.items() if "state/" not in key]
    layers, width = clf.n_hidden_layers, clf.hidden_size
    expected = {}  # not built for a count of layers that the weights do not have
    if len(weights) == 2 * (layers + 1):
        expected = _weight_shapes(n_features, len(classes), width, layers)
    _require(
        list(expected.items()) == weights,
        f"its weights, of shapes {[s for _, s in weights]!r:.200}, are not those "
        f"of n_features_in_={n_features}, {len(classes)} classes, hidden_size="
        f"{width} and n_hidden_layers={layers}",
    )

    # The initial weights are overwritten: seeded, they draw from no global state.
    X = np.zeros((len(classes), n_features), dtype=np.float32)
    clf.set_params(random_state=0).initialize(X, classes)
    clf.set_params(random_state=params.get("random_state"))
    ok = clf.classes_.dtype == classes.dtype and np.array_equal(clf.classes_, classes)
    _require(ok, f"its classes {classes.tolist()!r:.100} are not sorted and unique")
    model = clf.model_
    state = model.non_trainable_variables + model.optimizer.variables
    keys = [*expected, *(f"state/{i}" for i in range(len(state)))]
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        ok = len(npz.files) == len(keys)
        _require(ok, f"its {len(npz.files)} arrays do not fit its optimizer")
        arrays = [npz[key] for key in keys]
    for variable, array in zip(model.trainable_variables + state, arrays, strict=True):
        ok = array.shape == tuple(variable.shape)
        _require(ok, f"its array of shape {array.shape} does not fit {variable.path}")
        variable.assign(array.astype(variable.dtype, copy=False))
    history = _get(fitted, "history_", dict).items()
    clf.history_ = {str(key): [float(x) for x in values] for key, values in history}
    names = {"n_iter_", "best_epoch_", "feature_names_in_"} & set(fitted)
    vars(clf).update({name: fitted[name] for name in names})
    names = getattr(clf, "feature_names_in_", np.empty(n_features, dtype=object))
    ok = isinstance(names, np.ndarray) and names.shape == (n_features,)
    _require(ok, f"its feature_names_in_ are not {n_features} names")
    return clf


def _decode(value, size):
    """A fitted attribute from its JSON form (see _encode)."""
    if isinstance(value, dict) and set(value) == {"tuple"}:
        return tuple(_get(value, "tuple", list))
    if not (isinstance(value, dict) and set(value) == {"array", "dtype", "shape"}):
        return value
    dtype, shape = np.dtype(_get(value, "dtype", str)), _get(value, "shape", list)
    ok = all(type(n) is int and n >= 0 for n in shape) and dtype.kind in "biufUO"
    ok = ok and math.prod(shape) * dtype.itemsize <= size
    _require(ok, f"it holds an array of dtype {dtype} and shape {shape!r:.50}")
    array = np.empty(shape, dtype=dtype)
    array[...] = value["array"]
    ok = array.tolist() == value["array"]
    _require(ok, f"its values {value['array']!r:.100} do not fit the dtype {dtype}")
    return array[()] if array.ndim == 0 else array


def _get(mapping, key, kind):
    value = mapping.get(key)
    _require(isinstance(value, kind), f"its manifest has no valid {key!r} entry")
    return value


def _require(condition, problem):
    if not condition:
        raise ValueError(problem)
