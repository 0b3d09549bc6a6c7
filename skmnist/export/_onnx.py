"""A saved model as one ONNX file: :func:`export_onnx`.

The graph is built from a model file's contents, read by the one reader
(:func:`skmnist.modelfile._reader.read_model_file`) into what the light
predictor computes; an estimator in memory is first written with
:func:`skmnist.save_model` to a temporary file. Exporting imports ``onnx``,
never TensorFlow (a model in memory has it imported already).
"""

import errno
import os
import tempfile

from .. import __version__
from .._errors import MissingExtra
from .._files import UnsafeWriteTarget, check_write_target, write_atomically

__all__ = ["export_onnx"]


def export_onnx(model, path):
    """Write a fitted model as an ONNX file that predicts as it does.

    The ONNX graph computes the whole saved estimator: a pipeline's
    :class:`FlattenScaler` (flattening, and the division by its ``scale_``),
    the dense layers and their activation, the softmax, and the label. It is
    built from the model file's contents with the ``onnx`` package alone (no
    TensorFlow, no tf2onnx), uses the operators of ONNX opset 17, and passes
    ``onnx.checker``. onnxruntime's probabilities are those of
    :func:`load_predictor` to within float32 rounding.

    The graph has one input, ``X``: float32 values in the model's own
    convention (pixels from 0 to the FlattenScaler's ``scale_``, 255 for a
    pipeline fitted on MNIST's ``uint8`` images; features in [0, 1] for a bare
    classifier), in the layout seen in fit: images ``(N, 28, 28)`` for a
    pipeline fitted on images, rows ``(N, 784)`` for one fitted on flat rows
    and for a bare classifier (``onnx.checker`` requires one rank per input;
    reshape to the other with ``X.reshape(len(X), 28, 28)`` or
    ``X.reshape(len(X), -1)``). Inside, a Reshape to ``(-1, n_features_in_)``
    flattens it. Unlike the estimator, the graph does not check its input's
    range. Its two outputs are named as skl2onnx names those of a classifier:
    ``label`` (shape ``(N,)``: the model's own classes, int64 for integer
    labels, strings for str labels) and ``probabilities`` (float32,
    ``(N, n_classes)``, columns in the order of ``classes_``).

    Requires the ``onnx`` extra: ``pip install skmnist[onnx]``.

    Parameters
    ----------
    model : Pipeline, MNISTClassifier, str or os.PathLike
        A fitted estimator that :func:`save_model` saves (a pipeline of a
        :class:`FlattenScaler` and an :class:`MNISTClassifier`, or a bare
        :class:`MNISTClassifier`), or the path of a ``.skmnist`` file.
    path : str or os.PathLike
        The ONNX file to write, atomically. An existing regular file is
        replaced; a folder, named pipe, socket or device is refused.

    Raises
    ------
    ModelFileError
        If `model` names a file that is damaged, foreign or inconsistent.
    ValueError
        If the model's activation has no ONNX form (the message names it), or
        its classes are not integers, floats, booleans or strings.
    TypeError
        If `model` is an estimator that :func:`save_model` does not save:
        convert other pipelines around an MNISTClassifier with
        ``skl2onnx.to_onnx`` (see :ref:`deploy`).
    MissingExtra
        An ``ImportError``, if the ``onnx`` package is not installed.
    OSError
        If `model` names no regular file, or `path` cannot be written
        (``UnsafeWriteTarget`` for a folder, FIFO, socket or device).

    See Also
    --------
    save_model : The model file, to load with :func:`load_model` or
        :func:`load_predictor`.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import onnxruntime
    >>> from skmnist import export_onnx, load_mnist_sample, make_mnist_pipeline
    >>> X, y = load_mnist_sample(return_X_y=True)
    >>> pipe = make_mnist_pipeline(hidden_size=32, epochs=2, random_state=0)
    >>> pipe = pipe.fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.onnx")
    >>> export_onnx(pipe, path)
    >>> session = onnxruntime.InferenceSession(path)
    >>> label, proba = session.run(None, {"X": X[:50].astype(np.float32)})
    >>> bool((label == pipe.predict(X[:50])).all())
    True
    >>> proba.shape
    (50, 10)
    """
    target, _ = check_write_target(path)  # before the work: a FIFO or folder
    if _same_file(model, target):
        raise UnsafeWriteTarget(
            errno.EEXIST,
            "is the model file being exported (or a link to it): writing the ONNX "
            "graph there would destroy the model; give another name, e.g. one "
            "ending in .onnx",
            os.fspath(path),
        )
    try:
        import onnx  # noqa: F401
    except ImportError as exc:
        raise MissingExtra(
            "export_onnx needs onnx: pip install 'skmnist[onnx]' (or pip install onnx)"
        ) from exc
    if isinstance(model, (str, os.PathLike)):
        proto = _from_file(model)
    else:
        from ..modelfile._persistence import save_model

        with tempfile.TemporaryDirectory(prefix="skmnist-onnx-") as folder:
            saved = os.path.join(folder, "model.skmnist")
            try:
                save_model(model, saved)
            except TypeError as exc:
                raise TypeError(
                    f"export_onnx exports what save_model saves: {exc} A pipeline "
                    "of other steps around an MNISTClassifier converts with "
                    "skl2onnx.to_onnx(pipeline, X[:1])."
                ) from exc
            proto = _from_file(saved, shown=f"the {type(model).__name__}")
    write_atomically(path, proto.SerializeToString())


def _same_file(model, target):
    """Whether `model` is a path naming the existing file `target`."""
    if not isinstance(model, (str, os.PathLike)):
        return False
    try:
        return os.path.samefile(model, target)
    except OSError:  # either is missing: not the same file
        return False


def _from_file(path, shown=None):
    """The ONNX model of a model file: read, checked, its activation exportable."""
    from ..modelfile._image_model import check_model_path
    from ..modelfile._predictor import MNISTPredictor
    from ..modelfile._reader import file_errors, read_model_file
    from ._graph import check_activation, network_model

    shown = os.fspath(path) if shown is None else shown
    model_file = read_model_file(check_model_path(path))
    if model_file.params.get("n_hidden_layers") != 0:
        check_activation(model_file.params.get("activation"), shown)
    with file_errors(path):
        predictor = MNISTPredictor._from_file(model_file)
    scaler = predictor.scaler_
    metadata = {"skmnist_version": __version__, "saved_estimator": repr(predictor)}
    if scaler is not None:
        metadata["pixel_scale"] = f"{scaler.scale_:g}"
    return network_model(predictor, scaler, metadata)
