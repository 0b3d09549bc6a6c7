"""The ONNX nodes of a skmnist model: one home for :func:`skmnist.export_onnx`
and skl2onnx's converters.

What a saved model computes (:mod:`skmnist.modelfile._predictor`'s forward pass:
a FlattenScaler's flattening and division by ``scale_``, the dense layers and
their activation, the softmax, the label as the class of highest probability)
written as ONNX operators of :data:`OPSET`. The nodes are added through a
*writer* (:class:`GraphWriter` for a standalone model; skl2onnx's scope and
container for a converter), so that both emit the same operators. Imports
NumPy and ``onnx`` alone.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .._errors import UserError
from ..modelfile._predictor import ACTIVATIONS

__all__ = ["OPSET", "GraphWriter", "ONNXExportError", "check_activation"]

#: The ONNX opset of the graphs (ONNX 1.12, onnxruntime 1.12 and later run it).
OPSET = 17

_SELU_ALPHA, _SELU_SCALE = (
    1.6732632423543772848170429916717,
    1.0507009873554804934193349852946,
)


class ONNXExportError(UserError, ValueError):
    """A model that skmnist cannot write as ONNX (an activation with no ONNX form)."""


class GraphWriter:
    """Collects the nodes and constants of a standalone ONNX graph.

    The writer interface that the builders below use: ``constant(hint, array)``
    and ``node(op_type, inputs, hint, output=None, **attributes)`` each return
    the name of what they made, unique in the graph (`output`: a name the
    caller needs, such as a graph output's).
    """

    def __init__(self):
        self.nodes, self.initializers, self._names = [], [], set()

    def name(self, hint):
        name, i = hint, 0
        while name in self._names:
            i += 1
            name = f"{hint}_{i}"
        self._names.add(name)
        return name

    def constant(self, hint, array):
        name = self.name(hint)
        self.initializers.append(tensor(name, array))
        return name

    def node(self, op_type, inputs, hint, output=None, **attributes):
        output = self.name(hint if output is None else output)
        node = helper.make_node(op_type, inputs, [output], name=output, **attributes)
        self.nodes.append(node)
        return output


def tensor(name, array):
    """A TensorProto of `array`: numbers as they are, str as ONNX strings."""
    array = np.asarray(array)
    if array.dtype.kind in "UO":
        values = [str(v).encode() for v in array.ravel()]
        return helper.make_tensor(name, TensorProto.STRING, array.shape, values)
    return numpy_helper.from_array(array, name)


def _scalar(g, value):
    return g.constant("c", np.float32(value))


def _binary(op):
    return lambda g, a, b: g.node(op, [a, b], op.lower())


_mul, _add, _sub, _div = map(_binary, ("Mul", "Add", "Sub", "Div"))


def _unary(op, **attributes):
    return lambda g, x: g.node(op, [x], op.lower(), **attributes)


def _clip(low, high):
    return lambda g, x: g.node("Clip", [x, _scalar(g, low), _scalar(g, high)], "clip")


def _gelu(g, x):  # Gelu is an operator from opset 20 on
    erf = g.node("Erf", [_mul(g, x, _scalar(g, 1 / np.sqrt(2)))], "erf")
    return _mul(g, _mul(g, _scalar(g, 0.5), x), _add(g, _scalar(g, 1), erf))


def _squareplus(g, x):
    root = g.node("Sqrt", [_add(g, _mul(g, x, x), _scalar(g, 4))], "sqrt")
    return _div(g, _add(g, x, root), _scalar(g, 2))


def _sparse_plus(g, x):
    one = _scalar(g, 1)
    shifted = _add(g, x, one)
    square = _mul(g, _scalar(g, 0.25), _mul(g, shifted, shifted))
    middle = g.node("Where", [g.node("Less", [x, one], "lt"), square, x], "where")
    below = g.node("LessOrEqual", [x, _scalar(g, -1)], "le")
    return g.node("Where", [below, _scalar(g, 0), middle], "where")


def _times(f):
    return lambda g, x: _mul(g, x, f(g, x))


_sigmoid = _unary("Sigmoid")
_hard_sigmoid = _unary("HardSigmoid", alpha=1 / 6, beta=0.5)
_softplus = _unary("Softplus")

# Each activation of ACTIVATIONS (the NumPy forward pass's, by Keras's names)
# as ONNX operators of OPSET, with the same default arguments.
_ONNX_ACTIVATIONS = {
    "linear": lambda g, x: x,
    "relu": _unary("Relu"),
    "relu6": _clip(0, 6),
    "leaky_relu": _unary("LeakyRelu", alpha=0.2),
    "elu": _unary("Elu", alpha=1.0),
    "selu": _unary("Selu", alpha=_SELU_ALPHA, gamma=_SELU_SCALE),
    "celu": _unary("Celu", alpha=1.0),
    "gelu": _gelu,
    "silu": _times(_sigmoid),
    "swish": _times(_sigmoid),
    "sigmoid": _sigmoid,
    "hard_sigmoid": _hard_sigmoid,
    "hard_silu": _unary("HardSwish"),
    "hard_swish": _unary("HardSwish"),
    "sparse_sigmoid": _unary("HardSigmoid", alpha=0.5, beta=0.5),
    "tanh": _unary("Tanh"),
    "tanh_shrink": lambda g, x: _sub(g, x, g.node("Tanh", [x], "tanh")),
    "hard_tanh": _clip(-1, 1),
    "softplus": _softplus,
    "softsign": _unary("Softsign"),
    "squareplus": _squareplus,
    "sparse_plus": _sparse_plus,
    "soft_shrink": _unary("Shrink", bias=0.5, lambd=0.5),
    "hard_shrink": _unary("Shrink", bias=0.0, lambd=0.5),
    "exponential": _unary("Exp"),
    "mish": _times(lambda g, x: g.node("Tanh", [_softplus(g, x)], "tanh")),
    "log_sigmoid": lambda g, x: _unary("Neg")(g, _softplus(g, _unary("Neg")(g, x))),
    "softmax": _unary("Softmax", axis=-1),
    "log_softmax": _unary("LogSoftmax", axis=-1),
}


def check_activation(activation, where):
    """Refuse (ONNXExportError) an activation with no ONNX form here, naming it.

    Every activation that the NumPy predictor computes has one; a model file
    may name another (one that a newer Keras added, or a damaged file).
    """
    if activation not in _ONNX_ACTIVATIONS or activation not in ACTIVATIONS:
        exported = ", ".join(sorted(set(_ONNX_ACTIVATIONS) & set(ACTIVATIONS)))
        raise ONNXExportError(
            f"{where} uses activation={activation!r:.50}, which skmnist cannot "
            f"write as ONNX (it exports {exported}); keep the model as a .skmnist "
            "file and predict with skmnist.load_model"
        )


def add_rows(g, x, n_features, scale_=None, cast=False, output=None):
    """Values of any shape holding ``N * n_features`` as float32 rows of
    `n_features` (a dynamic Reshape: (N, 28, 28) and (N, 784) alike), divided
    by a FlattenScaler's ``scale_`` as its transform divides them."""
    if cast:
        x = g.node("Cast", [x], "cast", to=TensorProto.FLOAT)
    scaled = scale_ is not None and scale_ != 1.0  # x / 1.0 is x: no node
    shape = g.constant("rows_shape", np.array([-1, n_features], dtype=np.int64))
    x = g.node("Reshape", [x, shape], "rows", output=None if scaled else output)
    if scaled:
        x = g.node("Div", [x, _scalar(g, scale_)], "scaled", output=output)
    return x


def add_network(g, x, kernels, biases, activation, output):
    """The dense layers (MatMul, Add, the activation), the logits, the softmax."""
    layers = list(zip(kernels, biases, strict=True))
    for i, (kernel, bias) in enumerate(layers[:-1], start=1):
        x = g.node("MatMul", [x, g.constant(f"kernel_{i}", kernel)], f"matmul_{i}")
        x = g.node("Add", [x, g.constant(f"bias_{i}", bias)], f"dense_{i}")
        x = _ONNX_ACTIVATIONS[activation](g, x)
    kernel, bias = layers[-1]
    x = g.node("MatMul", [x, g.constant("logits_kernel", kernel)], "matmul_logits")
    logits = g.node("Add", [x, g.constant("logits_bias", bias)], "logits")
    return g.node("Softmax", [logits], "softmax", output=output, axis=-1)


def add_label(g, probabilities, classes, output):
    """The class of highest probability (the first, on a tie, as NumPy's argmax)."""
    index = g.node("ArgMax", [probabilities], "argmax", axis=1, keepdims=0)
    classes = g.constant("classes", classes)
    return g.node("Gather", [classes, index], "gather", output=output)


def label_classes(classes, where):
    """The classes as the ``label`` output gives them: integers as int64 (as
    skl2onnx gives them), strings as ONNX strings, floats and booleans as they are."""
    kind = classes.dtype.kind
    if kind in "iu" and (kind == "i" or classes.max() <= np.iinfo(np.int64).max):
        return classes.astype(np.int64)
    if kind in "bf":
        return classes
    if kind == "U" or (kind == "O" and all(isinstance(c, str) for c in classes)):
        return classes.astype(object)
    raise ONNXExportError(
        f"{where} has classes {classes.tolist()!r:.100} of dtype {classes.dtype}: "
        "ONNX labels are integers, floats, booleans or strings; fit on such labels"
    )


def network_model(model, scaler=None, metadata=None):
    """The standalone, checked ONNX model of a saved model's parts.

    Parameters
    ----------
    model : MNISTPredictor
        ``coefs_``, ``intercepts_``, ``classes_``, ``n_features_in_`` and
        ``get_params()["activation"]`` (checked by the caller).
    scaler : FittedScaling or None
        The pipeline's FlattenScaler (its ``scale_`` and ``image_shape_``);
        None for a bare classifier.
    metadata : dict of str to str
        Stored as the model's metadata properties.
    """
    classes = label_classes(model.classes_, "the model")
    g = GraphWriter()
    x = g.name("X")
    scale_ = None if scaler is None else scaler.scale_
    rows = add_rows(g, x, model.n_features_in_, scale_)
    activation = model.get_params()["activation"]
    proba = add_network(
        g, rows, model.coefs_, model.intercepts_, activation, output="probabilities"
    )
    add_label(g, proba, classes, output="label")
    # onnx.checker wants each graph input of one rank: the layout seen in fit.
    layout = (model.n_features_in_,) if scaler is None else scaler.image_shape_
    what = "pixels" if scaler is not None else "features in [0, 1]"
    x_info = helper.make_tensor_value_info(
        x, TensorProto.FLOAT, ["N", *layout], f"float32 {what}"
    )
    n_classes = len(classes)
    outputs = [
        helper.make_tensor_value_info("label", tensor("", classes).data_type, ["N"]),
        helper.make_tensor_value_info(
            "probabilities", TensorProto.FLOAT, ["N", n_classes]
        ),
    ]
    graph = helper.make_graph(g.nodes, "skmnist", [x_info], outputs, g.initializers)
    opset = [helper.make_opsetid("", OPSET)]
    proto = helper.make_model(graph, opset_imports=opset, producer_name="skmnist")
    proto.ir_version = 8  # that of opset 17: any onnxruntime of 1.12 on reads it
    helper.set_model_props(proto, dict(metadata or {}))
    onnx.checker.check_model(proto, full_check=True)
    return proto
