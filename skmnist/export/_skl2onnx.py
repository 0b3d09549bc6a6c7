"""skl2onnx's converters of :class:`~skmnist.FlattenScaler` and
:class:`~skmnist.MNISTClassifier`, so that ``skl2onnx.to_onnx(pipe, X[:1])``
converts pipelines that hold them.

skl2onnx finds a converter in one of two ways: in its registry
(``update_registered_converter``), or, for a class it does not know, in three
methods of the estimator itself, ``onnx_parser``, ``onnx_shape_calculator`` and
``onnx_converter`` (the protocol of skl2onnx's ``OnnxOperatorMixin``, looked up
by its parser, shape inference and converter before the registry). skmnist
uses the methods (:class:`ONNXConvertible`, a base of both estimators): the
registry would have to be filled before a conversion, so either when skmnist is
imported (importing skl2onnx and onnx then, a second each, for everyone who has
them installed) or only if skl2onnx was imported first (a conversion that works
or fails by import order). The methods cost nothing until skl2onnx calls them,
and work whatever was imported when.

The nodes are :mod:`skmnist.export._graph`'s, as :func:`skmnist.export_onnx`
writes them. This module imports nothing at import time: the estimators' modules
import it (FlattenScaler's without TensorFlow); skl2onnx and onnx are imported
by the methods, which only skl2onnx calls.
"""

import functools

__all__ = ["ONNXConvertible"]


class ONNXConvertible:
    """The three methods by which skl2onnx converts an estimator it does not know.

    Called by ``skl2onnx.to_onnx`` and ``skl2onnx.convert_sklearn`` (see
    :ref:`deploy`): the estimator's ONNX nodes are those of
    :func:`skmnist.export_onnx` (ONNX opset 17 at least). An
    :class:`MNISTClassifier` has the outputs ``label`` and ``probabilities``
    (skl2onnx's ZipMap is not added; the ``zipmap`` option does not apply).
    """

    def onnx_parser(self):
        """skl2onnx's parser: the outputs of this estimator's operator."""
        return functools.partial(_parse, self)

    def onnx_shape_calculator(self):
        """skl2onnx's shape calculator: the types of this estimator's outputs."""
        return _set_types

    def onnx_converter(self):
        """skl2onnx's converter: adds this estimator's ONNX nodes."""
        return _convert


def _is_classifier(estimator):
    return estimator.__sklearn_tags__().estimator_type == "classifier"


def _parse(estimator, scope=None, inputs=None):
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    return ["label", "probabilities"] if _is_classifier(estimator) else ["variable"]


def _set_types(operator):
    """The outputs' types (skl2onnx's parser guesses them from the input's)."""
    from skl2onnx.common import data_types

    from ._graph import OPSET, label_classes

    estimator = operator.raw_operator
    opset = operator.target_opset
    if opset is not None and opset < OPSET:
        raise ValueError(
            f"skmnist's {type(estimator).__name__} converts to ONNX opset {OPSET} "
            f"or later, not target_opset={opset}: pass target_opset={OPSET}"
        )
    n = operator.inputs[0].get_first_dimension()
    if not _is_classifier(estimator):
        (rows,) = operator.outputs
        rows.type = data_types.FloatTensorType([n, estimator.n_features_in_])
        return
    classes = label_classes(estimator.classes_, f"this {type(estimator).__name__}")
    label, probabilities = operator.outputs
    label.type = {
        "i": data_types.Int64TensorType,
        "b": data_types.BooleanTensorType,
        "f": (
            data_types.FloatTensorType
            if classes.dtype.itemsize == 4
            else data_types.DoubleTensorType
        ),
        "O": data_types.StringTensorType,
    }[classes.dtype.kind]([n])
    probabilities.type = data_types.FloatTensorType([n, len(classes)])


class _ContainerWriter:
    """skl2onnx's scope and container behind _graph's writer interface."""

    def __init__(self, scope, container):
        self.scope, self.container = scope, container

    def name(self, hint):
        return self.scope.get_unique_variable_name(hint)

    def constant(self, hint, array):
        from onnx import TensorProto

        from ._graph import tensor

        name = self.name(hint)
        proto = tensor(name, array)
        content = proto  # numbers: skl2onnx copies its raw_data
        if proto.data_type == TensorProto.STRING:
            content = list(proto.string_data)
        self.container.add_initializer(name, proto.data_type, list(proto.dims), content)
        return name

    def node(self, op_type, inputs, hint, output=None, **attributes):
        output = self.name(hint) if output is None else output
        name = self.scope.get_unique_operator_name(op_type)
        self.container.add_node(op_type, inputs, [output], name=name, **attributes)
        return output


def _convert(scope, operator, container):
    from skl2onnx.common.data_types import FloatTensorType

    from ._graph import (
        add_label,
        add_network,
        add_rows,
        check_activation,
        label_classes,
    )

    estimator = operator.raw_operator
    g = _ContainerWriter(scope, container)
    x = operator.inputs[0]
    cast = not isinstance(x.type, FloatTensorType)
    if not _is_classifier(estimator):
        (rows,) = operator.outputs
        scale_, n_features = estimator.scale_, estimator.n_features_in_
        add_rows(g, x.full_name, n_features, scale_, cast, output=rows.full_name)
        return
    where = f"this {type(estimator).__name__}"
    activation, kernels, biases = _fitted_network(estimator)
    if len(kernels) > 1:
        check_activation(activation, where)
    label, probabilities = operator.outputs
    rows = add_rows(g, x.full_name, estimator.n_features_in_, cast=cast)
    output = probabilities.full_name
    add_network(g, rows, kernels, biases, activation, output=output)
    classes = label_classes(estimator.classes_, where)
    add_label(g, output, classes, output=label.full_name)


def _fitted_network(classifier):
    """The activation, kernels and biases of a fitted classifier's network, read
    from the network itself (its Dense layers, input to output)."""
    import numpy as np

    dense = [layer for layer in classifier.model_.layers if hasattr(layer, "kernel")]
    kernels = [np.asarray(layer.kernel.numpy(), dtype=np.float32) for layer in dense]
    biases = [np.asarray(layer.bias.numpy(), dtype=np.float32) for layer in dense]
    activation = dense[0].activation.__name__ if len(dense) > 1 else "linear"
    return activation, kernels, biases
