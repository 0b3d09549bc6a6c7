"""Smoke test of an installed skmnist, as a stranger who installed the wheel.

Run it with the Python of a fresh virtual environment that holds the wheel
(``pip install "skmnist-*.whl[serve]"``), from a folder outside any clone of
the repository (``.ci/run`` does both). It checks that:

- ``import skmnist`` finds the installed package, not a clone or an editable
  install, and the installed version is ``skmnist.__version__``;
- the wheel holds the LICENSE, and the packaged MNIST sample loads;
- ``skmnist train --sample --epochs 1``, ``predict`` and ``info`` work;
- ``skmnist serve --port 0`` answers 200 for its page and for every ``src`` and
  ``href`` the page references, and for every ``url(...)`` in its style sheets,
  read from what it serves, so that an asset missing from the wheel fails here.

It talks to 127.0.0.1 only, sends a bounded number of requests each with a
timeout, and stops the server it started. It writes into the current folder.
Exit status 0 when everything holds; otherwise it raises with what failed.
"""

import html.parser
import importlib.metadata
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

# Bounds: the page references a handful of assets; a page that references more
# than this is a bug of its own, and each request waits at most REQUEST_TIMEOUT.
MAX_REQUESTS = 50
REQUEST_TIMEOUT = 10
SERVE_START_TIMEOUT = 120
COMMAND_TIMEOUT = 600


def check(condition, message):
    if not condition:
        raise SystemExit(f"wheel smoke test failed: {message}")


def skmnist_command():
    """The console script next to this Python: the one the wheel installed."""
    script = Path(sys.executable).parent / (
        "skmnist.exe" if os.name == "nt" else "skmnist"
    )
    check(script.exists(), f"the wheel installed no console script at {script}")
    return [str(script)]


def run(*args):
    """Run ``skmnist ARGS``; return its standard output, or fail with its stderr."""
    argv = skmnist_command() + list(args)
    print("$", " ".join(["skmnist", *args]), flush=True)
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    check(
        done.returncode == 0,
        f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}",
    )
    print(done.stdout, end="", flush=True)
    return done.stdout


def check_installed_package():
    import skmnist

    where = Path(skmnist.__file__).resolve()
    prefix = Path(sys.prefix).resolve()
    check(
        prefix in where.parents,
        f"import skmnist found {where}, not the package installed in {prefix}",
    )
    installed = importlib.metadata.version("skmnist")
    check(
        installed == skmnist.__version__,
        f"installed version {installed} != skmnist.__version__ {skmnist.__version__}",
    )
    files = [str(name) for name in importlib.metadata.files("skmnist")]
    check(
        any(name.endswith("licenses/LICENSE") for name in files),
        "the installed wheel holds no LICENSE file",
    )
    print(f"skmnist {installed} from {where.parent}", flush=True)


class _References(html.parser.HTMLParser):
    """Collects every src and href attribute of a page."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def referenced_urls(page_html):
    parser = _References()
    parser.feed(page_html)
    return parser.urls


def css_urls(css):
    """The targets of ``url(...)`` in a style sheet (none of them ``data:``)."""
    found = re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css)
    return [url for url in found if not url.startswith("data:")]


def get(url, budget):
    """GET `url` (on 127.0.0.1 only); return (status, content type, text)."""
    check(budget[0] < MAX_REQUESTS, f"more than {MAX_REQUESTS} requests")
    budget[0] += 1
    check(
        urllib.parse.urlsplit(url).hostname == "127.0.0.1",
        f"the page references {url}, not an address of this service",
    )
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT) as response:
            body = response.read()
            status, kind = response.status, response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        status, kind, body = exc.code, exc.headers.get_content_type(), exc.read()
    return status, kind, body.decode("utf-8", "replace")


def start_server(model):
    """Start ``skmnist serve MODEL --port 0``; return the process and its address."""
    argv = skmnist_command() + ["serve", model, "--port", "0"]
    print("$", " ".join(["skmnist", "serve", model, "--port", "0"]), flush=True)
    server = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines = []
    # The address comes on one line of standard output; a reader thread lets
    # the wait for it be bounded without blocking on a silent server.
    reader = threading.Thread(
        target=lambda: lines.extend(iter(server.stdout.readline, "")), daemon=True
    )
    reader.start()
    deadline = time.monotonic() + SERVE_START_TIMEOUT
    while time.monotonic() < deadline and server.poll() is None:
        for line in list(lines):
            match = re.search(r"http://127\.0\.0\.1:\d+/", line)
            if match:
                print(line, end="", flush=True)
                return server, match.group(0), lines
        time.sleep(0.1)
    stop_server(server)
    raise SystemExit(
        "wheel smoke test failed: skmnist serve printed no address in "
        f"{SERVE_START_TIMEOUT} s:\n{''.join(lines)}\n{server.stderr.read()}"
    )


def stop_server(server):
    """Stop the server as Ctrl+C would; kill it if it does not stop in time."""
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            raise SystemExit(
                "wheel smoke test failed: skmnist serve did not stop on SIGINT"
            ) from None
    return server.returncode


def check_served_assets(address):
    budget = [0]
    status, kind, page = get(address, budget)
    check(status == 200 and kind == "text/html", f"GET / answered {status} {kind}")
    queue = [urllib.parse.urljoin(address, url) for url in referenced_urls(page)]
    check(queue, "the page references no asset")
    seen = set()
    while queue:
        url = urllib.parse.urldefrag(queue.pop(0)).url
        if url in seen:
            continue
        seen.add(url)
        status, kind, body = get(url, budget)
        print(f"GET {urllib.parse.urlsplit(url).path} -> {status} {kind}", flush=True)
        check(status == 200, f"GET {url} answered {status}: {body[:300]}")
        if kind == "text/css":
            queue.extend(urllib.parse.urljoin(url, ref) for ref in css_urls(body))
    for path in ("health", "model"):
        status, _, body = get(urllib.parse.urljoin(address, path), budget)
        check(status == 200, f"GET /{path} answered {status}: {body[:300]}")


def main():
    import numpy as np

    check_installed_package()

    from skmnist import load_mnist_sample

    X, y = load_mnist_sample(subset="test", return_X_y=True)
    check(X.shape[1:] == (28, 28) and len(X) == len(y), f"sample shape {X.shape}")
    np.save("x.npy", X[:3])

    run("train", "--sample", "--epochs", "1", "--out", "m.skmnist")
    predicted = run("predict", "m.skmnist", "x.npy")
    check(
        len(predicted.strip().splitlines()) == 3,
        "predict printed not one line per digit",
    )
    run("info", "m.skmnist")

    server, address, lines = start_server("m.skmnist")
    try:
        check_served_assets(address)
    finally:
        code = stop_server(server)
    check(code == 0, f"skmnist serve exited {code}:\n{server.stderr.read()}")
    print("wheel smoke test passed", flush=True)


if __name__ == "__main__":
    main()
