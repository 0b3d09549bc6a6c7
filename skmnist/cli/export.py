"""``skmnist export``: write a .skmnist model file as an ONNX file."""

from ._common import CommandError

SUMMARY = "write a .skmnist model file as an ONNX file, for onnxruntime"


def add_parser(commands):
    parser = commands.add_parser(
        "export",
        help=SUMMARY,
        description=(
            "Write the whole saved model (its FlattenScaler, network and softmax) "
            "as one ONNX file (opset 17) that onnxruntime runs without skmnist, "
            "TensorFlow or scikit-learn: input 'X' (float32 pixels, in the layout "
            "and scale seen in fit), outputs 'label' and 'probabilities'. The file "
            "is read and checked as skmnist.load_model reads it, without starting "
            "TensorFlow; pickles are not read. Needs the onnx extra: pip install "
            "'skmnist[onnx]'."
        ),
    )
    parser.add_argument("model", metavar="MODEL", help="a .skmnist file (no pickles)")
    parser.add_argument(
        "out",
        metavar="OUT",
        help="the ONNX file to write (replaced atomically if it exists)",
    )
    return parser


def run(args):
    from .. import export_onnx
    from .._frontend import is_pickle

    if is_pickle(args.model):
        raise CommandError(
            f"{args.model} is a pickle: its contents cannot be read without running "
            "the code stored in it. skmnist export reads .skmnist files (save_model)"
        )
    export_onnx(args.model, args.out)
    print(f"wrote {args.out}")
