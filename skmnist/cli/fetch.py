"""``skmnist fetch``: download MNIST into the cache and verify it."""

from ._common import add_data_options

SUMMARY = "download MNIST into the cache and verify it"


def add_parser(commands):
    parser = commands.add_parser(
        "fetch",
        help=SUMMARY,
        description="Download MNIST's mnist.npz into the data folder, verify it "
        "(SHA-256 of a download; shapes, types and labels of a local copy) and "
        "print where it is. A folder that already holds MNIST is only checked.",
    )
    add_data_options(parser, sample=False)
    return parser


def run(args):
    from .. import fetch_mnist
    from ..datasets import MNISTFetchError, get_data_home

    folder = get_data_home(args.data_home)
    options = {"data_home": args.data_home, "mirror": args.mirror}
    try:
        X_train, _ = fetch_mnist(
            subset="train", download_if_missing=False, return_X_y=True, **options
        )
    except MNISTFetchError:
        print(f"Downloading MNIST into {folder} ...", flush=True)
        X_train, _ = fetch_mnist(subset="train", return_X_y=True, **options)
    X_test, _ = fetch_mnist(subset="test", return_X_y=True, **options)
    print(
        f"MNIST ({len(X_train)} training and {len(X_test)} test images) is in {folder}"
    )
