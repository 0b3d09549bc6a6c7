"""Pickle-free model files: :func:`save_model` and :func:`load_model`.

A file holds the estimator's hyperparameters and fitted attributes as JSON and the
network's weights as NumPy arrays (the layout is in docs/user_guide/persistence.rst).
Loading checks the description against the parameters' constraints and the stored
arrays' shapes, then builds the network with the builder that fitting uses and sets
the weights: no Keras config is parsed, nothing is unpickled, nothing runs.
"""

import contextlib
import errno
import hashlib
import io
import json
import math
import numbers
import os
import re
import secrets
import warnings
import zipfile

import numpy as np

try:
    import fcntl
except ImportError:  # Windows, which refuses to delete a file a running save holds
    fcntl = None

__all__ = ["ModelFileError", "load_model", "save_model"]

FORMAT_NAME = "skmnist-model"
FORMAT_VERSION = 2

_MANIFEST, _WEIGHTS, _TRAINING = "manifest.json", "weights.npz", "training.npz"
_SEAL, _DIGITS = b"skmnist-sha256:", 64
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the same model always gives the same bytes
_TEMP_SUFFIX = ".skmnist-tmp"
_ATTRIBUTE = re.compile(r"[a-z][a-z0-9_]*_")  # a public fitted attribute's name
_FITTED = ("classes_", "n_features_in_", "feature_names_in_", "history_", "n_iter_",
           "best_epoch_")
# What a damaged or hostile file can make reading raise. Anything else (OSError,
# MemoryError, a bug) is not the file's fault and propagates as it is.
_FILE_ERRORS = (ValueError, TypeError, LookupError, ArithmeticError, EOFError,
                RuntimeError, zipfile.BadZipFile)


class ModelFileError(ValueError):
    """A file that :func:`load_model` cannot load: damaged, foreign or inconsistent.

    Raised for an empty, truncated or corrupted file, a file of another kind (a
    pickle or joblib file, a ``.keras`` model, any other zip archive), a format
    version this skmnist does not read, and a description that breaks the
    estimator's parameter constraints or disagrees with the arrays it holds.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    problem : str
        What is wrong with it.
    """

    def __init__(self, path, problem):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"cannot load skmnist model file {self.path!r}: {problem}")

    def __reduce__(self):
        return type(self), (self.path, self.problem)


def save_model(estimator, path):
    """Save a fitted model to one pickle-free file that :func:`load_model` reads.

    The file holds the hyperparameters and fitted attributes as JSON and the
    network's weights and optimizer state as NumPy arrays, sealed with a SHA-256
    checksum. Loading it runs no code from it, so, unlike a ``joblib`` or
    :mod:`pickle` file (which runs code when loaded), it is safe to share.

    The file is written atomically: to a temporary file in the same folder,
    flushed to disk and renamed onto `path`. After a failure (a full disk, a
    killed process) `path` holds what it held before; a temporary file that a
    killed process left is removed by the next save to `path`.

    Parameters
    ----------
    estimator : MNISTClassifier or Pipeline
        A fitted :class:`~skmnist.MNISTClassifier`, or a fitted pipeline of a
        :class:`~skmnist.FlattenScaler` and an :class:`~skmnist.MNISTClassifier`
        (:func:`~skmnist.make_mnist_pipeline`; any step names). Parameters that
        are not data are left out with a warning, and are None in the loaded
        model: ``callbacks`` (code that acts only during ``fit``), a
        ``RandomState`` as ``random_state``, and the pipeline's ``memory``. An
        optimizer instance is stored by its class and config: it must be a
        built-in Keras optimizer with numbers and strings in its config.
    path : str or os.PathLike
        The file to write; an existing file is replaced.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    TypeError
        If the estimator is of another kind, or a parameter cannot be stored.
    OSError
        If the file cannot be written; `path` is then left as it was.

    See Also
    --------
    load_model : Load a file written by this function.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skmnist import load_mnist_sample, load_model, make_mnist_pipeline
    >>> from skmnist import save_model
    >>> X, y = load_mnist_sample(return_X_y=True)
    >>> pipe = make_mnist_pipeline(hidden_size=16, epochs=1, random_state=0)
    >>> pipe = pipe.fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "digits.skmnist")
    ...     save_model(pipe, path)
    ...     loaded = load_model(path)
    >>> np.array_equal(loaded.predict_proba(X[:20]), pipe.predict_proba(X[:20]))
    True
    """
    manifest, weights, training = _describe(estimator)
    text = json.dumps(manifest, indent=1, sort_keys=True).encode()
    members = {_MANIFEST: text, _WEIGHTS: _npz(weights), _TRAINING: _npz(training)}
    _write_atomically(path, _archive(members, seal=True))


def load_model(path):
    """Load a model file written by :func:`save_model`, running no code from it.

    Before anything is built, the file's SHA-256 checksum, its format and
    version, every parameter (against the estimator's own constraints) and the
    shapes and sizes of the stored arrays (from their headers) are checked; the
    network is then built from the hyperparameters, and each array's shape is
    checked before it is set. Nothing is unpickled; no temporary file is
    written. The estimator comes back as it was saved: it predicts identically,
    ``classes_`` has the same values and dtype, and training continues
    (``warm_start=True`` or ``partial_fit``) as the saved estimator's would.

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
    OSError
        If the file cannot be read (for example ``FileNotFoundError``).

    See Also
    --------
    save_model : Write such a file.
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        _check_seal(data)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            manifest, blobs = _read_members(archive, len(data))
        return _restore(manifest, blobs, len(data))
    except _FILE_ERRORS as exc:
        problem = (str(exc).strip().splitlines() or [""])[0][:300]
        if type(exc) is not ValueError:
            problem = f"{problem} ({type(exc).__name__})"
        raise ModelFileError(path, problem) from exc


# -- saving ------------------------------------------------------------------------


def _describe(estimator):
    """(manifest, weights, training state) of a supported fitted estimator."""
    import sklearn
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    from . import __version__
    from ._classifier import MNISTClassifier
    from ._preprocessing import FlattenScaler
    from ._runtime import keras

    versions = {"skmnist": __version__, "keras": keras.__version__}
    versions.update({"scikit-learn": sklearn.__version__, "numpy": np.__version__})
    manifest = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION}
    manifest["versions"] = versions
    kinds = [type(step) for _, step in getattr(estimator, "steps", [])]
    if isinstance(estimator, Pipeline) and kinds == [FlattenScaler, MNISTClassifier]:
        (_, scaler), (_, clf) = estimator.steps
        check_is_fitted(scaler)
        params = estimator.get_params(deep=False)
        del params["steps"]
        _drop(params, "memory", "it is a cache for fit, not part of the model")
        names = [name for name, _ in estimator.steps]
        fitted = {k: v for k, v in vars(scaler).items() if _ATTRIBUTE.fullmatch(k)}
        manifest.update(
            estimator="Pipeline",
            pipeline={"steps": names, "params": _plain(params, "Pipeline")},
            scaler={
                "params": _plain(scaler.get_params(), "FlattenScaler"),
                "fitted": {k: _encode(v, k) for k, v in fitted.items()},
            },
        )
    elif type(estimator) is MNISTClassifier:
        clf = estimator
        manifest["estimator"] = "MNISTClassifier"
    else:
        what = f"a {type(estimator).__name__}"
        if isinstance(estimator, type):
            what = f"the class {estimator.__name__} (pass a fitted instance)"
        elif hasattr(estimator, "best_estimator_"):
            what += " (for a search, save its best_estimator_)"
        elif kinds:
            what += f" of {', '.join(kind.__name__ for kind in kinds)}"
        raise TypeError(
            "save_model saves a fitted skmnist.MNISTClassifier, or a fitted Pipeline "
            f"of a FlattenScaler and an MNISTClassifier (make_mnist_pipeline), not "
            f"{what}. Use joblib.dump for other estimators, and load such files "
            "only from trusted sources."
        )
    check_is_fitted(clf)
    params = clf.get_params()
    _drop(params, "callbacks", "they are code, and act only during fit")
    if isinstance(params["random_state"], np.random.RandomState):
        _drop(params, "random_state", "a RandomState is a random stream, not data")
    if not isinstance(params["optimizer"], str):
        params["optimizer"] = _describe_optimizer(params["optimizer"], keras)
    if isinstance(params["class_weight"], dict):  # JSON's keys are all strings
        params["class_weight"] = [list(item) for item in params["class_weight"].items()]
    fitted = {name: getattr(clf, name) for name in _FITTED if hasattr(clf, name)}
    manifest["classifier"] = {
        "params": _plain(params, "MNISTClassifier"),
        "fitted": {name: _encode(value, name) for name, value in fitted.items()},
    }
    model = clf.model_
    names = _weight_shapes(1, 1, 1, clf.n_hidden_layers)
    weights = dict(zip(names, model.trainable_variables, strict=True))
    state = model.non_trainable_variables + model.optimizer.variables
    return manifest, weights, {str(i): v for i, v in enumerate(state)}


def _describe_optimizer(optimizer, keras):
    cls, config = type(optimizer), optimizer.get_config()
    if getattr(keras.optimizers, cls.__name__, None) is not cls or not all(
        v is None or isinstance(v, (str, numbers.Real)) for v in config.values()
    ):
        raise TypeError(
            "save_model stores an optimizer instance by its class and config, so "
            "only a built-in Keras optimizer with numbers and strings in its "
            f"config, not {cls.__module__}.{cls.__qualname__} with "
            f"{config!r:.200}. Pass optimizer='adam' (or 'sgd', ...) and "
            "learning_rate=, or e.g. keras.optimizers.SGD(learning_rate=0.01)."
        )
    return {"class": cls.__name__, "config": config}


def _drop(params, name, why):
    from ._classifier import _caller_stacklevel

    if params.get(name) is not None:
        warnings.warn(
            f"save_model does not store {name}={params[name]!r:.100}: {why}. The "
            f"loaded model has {name}=None; set it again with set_params if needed.",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
        params[name] = None


def _plain(value, where):
    """``value`` as JSON that reads back as an equal value, or a TypeError."""
    if value is None or isinstance(value, (bool, str, np.bool_, numbers.Integral)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.dtype) or (
        isinstance(value, type) and issubclass(value, np.generic)
    ):
        return np.dtype(value).name  # dtype parameters take names too
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    raise TypeError(
        f"save_model cannot store {where}: a {type(value).__module__}."
        f"{type(value).__qualname__} is not data (numbers, strings, lists)."
    )


def _encode(value, where):
    """A fitted attribute as JSON, arrays and tuples tagged to come back as such."""
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.kind not in "biufUO" or array.dtype.hasobject > array.ndim:
            raise TypeError(f"save_model cannot store {where} of dtype {array.dtype}.")
        values = _plain(array.tolist(), where)
        return {"array": values, "dtype": array.dtype.str, "shape": list(array.shape)}
    if isinstance(value, tuple):
        return {"tuple": _plain(value, where)}
    return _plain(value, where)


def _weight_shapes(n_features, n_classes, hidden_size, n_hidden_layers):
    """{name: shape} of the kernels and biases that build_mlp makes, in its order."""
    widths = [n_features] + [hidden_size] * n_hidden_layers + [n_classes]
    layers = [f"hidden_{i}" for i in range(1, n_hidden_layers + 1)] + ["logits"]
    shapes = {}
    for i, layer in enumerate(layers):
        shapes[f"{layer}/kernel"] = (widths[i], widths[i + 1])
        shapes[f"{layer}/bias"] = (widths[i + 1],)
    return shapes


# -- the archive -------------------------------------------------------------------


def _npz(variables):
    members = {}
    for key, variable in variables.items():
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.array(variable.numpy(), order="C"))
        members[f"{key}.npy"] = buffer.getvalue()
    return _archive(members, seal=False)


def _archive(members, seal):
    """A zip of the uncompressed ``members``, sealed with its SHA-256 if `seal`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, blob in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, blob)
        archive.comment = _SEAL + b"0" * _DIGITS if seal else b""
    data = buffer.getvalue()
    if seal:
        data = data[:-_DIGITS] + hashlib.sha256(data[:-_DIGITS]).hexdigest().encode()
    return data


def _check_seal(data):
    if not data:
        raise ValueError("the file is empty")
    # A pickle starts with its protocol opcode; joblib compresses with zlib (a
    # two-byte header that is a multiple of 31), gzip, bz2, xz or lzma.
    magic = (b"\x80", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x5d\x00\x00")
    zlib = data[0] == 0x78 and int.from_bytes(data[:2], "big") % 31 == 0
    if data.startswith(magic) or zlib:
        raise ValueError(
            "it looks like a pickle or joblib file, not a file made by "
            "skmnist.save_model; such files run code when loaded: load them with "
            "joblib.load only if you trust their source as your own code"
        )
    if not data.startswith(b"PK\x03\x04"):
        raise ValueError("it is not a zip archive, so not made by skmnist.save_model")
    if data[-_DIGITS - len(_SEAL) : -_DIGITS] != _SEAL:
        raise ValueError(
            "it does not end with skmnist's checksum: the file is truncated, or is "
            "a zip archive that skmnist.save_model did not write"
        )
    if hashlib.sha256(data[:-_DIGITS]).hexdigest().encode() != data[-_DIGITS:]:
        raise ValueError(
            "its SHA-256 checksum does not match its content: the file is "
            "corrupted, or was changed after it was written"
        )


def _read_members(archive, size):
    """(manifest, {array member: bytes}) of a sealed archive."""
    infos = archive.infolist()
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos) or (
        sum(i.file_size for i in infos) > size
    ):
        raise ValueError("its members are compressed or larger than the file")
    manifest = json.loads(archive.read(_MANIFEST))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ValueError(f"its manifest is not that of a {FORMAT_NAME!r} file")
    version, versions = manifest.get("format_version"), manifest.get("versions")
    written = manifest.get("skmnist_version")  # where format version 1 kept it
    written = versions.get("skmnist") if isinstance(versions, dict) else written
    if type(version) is not int or version < 1:
        raise ValueError(f"its format version {version!r:.50} is not valid")
    if version != FORMAT_VERSION:
        how = (
            "upgrade skmnist to load it"
            if version > FORMAT_VERSION
            else f"load it with skmnist {written}, or fit the model again, and save "
            "it with this skmnist's save_model"
        )
        raise ValueError(
            f"it has format version {version} (written by skmnist {written}), and "
            f"this skmnist reads format version {FORMAT_VERSION} only: {how}"
        )
    names = sorted(info.filename for info in infos)
    if names != sorted([_MANIFEST, _WEIGHTS, _TRAINING]):
        raise ValueError(f"it holds the members {names!r:.200}, not save_model's")
    return manifest, {name: archive.read(name) for name in (_WEIGHTS, _TRAINING)}


def _npz_headers(blob):
    """{key: (shape, nbytes)} of an .npz's arrays, read from their headers only."""
    headers = {}
    with zipfile.ZipFile(io.BytesIO(blob)) as npz:
        for info in npz.infolist():
            key = info.filename.removesuffix(".npy")
            with npz.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version not in ((1, 0), (2, 0)):
                    raise ValueError(f"its array {key!r:.50} is .npy version {version}")
                read = np.lib.format.read_array_header_1_0
                if version == (2, 0):
                    read = np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read(f)
                nbytes = math.prod(shape) * dtype.itemsize
                if (
                    key == info.filename
                    or info.compress_type != zipfile.ZIP_STORED
                    or dtype.kind not in "biuf"
                    or fortran
                    or f.tell() + nbytes != info.file_size
                ):
                    raise ValueError(
                        f"its array {info.filename!r:.100} is not an uncompressed "
                        "numeric .npy of the size its header gives"
                    )
            headers[key] = (shape, nbytes)
    return headers


# -- loading -----------------------------------------------------------------------


def _restore(manifest, blobs, size):
    from sklearn.pipeline import Pipeline

    weights, training = _npz_headers(blobs[_WEIGHTS]), _npz_headers(blobs[_TRAINING])
    claimed = sum(n for _, n in [*weights.values(), *training.values()])
    if claimed > size:
        raise ValueError(f"its arrays claim {claimed} bytes, more than its {size}")
    spec, kind = _get(manifest, "classifier", dict), manifest.get("estimator")
    if kind == "MNISTClassifier":
        return _restore_classifier(spec, blobs, weights, size)
    if kind != "Pipeline":
        raise ValueError(f"it holds an estimator of the unknown kind {kind!r:.50}")
    pipeline = _get(manifest, "pipeline", dict)
    names, params = _get(pipeline, "steps", list), _get(pipeline, "params", dict)
    if len(set(names)) != 2 or not all(
        isinstance(n, str) and n and "__" not in n for n in names
    ):
        raise ValueError(f"its pipeline steps {names!r:.100} are not two valid names")
    if params.get("memory") is not None:
        raise ValueError(
            "its pipeline sets memory, a cache folder whose pickled results a fit "
            "would load: save_model never writes that"
        )
    scaler = _restore_scaler(_get(manifest, "scaler", dict), size)
    n_features = _get(spec, "fitted", dict).get("n_features_in_")
    if scaler.n_features_in_ != n_features:
        raise ValueError(
            f"its FlattenScaler gives {scaler.n_features_in_} features, but its "
            f"MNISTClassifier takes {n_features!r:.50}"
        )
    clf = _restore_classifier(spec, blobs, weights, size)
    pipe = Pipeline([(names[0], scaler), (names[1], clf)], **params)
    pipe._validate_params()
    return pipe


def _restore_scaler(spec, size):
    from ._preprocessing import FlattenScaler

    scaler = FlattenScaler(**_get(spec, "params", dict))
    scaler._validate_params()
    for name, value in _get(spec, "fitted", dict).items():
        if not _ATTRIBUTE.fullmatch(name):
            raise ValueError(f"its FlattenScaler has the attribute {name!r:.50}")
        setattr(scaler, name, _decode(value, size))
    n_features = getattr(scaler, "n_features_in_", None)
    shape = getattr(scaler, "image_shape_", None)
    if not (
        _is_count(n_features)
        and isinstance(shape, tuple)
        and all(_is_count(s) for s in shape)
        and math.prod(shape) == n_features
    ):
        raise ValueError(
            f"its FlattenScaler's image_shape_={shape!r:.50} does not hold its "
            f"n_features_in_={n_features!r:.50} pixels"
        )
    _check_feature_names(scaler)
    return scaler


def _restore_classifier(spec, blobs, weights, size):
    from ._classifier import MNISTClassifier
    from ._runtime import keras

    params = dict(_get(spec, "params", dict))
    optimizer = params.get("optimizer")
    if isinstance(optimizer, dict):
        cls = getattr(keras.optimizers, str(optimizer.get("class")), None)
        config = optimizer.get("config")
        if not (
            isinstance(cls, type)
            and issubclass(cls, keras.optimizers.Optimizer)
            and isinstance(config, dict)
            and all(_is_scalar(v) for v in config.values())
        ):
            raise ValueError(f"its optimizer {optimizer!r:.100} is not a built-in one")
        params["optimizer"] = cls.from_config(config)
    if isinstance(params.get("class_weight"), list):
        params["class_weight"] = {key: w for key, w in params["class_weight"]}
    clf = MNISTClassifier(**params)
    clf._check_params()
    fitted = _get(spec, "fitted", dict)
    if not set(fitted) <= set(_FITTED):
        raise ValueError(f"its MNISTClassifier has the attributes {sorted(fitted)}")
    fitted = {name: _decode(value, size) for name, value in fitted.items()}
    classes, n_features = fitted.get("classes_"), fitted.get("n_features_in_")
    if not isinstance(classes, np.ndarray) or classes.ndim != 1:
        raise ValueError("its MNISTClassifier has no valid classes_")
    if not _is_count(n_features):
        raise ValueError(f"its n_features_in_={n_features!r:.50} is not a count")

    # Every hyperparameter that sizes the network, against the arrays' headers.
    layers = clf.n_hidden_layers
    if len(weights) != 2 * (layers + 1):
        raise ValueError(
            f"its weights are those of {len(weights) // 2} layers, but "
            f"n_hidden_layers={layers} makes {layers + 1}"
        )
    expected = _weight_shapes(n_features, len(classes), clf.hidden_size, layers)
    for (name, shape), (key, (stored, _)) in zip(
        expected.items(), weights.items(), strict=True
    ):
        if (name, shape) != (key, stored):
            raise ValueError(
                f"its weights {key!r:.50} have the shape {stored}, but "
                f"n_features_in_={n_features}, {len(classes)} classes, hidden_size="
                f"{clf.hidden_size} and n_hidden_layers={layers} make {name!r} of "
                f"shape {shape}"
            )

    # The initial weights are overwritten: seeded, they draw from no global state.
    random_state = clf.random_state
    X = np.zeros((len(classes), n_features), dtype=np.float32)
    clf.set_params(random_state=0).initialize(X, classes)
    clf.set_params(random_state=random_state)
    if clf.classes_.dtype != classes.dtype or not np.array_equal(clf.classes_, classes):
        raise ValueError(f"its classes {classes.tolist()!r:.100} are not sorted")
    model = clf.model_
    _assign(model.trainable_variables, blobs[_WEIGHTS], expected, "weights")
    state = model.non_trainable_variables + model.optimizer.variables
    keys = [str(i) for i in range(len(state))]
    _assign(state, blobs[_TRAINING], keys, "training state")

    history = _get(fitted, "history_", dict)
    if not all(
        isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
        for v in history.values()
    ):
        raise ValueError("its history_ holds values that are not lists of numbers")
    clf.history_ = {key: [float(x) for x in values] for key, values in history.items()}
    for name in ("n_iter_", "best_epoch_", "feature_names_in_"):
        if name in fitted:
            setattr(clf, name, fitted[name])
    if not all(type(getattr(clf, n, 0)) is int for n in ("n_iter_", "best_epoch_")):
        raise ValueError("its n_iter_ or best_epoch_ is not an integer")
    _check_feature_names(clf)
    return clf


def _decode(value, size):
    """A fitted attribute from its JSON form (see _encode)."""
    if isinstance(value, dict) and set(value) == {"tuple"}:
        return tuple(_get(value, "tuple", list))
    if not (isinstance(value, dict) and set(value) == {"array", "dtype", "shape"}):
        return value
    dtype, shape = np.dtype(_get(value, "dtype", str)), _get(value, "shape", list)
    values = value["array"]
    if (
        dtype.kind not in "biufUO"
        or not all(type(n) is int and n >= 0 for n in shape)
        or math.prod(shape) * dtype.itemsize > size
        or (dtype.kind == "O" and len(shape) != 1)
    ):
        raise ValueError(f"it holds an array of dtype {dtype} and shape {shape!r:.50}")
    if dtype.kind == "O":
        array = np.empty(shape, dtype=object)
        array[:] = values
        if not all(isinstance(v, (str, int, float)) for v in array):
            raise ValueError("it holds an array of objects that are not data")
    else:
        array = np.array(values, dtype=dtype)
    if list(array.shape) != shape or array.tolist() != values:
        raise ValueError(f"its values {values!r:.100} do not fit the dtype {dtype}")
    return array[()] if array.ndim == 0 else array


def _assign(variables, blob, keys, what):
    """Set ``variables`` to the arrays ``keys`` of the .npz ``blob``, checked."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        if not len(keys) == len(variables) == len(npz.files):
            raise ValueError(
                f"its {len(npz.files)} {what} arrays do not fit the network and "
                f"optimizer of its parameters, which have {len(variables)}"
            )
        arrays = [npz[key] for key in keys]
    for variable, array in zip(variables, arrays, strict=True):
        dtype = np.dtype(variable.dtype)
        if array.shape != tuple(variable.shape) or (array.dtype.kind == "f") != (
            dtype.kind == "f"
        ):
            raise ValueError(
                f"its {what} hold an array of shape {array.shape} ({array.dtype}) "
                f"for {variable.path} of shape {tuple(variable.shape)} ({dtype})"
            )
    for variable, array in zip(variables, arrays, strict=True):
        variable.assign(array.astype(variable.dtype, copy=False))


def _check_feature_names(estimator):
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and not (
        isinstance(names, np.ndarray)
        and names.shape == (estimator.n_features_in_,)
        and all(isinstance(n, str) for n in names)
    ):
        raise ValueError(
            f"its {type(estimator).__name__}'s feature_names_in_ are not "
            f"{estimator.n_features_in_} strings"
        )


def _get(mapping, key, kind):
    value = mapping.get(key)
    if not isinstance(value, kind):
        raise ValueError(f"its manifest has no valid {key!r} entry")
    return value


def _is_count(value):
    return type(value) is int and value >= 1


def _is_scalar(value):
    return value is None or isinstance(value, (str, int, float))


# -- writing atomically ------------------------------------------------------------


def _write_atomically(path, data):
    """Write data to path through a synced temporary file in the same folder."""
    path = os.path.realpath(os.fspath(path))
    folder, name = os.path.split(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "cannot save a model over a folder", path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, "no such folder to save in", folder)
    _remove_stale_temporaries(folder, f".{name}.")
    temporary = os.path.join(folder, f".{name}.{secrets.token_hex(6)}{_TEMP_SUFFIX}")
    try:  # mode 0o666: the umask sets the permissions, as for any new file
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot save there: {exc.strerror}", path) from None
    try:
        if fcntl is not None:  # held until renamed: tells a running save's file
            fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):  # makes the rename durable, where possible
        folder_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(folder_fd)
        finally:
            os.close(folder_fd)


def _remove_stale_temporaries(folder, prefix):
    """Remove the temporary files that killed saves to the same path left."""
    for entry in os.scandir(folder):
        if entry.name.startswith(prefix) and entry.name.endswith(_TEMP_SUFFIX):
            with contextlib.suppress(OSError):
                fd = os.open(entry.path, os.O_RDONLY)
                try:
                    if fcntl is not None:  # a running save holds the lock
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    if os.path.samestat(os.fstat(fd), os.stat(entry.path)):
                        os.unlink(entry.path)
                finally:
                    os.close(fd)
