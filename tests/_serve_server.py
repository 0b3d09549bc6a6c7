"""Real servers for the tests of ``skmnist serve``: 127.0.0.1, a free port.

:func:`live_server` runs an ASGI app with uvicorn in a thread of the test
process; :func:`serve_command` runs a ``skmnist serve`` command as a child
process and reads the address it prints. Both stop their server on exit, within
bounded time.
"""

import contextlib
import logging
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import uvicorn

from skmnist.serve import make_config

ADDRESS = re.compile(r" at (http://127\.0\.0\.1:\d+/) ")


@contextlib.contextmanager
def live_server(app, timeout=30, **options):
    """Serve `app` with uvicorn on 127.0.0.1, configured as ``skmnist serve``
    configures it (`options`: those of :func:`skmnist.serve.make_config`);
    yields its base URL (no slash)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(make_config(app, **options))
    # uvicorn's log handlers write to the sys.stderr of their configuration:
    # under pytest, the capture of the current test, closed after it.
    for name in ("uvicorn", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(sys.__stderr__)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()


class ServeProcess:
    """A running ``skmnist serve`` child: its process, URL and output so far."""

    def __init__(self, process, url, lines):
        self.process = process
        self.url = url
        self._lines = lines
        self.stdout = []

    def stop(self, timeout=30):
        """Ctrl+C, then wait; returns (exit status, stdout, stderr)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
        stderr = self.process.stderr.read()
        while True:
            try:
                line = self._lines.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            self.stdout.append(line)
        return self.process.returncode, "".join(self.stdout), stderr


@contextlib.contextmanager
def serve_command(command, timeout=120, env=None):
    """Run `command` (``skmnist serve MODEL --port 0 ...``) until it prints its
    address; yields a :class:`ServeProcess`, stopped on exit."""
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, **(env or {})),
    )
    lines = queue.Queue()

    def read():
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen = []
    try:
        deadline = time.monotonic() + timeout
        url = None
        while url is None:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:  # the process ended, or no address in time
                process.kill()
                process.wait(timeout)
                raise RuntimeError(
                    f"{command} printed no address; stdout: {''.join(seen)!r}; "
                    f"stderr: {process.stderr.read()[-3000:]!r}"
                )
            seen.append(line)
            match = ADDRESS.search(line)
            url = match and match.group(1).rstrip("/")
        served = ServeProcess(process, url, lines)
        served.stdout.extend(seen)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout)
