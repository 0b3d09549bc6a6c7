"""Pickle-free model files: :func:`save_model` and :func:`load_model`.

A fitted :class:`~skmnist.MNISTClassifier`, or a fitted
:func:`~skmnist.make_mnist_pipeline` pipeline, is saved as one file that loading
reads as data only: JSON, and the Keras network in Keras's native ``.keras``
format, loaded in Keras's safe mode. Nothing in the file is ever unpickled or
run, so a model file from someone else can be loaded without trusting them.

``joblib.dump`` and :mod:`pickle` also save these estimators, but **loading a
joblib or pickle file runs code chosen by whoever wrote the file**: load those only
from sources you trust as much as your own code, and share models as files made
by :func:`save_model`.

File layout (format ``"skmnist-model"``, version 1)
---------------------------------------------------
A zip archive (any file name; ``.skmnist`` is recommended) holding:

``manifest.json``
    UTF-8 JSON: ``format``, ``format_version``, ``skmnist_version``,
    ``keras_version``; ``estimator``, the description of the estimator
    (its class, hyperparameters and fitted attributes; for a pipeline, each
    step); and ``members``, the SHA-256 and size of every other member.
``model.keras``
    The network (architecture, weights, optimizer state) as saved by
    :func:`keras.saving.save_model`.

The archive's comment is ``skmnist-sha256:`` followed by the hexadecimal SHA-256
of every byte of the file before those 64 digits, so that a file changed or cut
anywhere is refused before any of it is parsed.
"""

import contextlib
import errno
import hashlib
import io
import json
import math
import numbers
import os
import secrets
import sys
import tempfile
import zipfile

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["ModelFileError", "load_model", "save_model"]

FORMAT_NAME = "skmnist-model"
FORMAT_VERSION = 1

_MANIFEST = "manifest.json"
_KERAS_MEMBER = "model.keras"
_KERAS_ARCHIVE_MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}
_MLP_LAYERS = {"InputLayer", "Dense", "Dropout"}
_SEAL_PREFIX = b"skmnist-sha256:"
_SEAL_DIGITS = 64
_SEAL_LENGTH = len(_SEAL_PREFIX) + _SEAL_DIGITS
# Fixed member timestamps: the archive says nothing about when it was written.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_WRITE_CHUNK = 1 << 20
# Deflate cannot expand data more than about 1032-fold: members claiming more
# than this many bytes per stored byte are a decompression bomb.
_MAX_EXPANSION = 1100
_LABEL_KINDS = "biufUO"
_PIPELINE_STEPS = ("flatten", "mlp")


class ModelFileError(ValueError):
    """A file that :func:`load_model` cannot load: damaged, foreign or unsafe.

    Raised for an empty, truncated or corrupted file, a file of another kind (a
    pickle, a plain ``.keras`` model, any other zip archive), a format version
    this skmnist does not read, a description that disagrees with the network it
    holds, or a network with layers that are not skmnist's. The message names the
    file and what is wrong with it.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    problem : str
        What is wrong with it.

    Attributes
    ----------
    path : str
        The file.
    problem : str
        What is wrong with it.

    Examples
    --------
    >>> import os, tempfile
    >>> from skmnist._persistence import ModelFileError, load_model
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "notes.txt")
    ...     with open(path, "w") as f:
    ...         _ = f.write("not a model")
    ...     try:
    ...         load_model(path)
    ...     except ModelFileError as exc:
    ...         print(exc.problem)
    it is not a zip archive, so not a file made by skmnist.save_model
    """

    def __init__(self, path, problem):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"cannot load skmnist model file {self.path!r}: {problem}")

    def __reduce__(self):
        return type(self), (self.path, self.problem)


# -- public API --------------------------------------------------------------------


def save_model(estimator, path):
    """Save a fitted model to one pickle-free file that :func:`load_model` reads.

    The file holds the network in Keras's native ``.keras`` format and the
    estimator's hyperparameters and fitted attributes as JSON, with a SHA-256
    checksum of every part and of the whole file. Loading it runs no code from
    the file, so, unlike a ``joblib`` or :mod:`pickle` file (which runs code
    when loaded and must only come from trusted sources), it is safe to share.

    The file is written atomically: the data goes to a temporary file in the
    same folder, which is flushed to disk and then renamed onto `path`. After a
    failure (a full disk, a crash) `path` is either the complete new file or
    whatever it was before, and no temporary file is left behind.

    Parameters
    ----------
    estimator : MNISTClassifier or Pipeline
        A fitted :class:`~skmnist.MNISTClassifier`, or a fitted pipeline made by
        :func:`~skmnist.make_mnist_pipeline`: exactly the steps ``"flatten"``
        (a :class:`~skmnist.FlattenScaler`) and ``"mlp"`` (an
        :class:`~skmnist.MNISTClassifier`). Every hyperparameter must be
        storable as data: Keras ``callbacks`` must be None (they only act during
        ``fit``; ``set_params(callbacks=None)`` before saving), and an optimizer
        instance must be a built-in Keras optimizer (it is stored by its config).

    path : str or os.PathLike
        The file to write; any name, ``.skmnist`` recommended. An existing file
        is replaced.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator (or a step of the pipeline) is not fitted.
    TypeError
        If the estimator is of another kind, or a hyperparameter is of a type
        that cannot be stored as data.
    ValueError
        If a hyperparameter has a value the file cannot hold (Keras callbacks,
        non-finite numbers).
    OSError
        If the file cannot be written; `path` is then left as it was.

    See Also
    --------
    load_model : Load a file written by this function.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skmnist import load_mnist_sample, make_mnist_pipeline
    >>> from skmnist import load_model, save_model
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
    description, network = _describe(estimator)

    import keras

    from . import __version__

    with tempfile.TemporaryDirectory(prefix="skmnist-save-") as folder:
        keras_path = os.path.join(folder, _KERAS_MEMBER)
        keras.saving.save_model(network, keras_path)
        with open(keras_path, "rb") as f:
            keras_bytes = f.read()
    members = {_KERAS_MEMBER: keras_bytes}
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "skmnist_version": __version__,
        "keras_version": keras.__version__,
        "estimator": description,
        "members": {
            name: {"sha256": _sha256(data), "size": len(data)}
            for name, data in members.items()
        },
    }
    _write_atomically(path, _pack(manifest, members))


def load_model(path):
    """Load a model file written by :func:`save_model`, running no code from it.

    The file is checked before anything in it is used: its whole-file and
    per-part SHA-256 checksums, its format name and version, the description of
    the estimator, and the network, which Keras loads in safe mode (no Python
    lambdas, no custom objects) and which must be exactly the network skmnist
    builds for the saved hyperparameters. Nothing is unpickled.

    The estimator comes back fitted, as it was saved: ``predict``,
    ``predict_proba`` and ``score`` give identical results, ``classes_`` has the
    same values and type, and training can continue (``warm_start=True`` or
    ``partial_fit``) from the saved weights and optimizer state.

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
        If the file is empty, truncated, corrupted, of another kind (for
        example a joblib or pickle file, or a plain ``.keras`` model), of a
        format version this skmnist does not read, inconsistent, or holds a
        network that is not skmnist's. A subclass of ``ValueError``.
    OSError
        If the file cannot be read (for example ``FileNotFoundError``).

    See Also
    --------
    save_model : Write such a file.

    Examples
    --------
    >>> import os, tempfile
    >>> from skmnist import MNISTClassifier, load_mnist_sample
    >>> from skmnist import load_model, save_model
    >>> X, y = load_mnist_sample(return_X_y=True)
    >>> X = X.reshape(len(X), -1) / 255.0
    >>> clf = MNISTClassifier(hidden_size=16, epochs=1, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "digits.skmnist")
    ...     save_model(clf, path)
    ...     loaded = load_model(path)
    >>> type(loaded).__name__, loaded.classes_.tolist() == clf.classes_.tolist()
    ('MNISTClassifier', True)
    >>> bool((loaded.predict(X[:50]) == clf.predict(X[:50])).all())
    True
    """
    with open(path, "rb") as f:
        data = f.read()
    _check_seal(data, path)
    manifest, members = _unpack(data, path)
    description = _field(manifest, "estimator", dict, path, "the manifest")
    try:
        return _restore(description, members, path)
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(
            path, f"the estimator cannot be rebuilt from it: {_describe_exc(exc)}"
        ) from exc


# -- describing an estimator (save) -------------------------------------------------


def _describe(estimator):
    """Return (JSON description, Keras model) of a supported fitted estimator."""
    from sklearn.pipeline import Pipeline

    from ._classifier import MNISTClassifier
    from ._preprocessing import FlattenScaler

    if isinstance(estimator, Pipeline):
        steps = estimator.steps
        names = tuple(name for name, _ in steps)
        kinds = tuple(type(step) for _, step in steps)
        if names != _PIPELINE_STEPS or kinds != (FlattenScaler, MNISTClassifier):
            found = ", ".join(f"({n!r}, {type(s).__name__})" for n, s in steps)
            raise TypeError(
                "save_model saves a pipeline made by make_mnist_pipeline: exactly "
                "the steps ('flatten', FlattenScaler) and ('mlp', MNISTClassifier); "
                f"got the steps {found}."
            )
        scaler, clf = (step for _, step in steps)
        check_is_fitted(scaler)
        check_is_fitted(clf)
        params = estimator.get_params(deep=False)
        params.pop("steps")
        description = {
            "class": "sklearn.pipeline.Pipeline",
            "params": _encode_params(params, "Pipeline"),
            "steps": [
                ["flatten", _describe_scaler(scaler)],
                ["mlp", _describe_classifier(clf)],
            ],
        }
        return description, clf.model_
    if type(estimator) is MNISTClassifier:
        check_is_fitted(estimator)
        return _describe_classifier(estimator), estimator.model_
    if isinstance(estimator, type):
        what = f"the class {estimator.__name__} (pass a fitted instance)"
    else:
        what = f"an object of type {type(estimator).__module__}."
        what += type(estimator).__qualname__
    raise TypeError(
        "save_model saves a fitted skmnist.MNISTClassifier or a fitted pipeline "
        f"made by skmnist.make_mnist_pipeline, not {what}. Use joblib.dump for "
        "other estimators (and load such files only from trusted sources)."
    )


def _describe_scaler(scaler):
    fitted = {
        "image_shape": [int(s) for s in scaler.image_shape_],
        "n_features_in": int(scaler.n_features_in_),
    }
    if hasattr(scaler, "feature_names_in_"):
        fitted["feature_names_in"] = [str(n) for n in scaler.feature_names_in_]
    return {
        "class": "skmnist.FlattenScaler",
        "params": _encode_params(scaler.get_params(deep=False), "FlattenScaler"),
        "fitted": fitted,
    }


def _describe_classifier(clf):
    params = clf.get_params(deep=False)
    if params.get("callbacks"):
        raise ValueError(
            "save_model cannot store Keras callbacks (they are code, and only act "
            "during fit); set them to None before saving, e.g. "
            "clf.set_params(callbacks=None) or pipe.set_params(mlp__callbacks=None)."
        )
    fitted = {
        "classes": _encode_labels(clf.classes_),
        "n_features_in": int(clf.n_features_in_),
    }
    if hasattr(clf, "feature_names_in_"):
        fitted["feature_names_in"] = [str(n) for n in clf.feature_names_in_]
    if hasattr(clf, "history_"):
        fitted["history"] = {
            str(key): [_encode_float(v) for v in values]
            for key, values in clf.history_.items()
        }
    for name in ("n_iter", "best_epoch"):
        if hasattr(clf, name + "_"):
            fitted[name] = int(getattr(clf, name + "_"))
    return {
        "class": "skmnist.MNISTClassifier",
        "params": _encode_params(params, "MNISTClassifier"),
        "fitted": fitted,
        "keras_model": _KERAS_MEMBER,
    }


def _encode_float(value):
    # JSON has no NaN or infinity: a diverged training history stores them as text.
    value = float(value)
    return value if math.isfinite(value) else repr(value)


def _decode_float(value):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, str) and value not in ("nan", "inf", "-inf"):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _encode_labels(classes):
    """Classes as {"dtype": numpy dtype string, "values": list}, exactly."""
    classes = np.asarray(classes)
    kind = classes.dtype.kind
    if classes.ndim != 1 or kind not in _LABEL_KINDS:
        raise TypeError(
            f"save_model stores class labels that are ints, floats, bools or "
            f"strings; got classes_ of dtype {classes.dtype} and shape "
            f"{classes.shape}."
        )
    values = []
    for value in classes.tolist():
        if isinstance(value, np.generic):
            value = value.item()
        if not isinstance(value, (str, bool, int, float)):
            raise TypeError(
                "save_model stores class labels that are ints, floats, bools or "
                f"strings; classes_ holds {value!r} of type {type(value).__name__}."
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"save_model cannot store the class label {value!r}.")
        values.append(value)
    return {"dtype": classes.dtype.str, "values": values}


def _decode_labels(spec):
    dtype = np.dtype(_expect(spec.get("dtype"), str, "classes dtype"))
    values = _expect(spec.get("values"), list, "classes values")
    if dtype.kind not in _LABEL_KINDS:
        raise ValueError(f"class labels of dtype {dtype} are not supported")
    for value in values:
        if not isinstance(value, (str, bool, int, float)):
            raise ValueError(f"class label {value!r} is not a number or a string")
    if dtype.kind == "O":
        classes = np.empty(len(values), dtype=object)
        classes[:] = values
    else:
        classes = np.array(values, dtype=dtype)
    if classes.ndim != 1 or classes.tolist() != values:
        raise ValueError(f"the class labels {values!r} do not fit the dtype {dtype}")
    if any(
        type(a) is not type(b) for a, b in zip(classes.tolist(), values, strict=True)
    ):
        raise ValueError(f"the class labels {values!r} do not fit the dtype {dtype}")
    return classes


# Hyperparameters are plain JSON where JSON can hold them exactly; anything else
# is an object {"__kind__": ..., ...}, which plain values never are.


def _encode_params(params, owner):
    return {
        name: _encode_value(value, f"{owner}.{name}")
        for name, value in sorted(params.items())
    }


def _encode_value(value, where):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"save_model cannot store {where}={value!r}.")
        return value
    if isinstance(value, list):
        return [_encode_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        items = [_encode_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return {"__kind__": "tuple", "items": items}
    if isinstance(value, dict):
        items = [
            [_encode_value(k, f"{where} key"), _encode_value(v, f"{where}[{k!r}]")]
            for k, v in value.items()
        ]
        return {"__kind__": "dict", "items": items}
    if isinstance(value, np.dtype):
        return {"__kind__": "numpy.dtype", "dtype": value.str}
    if isinstance(value, type) and issubclass(value, np.generic):
        return {"__kind__": "numpy.type", "dtype": np.dtype(value).str}
    if isinstance(value, np.random.RandomState):
        name, keys, pos, has_gauss, cached = value.get_state()
        return {
            "__kind__": "numpy.random.RandomState",
            "state": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        }
    optimizer = _encode_optimizer(value, where)
    if optimizer is not None:
        return optimizer
    raise TypeError(
        f"save_model cannot store {where}: a {type(value).__module__}."
        f"{type(value).__qualname__} is not data (supported: None, bool, int, "
        "float, str, lists, tuples and dicts of these, numpy dtypes, "
        "RandomState, built-in Keras optimizers)."
    )


def _encode_optimizer(value, where):
    keras = sys.modules.get("keras")  # an optimizer instance means Keras is loaded
    if keras is None or not isinstance(value, keras.optimizers.Optimizer):
        return None
    config = keras.optimizers.serialize(value)
    try:
        _check_keras_objects(config)
        config = json.loads(json.dumps(config, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"save_model cannot store {where}: {type(value).__qualname__} is not "
            "a built-in Keras optimizer with a plain config; pass the optimizer by "
            f"name (e.g. 'adam') or use a Keras optimizer ({exc})."
        ) from None
    return {"__kind__": "keras.optimizers.Optimizer", "config": config}


def _decode_params(spec, where):
    spec = _expect(spec, dict, where)
    return {
        name: _decode_value(value, f"{where}.{name}") for name, value in spec.items()
    }


def _decode_value(value, where):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode_value(v, where) for v in value]
    kind = _expect(value.get("__kind__"), str, f"the kind of {where}")
    if kind == "tuple":
        return tuple(
            _decode_value(v, where) for v in _expect(value["items"], list, where)
        )
    if kind == "dict":
        items = _expect(value["items"], list, where)
        return {
            _decode_value(k, where): _decode_value(v, where)
            for k, v in (_expect(item, list, where) for item in items)
        }
    if kind == "numpy.dtype":
        return np.dtype(_expect(value["dtype"], str, where))
    if kind == "numpy.type":
        return np.dtype(_expect(value["dtype"], str, where)).type
    if kind == "numpy.random.RandomState":
        name, keys, pos, has_gauss, cached = _expect(value["state"], list, where)
        keys = np.array(keys, dtype=np.uint32)
        random_state = np.random.RandomState()
        random_state.set_state(
            (str(name), keys, int(pos), int(has_gauss), float(cached))
        )
        return random_state
    if kind == "keras.optimizers.Optimizer":
        import keras

        config = _expect(value["config"], dict, where)
        _check_keras_objects(config)
        optimizer = keras.optimizers.deserialize(config)
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise ValueError(f"{where} is not a Keras optimizer")
        return optimizer
    raise ValueError(f"{where} has the unknown kind {kind!r}")


# -- rebuilding an estimator (load) -------------------------------------------------


def _restore(description, members, path):
    from sklearn.pipeline import Pipeline

    kind = _expect(description.get("class"), str, "the estimator class")
    if kind == "skmnist.MNISTClassifier":
        return _restore_classifier(description, members, path)
    if kind != "sklearn.pipeline.Pipeline":
        raise ModelFileError(path, f"it describes an unsupported estimator {kind!r}")
    steps = _expect(description.get("steps"), list, "the pipeline steps")
    names = [step[0] if isinstance(step, list) and step else None for step in steps]
    if names != list(_PIPELINE_STEPS) or any(len(step) != 2 for step in steps):
        raise ModelFileError(
            path, f"its pipeline has the steps {names}, not ['flatten', 'mlp']"
        )
    flatten, mlp = (_expect(step[1], dict, "a pipeline step") for step in steps)
    if flatten.get("class") != "skmnist.FlattenScaler":
        raise ModelFileError(path, "its pipeline step 'flatten' is not a FlattenScaler")
    if mlp.get("class") != "skmnist.MNISTClassifier":
        raise ModelFileError(path, "its pipeline step 'mlp' is not an MNISTClassifier")
    scaler = _restore_scaler(flatten)
    clf = _restore_classifier(mlp, members, path)
    if scaler.n_features_in_ != clf.n_features_in_:
        raise ModelFileError(
            path,
            f"its FlattenScaler gives {scaler.n_features_in_} features but its "
            f"MNISTClassifier takes {clf.n_features_in_}",
        )
    params = _decode_params(description.get("params", {}), "Pipeline")
    pipeline = Pipeline([("flatten", scaler), ("mlp", clf)], **params)
    pipeline._validate_params()
    return pipeline


def _restore_scaler(spec):
    from ._preprocessing import FlattenScaler

    scaler = FlattenScaler(**_decode_params(spec.get("params", {}), "FlattenScaler"))
    scaler._validate_params()
    fitted = _expect(spec.get("fitted"), dict, "the FlattenScaler's fitted state")
    image_shape = tuple(_expect(fitted.get("image_shape"), list, "image_shape"))
    n_features = _expect(fitted.get("n_features_in"), int, "n_features_in")
    if (
        not 1 <= len(image_shape) <= 2
        or not all(isinstance(s, int) and s > 0 for s in image_shape)
        or math.prod(image_shape) != n_features
    ):
        raise ValueError(
            f"the image shape {image_shape} does not hold {n_features} pixels"
        )
    scaler.image_shape_ = image_shape
    scaler.n_features_in_ = n_features
    _restore_feature_names(scaler, fitted)
    return scaler


def _restore_classifier(spec, members, path):
    from sklearn.utils.multiclass import check_classification_targets, type_of_target

    from ._classifier import MNISTClassifier

    params = _decode_params(spec.get("params", {}), "MNISTClassifier")
    clf = MNISTClassifier(**params)
    clf._validate_params()
    if clf.callbacks:
        raise ValueError("it lists Keras callbacks, which files never hold")
    fitted = _expect(spec.get("fitted"), dict, "the MNISTClassifier's fitted state")
    classes = _decode_labels(_expect(fitted.get("classes"), dict, "classes"))
    check_classification_targets(classes)
    if len(classes) < 2 or not np.array_equal(np.unique(classes), classes):
        raise ValueError(f"the classes {classes.tolist()} are not sorted and unique")
    n_features = _expect(fitted.get("n_features_in"), int, "n_features_in")
    if n_features < 1:
        raise ValueError(f"n_features_in={n_features} is not a positive number")
    clf.n_features_in_ = n_features
    _restore_feature_names(clf, fitted)

    # The state scikeras's fit leaves for predict: the label encoder (fitted on
    # the classes, so with the target type the training labels had), its
    # metadata (classes_, n_classes_, n_outputs_, n_outputs_expected_), the
    # feature encoder and the callbacks.
    clf.classes_ = None
    clf.target_encoder_ = clf.target_encoder.fit(classes)
    vars(clf).update(clf.target_encoder_.get_metadata())
    if clf.classes_.dtype != classes.dtype or not np.array_equal(clf.classes_, classes):
        raise ValueError("the label encoder does not reproduce the saved classes")
    clf.target_type_ = type_of_target(classes)
    clf.feature_encoder_ = clf.feature_encoder.fit(
        np.zeros((1, n_features), dtype=np.float32)
    )
    clf._random_state = None
    clf._initialize_callbacks()

    if "history" in fitted:
        history = _expect(fitted["history"], dict, "history")
        clf.history_ = {
            str(key): [_decode_float(v) for v in _expect(values, list, "history")]
            for key, values in history.items()
        }
    for name in ("n_iter", "best_epoch"):
        if name in fitted:
            setattr(clf, name + "_", _expect(fitted[name], int, name))

    member = _expect(spec.get("keras_model"), str, "the Keras model member")
    if member not in members:
        raise ModelFileError(path, f"it lacks the Keras model {member!r}")
    clf.model_ = _load_network(members[member], clf, path)
    return clf


def _restore_feature_names(estimator, fitted):
    if "feature_names_in" not in fitted:
        return
    names = _expect(fitted["feature_names_in"], list, "feature_names_in")
    if len(names) != estimator.n_features_in_ or not all(
        isinstance(n, str) for n in names
    ):
        raise ValueError(
            f"feature_names_in has {len(names)} entries, not "
            f"{estimator.n_features_in_} strings"
        )
    estimator.feature_names_in_ = np.asarray(names, dtype=object)


def _load_network(keras_bytes, clf, path):
    """Load the .keras member in safe mode; check it is the network clf builds."""
    import keras

    where = f"its Keras model {_KERAS_MEMBER!r}"
    try:
        with zipfile.ZipFile(io.BytesIO(keras_bytes)) as archive:
            names = set(archive.namelist())
            if names != _KERAS_ARCHIVE_MEMBERS:
                raise ValueError(
                    f"it holds the files {sorted(names)}, not those of a Keras model "
                    f"({sorted(_KERAS_ARCHIVE_MEMBERS)})"
                )
            config = json.loads(archive.read("config.json"))
    except Exception as exc:
        raise ModelFileError(
            path, f"{where} is unreadable: {_describe_exc(exc)}"
        ) from exc

    # Before Keras sees the config: only Keras's own objects, no lambdas, and only
    # the layers of skmnist's network.
    try:
        _check_keras_objects(config)
        if config.get("class_name") != "Functional":
            raise ValueError(
                f"it is a {config.get('class_name')!r}, not a functional model"
            )
        layers = config["config"]["layers"]
        kinds = sorted({layer["class_name"] for layer in layers} - _MLP_LAYERS)
        if kinds:
            raise ValueError(
                f"it has layers of the kinds {kinds}, which skmnist's network never "
                f"has (only {sorted(_MLP_LAYERS)})"
            )
    except Exception as exc:
        raise ModelFileError(path, f"{where} is refused: {_describe_exc(exc)}") from exc

    try:
        with tempfile.TemporaryDirectory(prefix="skmnist-load-") as folder:
            keras_path = os.path.join(folder, _KERAS_MEMBER)
            with open(keras_path, "wb") as f:
                f.write(keras_bytes)
            model = keras.saving.load_model(keras_path, compile=True, safe_mode=True)
    except Exception as exc:
        raise ModelFileError(
            path, f"{where} cannot be loaded safely: {_describe_exc(exc)}"
        ) from exc

    expected = clf._network()
    if _plain(model.get_config()) != _plain(expected.get_config()):
        raise ModelFileError(
            path,
            f"{where} is not the network of its hyperparameters "
            f"({clf.n_features_in_} inputs, {clf.n_hidden_layers} hidden layers of "
            f"{clf.hidden_size} units, activation {clf.activation!r}, dropout "
            f"{clf.dropout}, {clf.n_classes_} classes): it has "
            f"{_summarize(model)}",
        )
    if not model.compiled or model.loss != "sparse_categorical_crossentropy":
        raise ModelFileError(
            path, f"{where} is not compiled with the sparse categorical cross-entropy"
        )
    if isinstance(clf.optimizer, str):
        optimizer_class = type(keras.optimizers.get(clf.optimizer))
    else:
        optimizer_class = type(clf.optimizer)
    if type(model.optimizer) is not optimizer_class:
        raise ModelFileError(
            path,
            f"{where} is compiled with a {type(model.optimizer).__name__} "
            f"optimizer, but its hyperparameters ask for {optimizer_class.__name__}",
        )
    return model


def _summarize(model):
    parts = []
    for layer in model.layers:
        shapes = "x".join(str(tuple(w.shape)) for w in layer.weights)
        parts.append(f"{type(layer).__name__} {layer.name!r} {shapes}".strip())
    return "; ".join(parts)


def _plain(config):
    # Keras configs hold tuples where their JSON holds lists. Seeds of the
    # initialisers and dropout are training randomness, not architecture.
    def drop_seeds(node):
        if isinstance(node, dict):
            return {k: drop_seeds(v) for k, v in node.items() if k != "seed"}
        if isinstance(node, list):
            return [drop_seeds(v) for v in node]
        return node

    return drop_seeds(json.loads(json.dumps(config, default=repr)))


def _check_keras_objects(config):
    """Refuse Keras configs that name non-Keras code or Python lambdas."""
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            module = node.get("module")
            if module is not None and not (
                isinstance(module, str)
                and (module == "keras" or module.startswith("keras."))
            ):
                raise ValueError(f"it names the module {module!r}, which is not Keras")
            class_name = node.get("class_name")
            if class_name in ("__lambda__", "Lambda", "TFOpLambda"):
                raise ValueError(
                    f"it holds a {class_name} (Python code), which skmnist never loads"
                )
            # Pickling a fitted model makes scikeras register Keras's own model
            # class under an empty package, so later saves in the process name it
            # ">Functional": still Keras's built-in class, no custom code.
            if node.get("registered_name") not in (None, class_name, f">{class_name}"):
                raise ValueError(
                    f"it names the custom object {node['registered_name']!r}"
                )
            stack.extend(node.values())


# -- the archive ------------------------------------------------------------------


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _pack(manifest, members):
    """The sealed zip archive: manifest.json, the members, the SHA-256 comment."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.comment = _SEAL_PREFIX + b"0" * _SEAL_DIGITS
        text = json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False)
        _add_member(archive, _MANIFEST, text.encode("utf-8"), zipfile.ZIP_DEFLATED)
        for name, data in members.items():
            # The .keras file is a zip archive already: store it as it is.
            _add_member(archive, name, data, zipfile.ZIP_STORED)
    data = bytearray(buffer.getvalue())
    data[-_SEAL_DIGITS:] = _sha256(data[:-_SEAL_DIGITS]).encode("ascii")
    return bytes(data)


def _add_member(archive, name, data, compression):
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def _check_seal(data, path):
    if not data:
        raise ModelFileError(path, "the file is empty")
    if not data.startswith(b"PK\x03\x04"):
        if _looks_pickled(data):
            raise ModelFileError(
                path,
                "it looks like a pickle or joblib file (perhaps compressed), not a "
                "file made by skmnist.save_model; such files run code when loaded: "
                "load them with joblib.load only if you trust their source",
            )
        raise ModelFileError(
            path, "it is not a zip archive, so not a file made by skmnist.save_model"
        )
    seal = data[-_SEAL_LENGTH:]
    if len(data) <= _SEAL_LENGTH or not seal.startswith(_SEAL_PREFIX):
        hint = ""
        with contextlib.suppress(Exception):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "config.json" in archive.namelist():
                    hint = (
                        " (it looks like a Keras .keras model: load it with "
                        "keras.saving.load_model)"
                    )
        raise ModelFileError(
            path,
            "it does not end with the skmnist checksum: the file is truncated, or "
            f"is a zip archive not made by skmnist.save_model{hint}",
        )
    expected = _sha256(data[:-_SEAL_DIGITS]).encode("ascii")
    if seal[len(_SEAL_PREFIX) :] != expected:
        raise ModelFileError(
            path,
            "its SHA-256 checksum does not match its content: the file is "
            "corrupted (or was changed after it was written)",
        )


def _looks_pickled(data):
    # A pickle starts with its protocol opcode; joblib compresses with zlib (a
    # two-byte header that is a multiple of 31), gzip, bz2, xz or lzma.
    zlib_header = (
        len(data) > 1 and data[0] == 0x78 and (data[0] * 256 + data[1]) % 31 == 0
    )
    return (
        data[:1] == b"\x80"
        or zlib_header
        or data.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x5d\x00\x00"))
    )


def _unpack(data, path):
    """Check the archive and its manifest; return (manifest, {name: bytes})."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if len(set(names)) != len(names):
                raise ValueError("it holds a member more than once")
            if _MANIFEST not in names:
                raise ModelFileError(path, f"it has no {_MANIFEST}")
            declared = sum(info.file_size for info in infos)
            if declared > _MAX_EXPANSION * len(data):
                raise ValueError(
                    f"its members claim {declared} bytes, more than a zip archive "
                    f"of {len(data)} bytes can hold"
                )
            manifest = json.loads(archive.read(_MANIFEST).decode("utf-8"))
            if not isinstance(manifest, dict):
                raise ModelFileError(path, f"its {_MANIFEST} is not a JSON object")
            _check_format(manifest, path)
            listed = _field(manifest, "members", dict, path, "the manifest")
            if set(names) != {_MANIFEST, *listed}:
                raise ModelFileError(
                    path,
                    f"it holds the members {sorted(names)}, but its manifest lists "
                    f"{sorted(listed)}",
                )
            members = {}
            for name, entry in listed.items():
                blob = archive.read(name)
                entry = _expect(entry, dict, f"the manifest entry of {name!r}")
                if len(blob) != entry.get("size") or _sha256(blob) != entry.get(
                    "sha256"
                ):
                    raise ModelFileError(
                        path,
                        f"its member {name!r} does not match the size and SHA-256 "
                        "in its manifest: the file is corrupted",
                    )
                members[name] = blob
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(
            path, f"its archive is unreadable: {_describe_exc(exc)}"
        ) from exc
    return manifest, members


def _check_format(manifest, path):
    name = manifest.get("format")
    version = manifest.get("format_version")
    if name != FORMAT_NAME:
        raise ModelFileError(
            path, f"its format is {name!r}, not {FORMAT_NAME!r} (skmnist.save_model)"
        )
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(path, f"its format version {version!r} is not valid")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            path,
            f"it has format version {version}, written by a newer skmnist "
            f"({manifest.get('skmnist_version')!r}); this skmnist reads format "
            f"version {FORMAT_VERSION}: upgrade skmnist to load it",
        )


def _write_atomically(path, data):
    """Write data to path through a synced temporary file in the same folder."""
    path = os.path.realpath(os.fspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save a model to {path!r}: it is a folder")
    folder, name = os.path.split(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            errno.ENOENT, f"cannot save a model in {folder!r}: no such folder", path
        )
    temporary = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
    # Mode 0o666 lets the umask set the permissions, as for any new file.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(fd, "wb", closefd=True) as f:
            _write_all(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_folder(folder)


def _write_all(f, data):
    view = memoryview(data)
    for start in range(0, len(view), _WRITE_CHUNK):
        f.write(view[start : start + _WRITE_CHUNK])


def _sync_folder(folder):
    # Make the rename itself durable; not possible (nor needed) everywhere.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- small helpers -----------------------------------------------------------------


def _expect(value, kind, what):
    if kind is int and isinstance(value, bool):
        raise ValueError(f"{what} is {value!r}, not an integer")
    if not isinstance(value, kind):
        raise ValueError(f"{what} is {value!r}, not {kind.__name__}")
    return value


def _field(mapping, key, kind, path, where):
    value = mapping.get(key)
    if not isinstance(value, kind):
        raise ModelFileError(path, f"{where} has no valid {key!r} entry")
    return value


def _describe_exc(exc):
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if len(first) > 300:
        first = first[:300] + "..."
    return f"{first} ({type(exc).__name__})" if first else type(exc).__name__
