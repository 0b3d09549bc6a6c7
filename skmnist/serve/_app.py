"""The ASGI app: the drawing page, ``POST /predict``, ``/health``, ``/model``."""

import contextlib
import functools
import pathlib
import time

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ._batching import Abandoned, MicroBatcher
from ._confidence import not_sure, unlike_digits
from ._estimator import describe, load_estimator, plain
from ._inputs import (
    JSON_TYPE,
    BadRequest,
    check_media_type,
    images_from_body,
    picture_pixels,
)

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_IMAGE_PIXELS = 2048 * 2048
MAX_IMAGES = 1000
# The names of this machine that a browser may use for a service bound here.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
ENDPOINTS = "GET / (the drawing page), POST /predict, GET /health and GET /model"
_INLINE_JSON_BYTES = 64 * 1024
_INLINE_PIXELS = 160 * 160
_STATIC = pathlib.Path(__file__).resolve().parent / "static"

# The page loads nothing from elsewhere: no CDN, works offline.
_SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def make_app(
    model,
    *,
    max_body_bytes=MAX_BODY_BYTES,
    max_image_pixels=MAX_IMAGE_PIXELS,
    max_images=MAX_IMAGES,
    allowed_hosts=LOOPBACK_HOSTS,
):
    """Make the web service of a trained model, as an ASGI application.

    The application serves:

    - ``GET /``: a page to draw a digit on (mouse or touch) or upload a photo
      of one, showing the predicted digit, a bar for each class's probability
      and the 28x28 image the model saw;
    - ``POST /predict``: the body is a PNG or JPEG picture of one digit
      (``Content-Type: image/png`` or ``image/jpeg``), converted as
      ``skmnist predict`` converts photos (grayscale, inverted on a light
      background, fitted into 20x20 and centred by mass in 28x28, see
      :func:`skmnist.load_digit_image`); or JSON, ``{"image": A}`` with `A`
      a 28x28 array of pixel values 0-255 (light ink on black, as MNIST's) or
      ``{"images": [A, ...]}``. The answer is JSON: ``labels`` (one per
      image), ``probabilities`` (one list per image, in the order of
      ``classes``), ``classes``, ``images`` (the 28x28 images the model
      saw), ``not_sure`` (one flag per image: its top probability is below
      the threshold measured for the page, see the user guide) and
      ``maybe_not_a_digit`` (its ink is unlike MNIST's digits: in amount,
      spread, stroke width or shape);
    - ``GET /health``: ``{"status": "ok", ...}``, with counts of the requests
      waiting for the model and of the model calls made;
    - ``GET /model``: the model's class, hyperparameters, classes, and its
      validation accuracy when its training recorded one.

    A request whose ``Host`` header is not one of `allowed_hosts` gets status
    400 before anything else is done: a web page whose domain name is made to
    resolve to this machine (DNS rebinding) cannot reach the service.

    A bad request gets a JSON answer ``{"error": "..."}`` that says what was
    wrong, with status 400 (malformed), 404, 405, 413 (over a limit), 415
    (not PNG, JPEG or JSON) or 422 (a blank picture); a failure of the model
    itself gets status 500, in the same form, and the service carries on.

    Concurrent requests are predicted together: while the model works on
    some images (in a worker thread, off the event loop), the images of the
    requests that arrive meanwhile are gathered into its next call.

    Parameters
    ----------
    model : str, path-like or estimator
        A model file written by :func:`skmnist.save_model` (loaded with
        :func:`skmnist.load_model`, which runs no code from the file; joblib
        and pickle files are refused), or a fitted estimator: a pipeline made
        by :func:`skmnist.make_mnist_pipeline`, an
        :class:`~skmnist.MNISTClassifier` fitted on 28x28 images, or any
        fitted classifier whose ``predict_proba`` takes images (n, 28, 28).

    max_body_bytes : int, default=2097152
        Largest request body accepted (2 MiB); larger ones get status 413.

    max_image_pixels : int, default=4194304
        Largest picture accepted, in pixels (width x height, 2048 x 2048 by
        default), read from the picture's header before it is decoded.

    max_images : int, default=1000
        Most images in one JSON request.

    allowed_hosts : sequence of str, default=("localhost", "127.0.0.1", "[::1]")
        The names the service answers to in the ``Host`` header (without the
        port; ``"*.example.org"`` matches subdomains, ``"*"`` any name).

    Returns
    -------
    app : starlette.applications.Starlette
        Serve it with any ASGI server, e.g. ``uvicorn.run(app)``, with
        uvicorn and the guards of ``skmnist serve`` (:func:`make_config`), or
        use :func:`skmnist.serve.run`.

    Raises
    ------
    ValueError
        If the file is not a model file that :func:`skmnist.load_model` reads
        (:class:`~skmnist.ModelFileError`), is a joblib or pickle file, or the
        model cannot read digits: it fails on 28x28 images of 0-255 pixels,
        or, if its classes are the ten digits, it reads no more of the
        packaged sample's 500 test digits right than 1.5 times chance (75):
        a model fed the wrong way or trained on other images is refused at
        start, not at every request. Also if `allowed_hosts` is not a list of
        host names.
    OSError
        If the file cannot be read.
    TypeError
        If `model` is not an estimator.

    See Also
    --------
    run : Serve a model on this machine.

    Examples
    --------
    >>> import os, tempfile
    >>> from starlette.testclient import TestClient
    >>> from skmnist import load_mnist_sample, make_mnist_pipeline
    >>> from skmnist.serve import make_app
    >>> X, y = load_mnist_sample(return_X_y=True)
    >>> pipe = make_mnist_pipeline(hidden_size=16, epochs=3, random_state=0)
    >>> app = make_app(pipe.fit(X, y))
    >>> with TestClient(app, base_url="http://localhost") as client:
    ...     answer = client.post("/predict", json={"image": X[0].tolist()})
    >>> answer.status_code, len(answer.json()["probabilities"][0])
    (200, 10)
    """
    for name, value in (
        ("max_body_bytes", max_body_bytes),
        ("max_image_pixels", max_image_pixels),
        ("max_images", max_images),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    if isinstance(allowed_hosts, str) or not all(
        isinstance(h, str) and h for h in allowed_hosts
    ):
        raise ValueError(
            "allowed_hosts must be a list of host names, e.g. ['localhost']; "
            f"got {allowed_hosts!r}."
        )
    allowed_hosts = list(allowed_hosts)
    estimator, source = load_estimator(model)
    classes = np.asarray(estimator.classes_)
    info = describe(estimator, source)

    def answer(images):
        # One worker call per batch: the model, and the check of the ink.
        proba = np.asarray(estimator.predict_proba(images), dtype=np.float64)
        return np.column_stack([proba, unlike_digits(images)])

    unlike_digits(np.zeros((1, 28, 28), np.uint8))  # its set-up paid now
    batcher = MicroBatcher(answer)
    started = time.monotonic()

    async def predict(request):
        kind = check_media_type(request.headers.get("content-type"))
        body = await _read_body(request, max_body_bytes)
        decode = functools.partial(
            images_from_body,
            body,
            kind,
            max_pixels=max_image_pixels,
            max_images=max_images,
        )
        # A small body (a JSON image, a drawing from the page: a millisecond
        # of work) is read here: faster than a thread hop, and fewer threads
        # contend for the GIL. Larger ones are decoded in worker threads.
        if kind == JSON_TYPE:
            inline = len(body) <= _INLINE_JSON_BYTES
        else:
            pixels = picture_pixels(body, kind)
            inline = pixels is not None and pixels <= _INLINE_PIXELS
        images = decode() if inline else await run_in_threadpool(decode)
        try:
            proba = await batcher.predict_proba(
                images, abandoned=_disconnected(request)
            )
        except Abandoned:
            return Response(status_code=499)  # nobody reads it
        proba, odd = proba[:, :-1], proba[:, -1] > 0.5
        return JSONResponse(
            {
                "labels": [plain(c) for c in classes[proba.argmax(axis=1)]],
                "probabilities": proba.tolist(),
                "not_sure": not_sure(proba).tolist(),
                "maybe_not_a_digit": odd.tolist(),
                "classes": info["classes"],
                "images": images.tolist(),
            }
        )

    async def health(request):
        return JSONResponse(
            {
                "status": "ok",
                "uptime_s": round(time.monotonic() - started, 3),
                "pending": batcher.pending,
                "model_calls": batcher.calls,
                "images_predicted": batcher.images,
                "abandoned": batcher.abandoned,
            }
        )

    async def model_info(request):
        return JSONResponse(
            {
                **info,
                "limits": {
                    "max_body_bytes": max_body_bytes,
                    "max_image_pixels": max_image_pixels,
                    "max_images": max_images,
                },
            }
        )

    async def page(request):
        return FileResponse(_STATIC / "index.html")

    async def favicon(request):
        return FileResponse(_STATIC / "favicon.svg", media_type="image/svg+xml")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            batcher.close()

    async def bad_request(request, exc):
        return _error(exc.status, exc.message)

    async def http_error(request, exc):
        if exc.status_code == 404:
            message = f"no such page: {request.url.path}; this service has {ENDPOINTS}."
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "").split(", ")
            allowed = " or ".join(m for m in allowed if m and m != "HEAD")
            message = (
                f"{request.method} is not allowed on {request.url.path}; "
                f"use {allowed or 'another method'}."
            )
        else:
            message = str(exc.detail)
        return _error(exc.status_code, message, exc.headers)

    async def internal_error(request, exc):
        # Not a bad request: a fault of the model or the service. The server
        # logs the traceback; the client still gets JSON.
        return _error(500, f"the service failed: {type(exc).__name__}: {exc}")

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/predict", predict, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/model", model_info, methods=["GET"]),
        Mount("/static", StaticFiles(directory=_STATIC)),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(_TrustedHosts, allowed_hosts=allowed_hosts),
            Middleware(_SecurityHeaders),
        ],
        exception_handlers={
            BadRequest: bad_request,
            HTTPException: http_error,
            Exception: internal_error,
        },
        lifespan=lifespan,
    )


async def _read_body(request, limit):
    """The request body, or status 413 as soon as it is known to exceed `limit`."""
    too_large = BadRequest(
        413,
        f"the request body is larger than {limit:,} bytes: send a smaller "
        "picture (a digit is read at 28x28) or fewer images.",
    )
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large  # refused before reading any of it
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect as exc:  # nobody to answer; no traceback either
        raise BadRequest(400, "the client left before sending the whole body.") from exc
    return b"".join(chunks)


async def _disconnected(request):
    """Return when the client of a request whose body has been read leaves."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _error(status, message, headers=None):
    headers = {k: v for k, v in (headers or {}).items() if k.lower() == "allow"}
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class _SecurityHeaders:
    """Add the page's security headers to every answer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in _SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _TrustedHosts:
    """Starlette's TrustedHostMiddleware deciding, a JSON error for a refusal."""

    def __init__(self, app, allowed_hosts):
        self.app = app
        self.allowed_hosts = allowed_hosts
        self._check = TrustedHostMiddleware(_accept, allowed_hosts=allowed_hosts)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        scope["skmnist.host_ok"] = False
        await self._check(scope, receive, _discard)
        if scope.pop("skmnist.host_ok"):
            return await self.app(scope, receive, send)
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        shown = ", ".join(self.allowed_hosts)
        response = _error(
            400,
            f"this service does not answer to the Host {host!r}: it answers "
            f"to {shown}. To reach it under another name, start it with "
            "--allow-host NAME (run(allow_hosts=...)).",
        )
        await _SecurityHeaders(response)(scope, receive, send)


async def _accept(scope, receive, send):
    scope["skmnist.host_ok"] = True


async def _discard(message):
    pass  # the middleware's own plain-text refusal; ours is JSON
