"""``skmnist serve``: a page to draw digits on, and a JSON prediction API."""

import argparse

SUMMARY = "serve a model: a page to draw digits on, and a JSON prediction API"


def add_parser(commands):
    serve = commands.add_parser(
        "serve",
        help=SUMMARY,
        description=(
            "Serve a .skmnist model file: a page to draw or upload a digit and "
            "watch the model read it, and POST /predict, GET /health and GET "
            "/model. Prints its address; Ctrl+C stops it. Needs: pip install "
            "'skmnist[serve]'."
        ),
    )
    serve.add_argument("model", metavar="MODEL", help="a .skmnist file (no pickles)")
    serve.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    serve.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="default: %(default)s; 0: any free one",
    )
    serve.add_argument(
        "--allow-host",
        metavar="NAME",
        action="append",
        default=[],
        help="another name the service answers to in the Host header, beside "
        "localhost, 127.0.0.1, [::1] and --host (repeatable)",
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="print one line per request (client, time, request, status)",
    )
    return serve


def _port(text):
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port: give a number from 0 to 65535 (0: any free one)"
        )
    return port


def run(args):
    from .._frontend import check_model_source

    check_model_source(args.model, allow_pickle=False)  # before the extra is needed
    from ..serve import run

    run(
        args.model,
        host=args.host,
        port=args.port,
        allow_hosts=args.allow_host,
        access_log=args.access_log,
    )
