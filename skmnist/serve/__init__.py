"""A local web service for a trained model: draw a digit, watch the model read it.

``skmnist serve MODEL`` (or :func:`run`) serves a ``.skmnist`` model file on
this machine: a page to draw or upload a digit, and a JSON API,
``POST /predict``, ``GET /health`` and ``GET /model``. :func:`make_app` makes
the ASGI application itself, to serve with any ASGI server, and
:func:`make_config` the uvicorn configuration that guards it as ``run`` does.

It needs the ``serve`` extra: ``pip install "skmnist[serve]"`` (Starlette and
uvicorn).
"""

from skmnist._errors import MissingExtra

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - the test extra installs them
    raise MissingExtra(
        f"skmnist serve needs Starlette and uvicorn, which are not installed "
        f"({exc}): pip install 'skmnist[serve]'"
    ) from None

from ._app import make_app
from ._server import make_config, run

__all__ = ["make_app", "make_config", "run"]
