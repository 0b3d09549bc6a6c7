"""Serve a model with uvicorn on a socket bound here, so its address is known."""

import contextlib
import gc
import ipaddress
import logging
import os
import resource
import signal
import socket
import sys

import uvicorn

from skmnist._frontend import printable

from ._app import LOOPBACK_HOSTS, make_app
from ._logs import RateLimit
from ._protocol import GuardedH11Protocol

LOOPBACK = "127.0.0.1"
TIMEOUT_KEEP_ALIVE = 5  # s a connection may idle between two requests
TIMEOUT_REQUEST = 30  # s for a request (headers and body) to arrive whole
TIMEOUT_SHUTDOWN = 1  # s that answers being computed get when the service stops
MAX_HEADER_BYTES = 16 * 1024  # h11's bound on a request's headers
_FD_RESERVE = 64  # descriptors kept for the model, logs, threads, the page's files
_ACCESS_FORMAT = '%(client_addr)s - - [%(asctime)s] "%(request_line)s" %(status_code)s'


def run(
    model,
    host=LOOPBACK,
    port=8000,
    *,
    allow_hosts=(),
    access_log=False,
    log_level="warning",
    max_connections=None,
    timeout_request=TIMEOUT_REQUEST,
    **app_options,
):
    """Serve a model on this machine until interrupted (Ctrl+C or SIGTERM).

    Loads the model, makes the service (:func:`make_app`), listens on `host`
    and `port`, prints the service's address on one line of standard output,
    ``skmnist serve: <model> at http://<host>:<port>/ (Ctrl+C to stop)``, and
    answers requests with uvicorn until the process receives SIGINT (Ctrl+C)
    or SIGTERM, then prints ``skmnist serve: stopped`` and returns (within
    about a second: requests that have not arrived whole are dropped, answers
    being computed get a second to finish).

    The service holds up against clients that misbehave: a connection may
    idle 5 s between two requests, a request must arrive whole (headers and
    body) within `timeout_request` seconds, and at most `max_connections`
    connections are open at once: at the limit, the oldest connection that
    has no request being answered is closed to make room, and when every
    connection is busy a new request gets status 503 at once. Requests whose
    ``Host`` header is not one of this machine's loopback names, `host` or
    `allow_hosts` get status 400 (a web page that rebinds its domain name to
    this machine cannot reach the service). Repeated warnings (a flood of
    connections) are logged once per 10 s, on one line, without traceback.

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

    allow_hosts : sequence of str, default=()
        More names the service answers to in the ``Host`` header (a machine's
        network name, ``*.example.org``), beside ``localhost``,
        ``127.0.0.1``, ``[::1]`` and `host`.

    access_log : bool, default=False
        Print one line per request on standard output, in the common log
        format: client address, time, request line and status.

    log_level : str, default="warning"
        uvicorn's log level.

    max_connections : int, default=None
        The most connections open at once; None: a quarter of the process's
        limit on open files (``resource.getrlimit(RLIMIT_NOFILE)``), less a
        reserve, from 16 to 1,024.

    timeout_request : float, default=30
        Seconds for a request (headers and body) to arrive whole, from the
        connection's opening or the end of the previous answer on it.

    **app_options
        ``max_body_bytes``, ``max_image_pixels``, ``max_images``: see
        :func:`make_app`.

    Raises
    ------
    OSError
        If the model file cannot be read, or the address cannot be listened
        on (e.g. the port is in use).
    ValueError
        If the file is not a model that :func:`make_app` serves, or a limit is
        not a positive number.

    See Also
    --------
    make_app : The ASGI application, for other servers.
    make_config : The uvicorn configuration, to serve the application oneself.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer from 0 to 65535; got {port!r}.")
    if isinstance(allow_hosts, str):
        allow_hosts = [allow_hosts]
    hosts = [*LOOPBACK_HOSTS, _host_name(host), *allow_hosts]
    app = make_app(model, allowed_hosts=hosts, **app_options)
    config = make_config(
        app,
        access_log=access_log,
        log_level=log_level,
        max_connections=max_connections,
        timeout_request=timeout_request,
    )
    # TensorFlow and Keras leave ~500,000 long-lived objects that every full
    # garbage collection would walk (a quarter of a second, every request
    # waiting): this process serves, so they are set aside for good.
    gc.collect()
    gc.freeze()
    sock = _listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    name = os.fspath(model) if isinstance(model, (str, os.PathLike)) else "the model"
    name = printable(name)  # a file name is data: no escape sequence acts
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
    try:
        with _sigterm_stops():
            uvicorn.Server(config).run(sockets=[sock])
    except (KeyboardInterrupt, _Stop):
        pass  # uvicorn re-raises the signal it stopped on: the normal way out
    finally:
        sock.close()
    print("skmnist serve: stopped", flush=True)


def make_config(
    app,
    *,
    access_log=False,
    log_level="warning",
    max_connections=None,
    timeout_request=TIMEOUT_REQUEST,
):
    """The uvicorn configuration that :func:`run` serves with.

    To serve :func:`make_app`'s application from one's own code (in a thread,
    on sockets of one's own) with the same guards as ``skmnist serve``:
    ``uvicorn.Server(make_config(app)).run()``. It configures uvicorn's loggers
    (as ``uvicorn.Config`` does): repeated warnings pass once per 10 s, on one
    line, and with `access_log`, the access log is in the common log format.

    Parameters
    ----------
    app : ASGI application
        From :func:`make_app`.

    access_log, log_level, max_connections, timeout_request
        See :func:`run`.

    Returns
    -------
    config : uvicorn.Config
        uvicorn's h11 protocol with a request deadline and a bound on
        connections; a keep-alive timeout of 5 s; headers of at most 16 KiB;
        a second for answers being computed when the server stops.

    Raises
    ------
    ValueError
        If `max_connections` or `timeout_request` is not a positive number.
    """
    if max_connections is None:
        max_connections = default_max_connections()
    elif (
        isinstance(max_connections, bool)
        or not isinstance(max_connections, int)
        or max_connections < 2
    ):
        raise ValueError(
            "max_connections must be an integer of at least 2; got "
            f"{max_connections!r}."
        )
    if isinstance(timeout_request, bool) or not (
        isinstance(timeout_request, (int, float)) and timeout_request > 0
    ):
        raise ValueError(
            "timeout_request must be a positive number of seconds; got "
            f"{timeout_request!r}."
        )
    config = uvicorn.Config(
        app,
        http=GuardedH11Protocol,
        log_level=log_level,
        access_log=access_log,
        lifespan="on",
        limit_concurrency=max_connections,
        timeout_keep_alive=TIMEOUT_KEEP_ALIVE,
        timeout_graceful_shutdown=TIMEOUT_SHUTDOWN,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        server_header=False,
    )
    config.timeout_request = timeout_request  # read by GuardedH11Protocol
    _quiet_floods()
    if access_log:
        _common_log_format()
    return config


def default_max_connections():
    """A quarter of the limit on open files, less a reserve, from 16 to 1,024.

    Each connection holds a descriptor; the rest are for the model, the
    worker threads and the page's files, and a quarter leaves room for
    the connections being closed while new ones are accepted.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(16, min(1024, (soft - _FD_RESERVE) // 4))


class _Stop(Exception):
    """SIGTERM, raised where uvicorn re-raises the signal it stopped on."""


def _raise_stop(signum, frame):
    raise _Stop


@contextlib.contextmanager
def _sigterm_stops():
    # uvicorn stops gracefully on SIGTERM, then raises it again in the handler
    # that was there before: by default the process would die of it (status
    # -15), so the handler raises an exception that run() ends on.
    try:
        previous = signal.signal(signal.SIGTERM, _raise_stop)
    except ValueError:  # not the main thread: uvicorn does not listen either
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _quiet_floods():
    limit = RateLimit(interval=10.0)
    for name in ("uvicorn.error", "asyncio"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RateLimit) for f in logger.filters):
            logger.addFilter(limit)


def _common_log_format():
    from uvicorn.logging import AccessFormatter

    formatter = AccessFormatter(
        _ACCESS_FORMAT, datefmt="%d/%b/%Y:%H:%M:%S %z", use_colors=False
    )
    logger = logging.getLogger("uvicorn.access")
    logger.setLevel(logging.INFO)  # whatever the log level of the rest
    for handler in logger.handlers:
        handler.setFormatter(formatter)


def _host_name(host):
    """`host` as a Host header names it (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


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
