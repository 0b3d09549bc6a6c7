"""Serve a model with uvicorn on a socket bound here, so its address is known."""

import gc
import ipaddress
import os
import socket
import sys

import uvicorn

from ._app import make_app

LOOPBACK = "127.0.0.1"


def run(model, host=LOOPBACK, port=8000, *, log_level="warning", **app_options):
    """Serve a model on this machine until interrupted (Ctrl+C).

    Loads the model, makes the service (:func:`make_app`), listens on `host`
    and `port`, prints the service's address on one line of standard output,
    ``skmnist serve: <model> at http://<host>:<port>/ (Ctrl+C to stop)``, and
    answers requests with uvicorn until the process receives SIGINT (Ctrl+C),
    then prints ``skmnist serve: stopped`` and returns.

    Parameters
    ----------
    model : str, path-like or estimator
        A model file written by :func:`skmnist.save_model` (never a joblib or
        pickle file), or a fitted estimator; see :func:`make_app`.

    host : str, default="127.0.0.1"
        The address to listen on. The default is reachable from this machine
        only; another address (``0.0.0.0``: every interface) makes the
        service, which has no authentication, reachable from the network, and
        a warning says so.

    port : int, default=8000
        The TCP port; 0 picks a free one (the printed address tells which).

    log_level : str, default="warning"
        uvicorn's log level (``"info"`` also logs each request).

    **app_options
        ``max_body_bytes``, ``max_image_pixels``, ``max_images``: see
        :func:`make_app`.

    Raises
    ------
    OSError
        If the model file cannot be read, or the address cannot be listened
        on (e.g. the port is in use).
    ValueError
        If the file is not a model that :func:`make_app` serves.

    See Also
    --------
    make_app : The ASGI application, for other servers.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer from 0 to 65535; got {port!r}.")
    app = make_app(model, **app_options)
    # TensorFlow and Keras leave ~500,000 long-lived objects that every full
    # garbage collection would walk (a quarter of a second, every request
    # waiting): this process serves, so they are set aside for good.
    gc.collect()
    gc.freeze()
    sock = _listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    name = os.fspath(model) if isinstance(model, (str, os.PathLike)) else "the model"
    if not _is_loopback(bound_host):
        print(
            f"skmnist serve: warning: listening on {bound_host}, reachable from "
            "other machines; the service has no authentication.",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"skmnist serve: {name} at http://{shown}:{bound_port}/ (Ctrl+C to stop)",
        flush=True,
    )
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=log_level in ("debug", "trace", "info"),
        lifespan="on",
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl+C it stopped on: the normal way out
    finally:
        sock.close()
    print("skmnist serve: stopped", flush=True)


def _listen(host, port):
    """A socket listening on (host, port), with a message naming both on error."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise OSError(f"cannot listen on {host}:{port}: unknown host ({exc})") from exc
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise OSError(f"cannot listen on {host}:{port}: {reason}") from exc
    return sock


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
