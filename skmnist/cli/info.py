"""``skmnist info``: describe a .skmnist model file without loading its network."""

from ._common import CommandError, epochs_text, say

SUMMARY = "describe a .skmnist model file without loading its network"


def add_parser(commands):
    info = commands.add_parser(
        "info",
        help=SUMMARY,
        description=(
            "Print what a .skmnist model file holds: its kind, parameters, classes, "
            "recorded training and validation scores, file format and size, and "
            "the versions that wrote it. The file is read and checked as "
            "skmnist.load_model reads it, without starting TensorFlow; pickles are "
            "not read."
        ),
    )
    info.add_argument("model", metavar="MODEL", help="a .skmnist file (no pickles)")
    return info


def run(args):
    from .._frontend import check_model_path, is_pickle, read_model_file

    if is_pickle(args.model):
        raise CommandError(
            f"{args.model} is a pickle: its contents cannot be read without running "
            "the code stored in it. skmnist info reads .skmnist files (save_model)"
        )
    model = read_model_file(check_model_path(args.model))
    params, fitted = model.params, model.fitted
    kind = "MNISTClassifier"
    if model.kind == "Pipeline":
        first, second = model.pipeline["steps"]
        kind = f"Pipeline({first}=FlattenScaler, {second}=MNISTClassifier)"
    classes = fitted["classes_"].tolist()
    shown = " ".join(map(str, classes[:20])) + (" ..." if len(classes) > 20 else "")
    if model.scaler is not None:
        scale = f"{model.scaler.scale_:g}"
        inputs = f"{model.scaler.image_shape_} images, pixel values 0-{scale}"
    else:
        inputs = f"{fitted['n_features_in_']} features (rows scaled to [0, 1])"
    say(f"{args.model}: {kind}")
    say(f"classes:      {shown} ({len(classes)})")
    say(f"input:        {inputs}")
    say("parameters:   " + ", ".join(f"{k}={v!r}" for k, v in sorted(params.items())))
    history = fitted.get("history_")
    if history:
        epoch = fitted.get("best_epoch_", fitted["n_iter_"] - 1)
        which = "best" if "best_epoch_" in fitted else "last"
        line = f"{epochs_text(fitted['n_iter_'])}; {which} epoch {epoch + 1}:"
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if key in history:
                line += f" {key} {history[key][epoch]:.4f}"
        if "val_loss" not in history:
            line += " (no validation split)"
        say(f"training:     {line}")
    else:
        say("training:     none recorded (the network was only initialized)")
    versions = model.manifest.get("versions")
    written = "unknown"
    if isinstance(versions, dict):
        written = ", ".join(f"{name} {version}" for name, version in versions.items())
    size = model.size
    say(
        f"file:         format {model.manifest['format_version']}, "
        f"{size / 1e6:.2f} MB ({size:,} bytes)"
    )
    say(f"written by:   {written}")
