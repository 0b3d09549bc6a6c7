"""Pickle-free model files: :func:`save_model` and :func:`load_model`.

A file holds an estimator's parameters and fitted attributes as JSON and its
network's weights as NumPy arrays (the layout: docs/user_guide/persistence.rst).
"""

import hashlib
import io
import json
import numbers
import warnings
import zipfile

import numpy as np

from .._files import check_write_target, write_atomically
from .._json import exact
from ..network import state, state_parts
from ._layout import state_key
from ._reader import (
    ARRAYS,
    ATTRIBUTE,
    DIGITS,
    FITTED,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    SEAL,
    ModelFileError,
    check_classifier,
    check_scaler,
    file_errors,
    read_model_file,
    require,
)

__all__ = ["ModelFileError", "load_model", "save_model"]

_SCALARS = (str, int, float, type(None))  # what an optimizer's config may hold
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the same model always gives the same bytes


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
    text = json.dumps(manifest, indent=1, sort_keys=True, default=exact)
    _check_readable(text)
    members = {MANIFEST: text.encode(), ARRAYS: _archive(arrays, seal=False)}
    write_atomically(path, _archive(members, seal=True))


def _check_readable(text):
    """Refuse, before writing, a manifest that the reader would refuse (an
    optimizer whose state files cannot describe, a history that is not
    finite numbers...): save_model never writes a file that cannot be loaded."""
    manifest = json.loads(text)
    try:
        _, fitted, _ = check_classifier(manifest["classifier"], len(text))
        if "scaler" in manifest:  # a scaler's parameter set after its fit
            check_scaler(manifest["scaler"], fitted, len(text))
    except ValueError as exc:
        raise ValueError(
            f"save_model cannot write this model: load_model would refuse the "
            f"file, as {exc}"
        ) from None


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
    model_file = read_model_file(path)  # everything that needs no Keras
    with file_errors(path):
        return _restore(model_file)


def _describe(estimator):
    """The manifest and the variables ({key: Keras variable}) of an estimator."""
    import sklearn
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    from .. import __version__
    from ..engine._build import network_of
    from ..estimator._classifier import MNISTClassifier, keras
    from ..estimator._scaler import FlattenScaler

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
        fitted = {k: v for k, v in vars(scaler).items() if ATTRIBUTE.fullmatch(k)}
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
    network = network_of(clf.model_)
    params = _as_fitted(clf.get_params(), network)
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
    fitted = {n: _encode(getattr(clf, n)) for n in FITTED if hasattr(clf, n)}
    manifest["classifier"] = {"params": params, "fitted": fitted}
    weights, others, optimizer = state_parts(clf.model_)
    variables = dict(zip(network.weight_shapes(), weights, strict=True))
    variables.update({state_key(i): v for i, v in enumerate(others + optimizer)})
    return manifest, variables


def _as_fitted(params, network):
    """``params`` with the architecture of the fitted ``network`` (a parameter
    set after fit takes effect at the next fit), a warning for each changed."""
    from ..engine._build import keras_activation_name

    for name, value in network.determined().items():
        current = params[name]
        if name == "activation":  # Keras's name: "swish" is "silu"
            same = keras_activation_name(current) == value
        else:
            same = isinstance(current, numbers.Real) and current == value
        if not same:
            message = (
                f"save_model saves the fitted network, of {name}={value!r}, not the "
                f"estimator's {name}={current!r:.50}, which was set after fit and "
                "takes effect at its next fit. Fit it again before saving to save "
                f"a network of {name}={current!r:.50}."
            )
            warnings.warn(message, UserWarning, stacklevel=4)  # save_model's caller
            params[name] = value
    return params


def _drop(params, name, why):
    if params.get(name) is not None:
        message = f"save_model does not store {name}={params[name]!r:.100}: {why}. "
        message += f"The loaded model has {name}=None; set_params it again if needed."
        warnings.warn(message, UserWarning, stacklevel=4)  # save_model's caller
        params[name] = None


def _encode(value):
    """A fitted attribute as JSON, arrays and tuples tagged to come back as such."""
    if isinstance(value, tuple):
        return {"tuple": list(value)}
    if not isinstance(value, (np.ndarray, np.generic)):
        return value
    array = np.asarray(value)
    return {"array": array.tolist(), "dtype": array.dtype.str, "shape": array.shape}


def _archive(members, seal):
    """A zip of the uncompressed ``members``, sealed with its SHA-256 if `seal`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, blob in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), blob)
        archive.comment = SEAL + b"0" * DIGITS if seal else b""
    data = buffer.getvalue()
    if seal:
        data = data[:-DIGITS] + hashlib.sha256(data[:-DIGITS]).hexdigest().encode()
    return data


def _restore(model_file):
    """The estimator of a checked model file, its Keras network built."""
    from sklearn.pipeline import Pipeline

    clf = _restore_classifier(model_file)
    if model_file.kind == "MNISTClassifier":
        return clf
    names, params = model_file.pipeline["steps"], model_file.pipeline["params"]
    steps = [(names[0], _flatten_scaler(model_file.scaler)), (names[1], clf)]
    pipe = Pipeline(steps, **params)
    pipe._validate_params()
    return pipe


def _flatten_scaler(scaling):
    """The FlattenScaler of a model file's checked scaler values."""
    from ..estimator._scaler import FlattenScaler

    scaler = FlattenScaler(**scaling.get_params())
    scaler._validate_params()
    fitted = {k: v for k, v in vars(scaling).items() if k.endswith("_")}
    vars(scaler).update(fitted)
    return scaler


def _restore_classifier(model_file):
    from ..estimator._classifier import MNISTClassifier, keras

    params = dict(model_file.params)
    optimizer = params.get("optimizer")
    if isinstance(optimizer, dict):  # a built-in class and its plain config
        cls = getattr(keras.optimizers, optimizer["class"])
        params["optimizer"] = cls.from_config(optimizer["config"])
    clf = MNISTClassifier(**params)
    clf._check_params()  # what only Keras knows (the optimizer's config)
    fitted = model_file.fitted
    classes = fitted["classes_"]
    # The initial weights are overwritten: seeded, they draw from no global state.
    X = np.zeros((len(classes), fitted["n_features_in_"]), dtype=np.float32)
    clf.set_params(random_state=0).initialize(X, classes)
    clf.set_params(random_state=params.get("random_state"))
    ok = clf.classes_.dtype == classes.dtype and np.array_equal(clf.classes_, classes)
    require(ok, f"its classes {classes.tolist()!r:.100} are not sorted and unique")
    variables = state(clf.model_)
    arrays = model_file.weights + model_file.state
    # The reader checked the arrays against the layout it derives; the network
    # built is the judge of that layout (a Keras that keeps another state).
    ok = len(arrays) == len(variables)
    require(ok, f"its {len(arrays)} arrays do not fit its optimizer")
    for variable, array in zip(variables, arrays, strict=True):
        ok = array.shape == tuple(variable.shape)
        require(ok, f"its array of shape {array.shape} does not fit {variable.path}")
        variable.assign(array.astype(variable.dtype, copy=False))
    names = {"history_", "n_iter_", "best_epoch_", "feature_names_in_"} & set(fitted)
    vars(clf).update({name: fitted[name] for name in names})
    return clf
