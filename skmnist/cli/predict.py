"""``skmnist predict``: read digits from images or .npy files and print the
predicted labels."""

import os
import sys

from ._common import (
    PROG,
    TRUST_WARNING,
    CommandError,
    add_model_argument,
    load_model,
    one_line,
    say,
)

SUMMARY = "read digits from images or .npy files and print the predicted labels"


def add_parser(commands):
    parser = commands.add_parser(
        "predict",
        help=SUMMARY,
        description="Print the predicted digit and its probability for each file, "
        "one line each ('digit.png: 7 (p=0.98)'; 'digits.npy[3]: 1 (p=0.99)' for "
        "each image of an .npy stack). Images (PNG, JPEG, ...) of one digit are "
        "turned into MNIST images the way MNIST was made: grayscale, inverted if "
        "the background is light, the ink fitted into 20x20 pixels and centred by "
        "mass in 28x28. .npy files hold images already in MNIST's format: "
        "(28, 28), (784,), (n, 28, 28) or (n, 784). Every input that can be read "
        "is answered; one that cannot gets an error line on stderr, and the exit "
        "status is then 1 (2 for a usage error or a model that cannot be used). "
        + TRUST_WARNING,
    )
    add_model_argument(parser)
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="digit images or .npy arrays"
    )
    parser.add_argument(
        "--invert",
        choices=("auto", "yes", "no"),
        default="auto",
        help="invert images' gray levels: 'auto' inverts when the background is "
        "light (default: %(default)s)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per line and input (JSON Lines): its 'file' "
        "(and 'index' in an .npy stack), 'label', 'probability' and "
        "'probabilities' of every class; a failed input as {'file': ..., "
        "'error': ...}",
    )
    parser.add_argument(
        "--top-k",
        type=int,
        metavar="K",
        help="show the K most probable classes with their probabilities "
        "(1 to the model's number of classes; with --json, as 'top_k' in place "
        "of 'probabilities')",
    )
    return parser


def run(args):
    """Answer every input it can; return 1 if any failed."""
    import numpy as np

    from .. import load_digit_image

    # The model first: a wrong model fails once, before any image is read.
    model = load_model(args.model, light=True)
    n_classes = len(model.classes_)
    if args.top_k is not None and not 1 <= args.top_k <= n_classes:
        raise CommandError(
            f"--top-k must be between 1 and the model's {n_classes} classes; "
            f"got {args.top_k}"
        )
    invert = {"auto": "auto", "yes": True, "no": False}[args.invert]
    # One entry per input: (name, index or None, error or None); images of the
    # good ones go to one batch, predicted at once.
    entries, images = [], []
    for path in args.files:
        try:
            digits = load_digit_image(path, invert=invert)
        except ImportError as exc:  # reading pictures needs Pillow: every one fails
            raise CommandError(one_line(exc)) from exc
        except (ValueError, OSError) as exc:
            # The user's file is not a digit picture or MNIST array (the message
            # names it): the others are still answered.
            entries.append((path, None, one_line(exc)))
            continue
        if digits.ndim == 2:
            entries.append((path, None, None))
            images.append(digits[np.newaxis])
        else:
            entries.extend((path, i, None) for i in range(len(digits)))
            images.append(digits)
    if images:
        proba = model.predict_proba(np.concatenate(images))
    k = args.top_k or (n_classes if args.json else 1)
    row = 0
    for path, index, error in entries:
        name = path if index is None else f"{path}[{index}]"
        if error is not None:
            _print_error(path, error, as_json=args.json)
            continue
        p = proba[row]
        row += 1
        top = np.argsort(-p, kind="stable")[:k]
        if args.json:
            _print_json(path, index, model.classes_, p, top, args.top_k is not None)
        else:
            answers = ", ".join(f"{model.classes_[c]} (p={p[c]:.2f})" for c in top)
            say(f"{name}: {answers}")
    return 1 if any(error is not None for *_, error in entries) else 0


def _print_error(path, error, *, as_json):
    import json

    if as_json:
        print(json.dumps({"file": os.fspath(path), "error": error}, allow_nan=False))
        return
    sys.stdout.flush()  # the lines of stdout and stderr in the inputs' order
    from .._frontend import printable

    # `error` is one_line's: already escaped, as the path is in it.
    message = error if printable(os.fspath(path)) in error else f"{path}: {error}"
    say(f"{PROG}: error: {message}", file=sys.stderr)
    sys.stderr.flush()


def _print_json(path, index, classes, proba, top, top_only):
    import json

    from .._frontend import plain

    # Shortest decimal forms of the model's floats: 0.98, not 0.9800000190734863.
    probability = {c: float(str(proba[c])) for c in top}
    answer = {"file": os.fspath(path)}
    if index is not None:
        answer["index"] = index
    answer["label"] = plain(classes[top[0]])
    answer["probability"] = probability[top[0]]
    if top_only:
        answer["top_k"] = [
            {"label": plain(classes[c]), "probability": probability[c]} for c in top
        ]
    else:
        answer["probabilities"] = {
            str(plain(classes[c])): float(str(proba[c])) for c in range(len(classes))
        }
    # Strict JSON (RFC 8259): no NaN (the model's outputs were checked finite),
    # control characters of labels and names escaped.
    print(json.dumps(answer, allow_nan=False))
