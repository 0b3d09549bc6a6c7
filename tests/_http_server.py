"""A real HTTP server on 127.0.0.1 for download tests, scripted per path.

Each path answers a list of :class:`Reply` objects, one per request, the last one
repeated; paths with no script answer 404. Every request path is logged.
"""

import dataclasses
import http.server
import threading


@dataclasses.dataclass
class Reply:
    """How the server answers one request."""

    status: int = 200
    body: bytes = b""
    # Content-Length to announce; larger than the body makes a truncated reply.
    content_length: int | None = None
    # Seconds to wait before the status line (a server that does not answer).
    delay: float = 0.0
    # Seconds to wait after half of the body (a server that stops sending).
    stall: float = 0.0
    # Seconds between single bytes of the body (a server that sends too slowly).
    trickle: float = 0.0
    # Wait here until as many requests as the barrier's parties arrive.
    barrier: threading.Barrier | None = None


class ScriptedServer:
    """``with ScriptedServer() as server: server.script("/x", Reply(...))``."""

    def __init__(self):
        self.requests = []
        self._scripts = {}
        self._lock = threading.Lock()
        # Set on exit, to cut short the waits of delayed and stalled replies.
        self._closing = threading.Event()
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.scripted = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.01,), daemon=True
        )

    def url(self, path=""):
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def script(self, path, *replies):
        with self._lock:
            self._scripts[path] = list(replies)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def _next_reply(self, path):
        with self._lock:
            self.requests.append(path)
            replies = self._scripts.get(path)
            if not replies:
                return Reply(status=404)
            return replies.pop(0) if len(replies) > 1 else replies[0]


class _Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: the connection closes after each reply, so a body shorter than
    # its Content-Length ends with the connection closing.
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        scripted = self.server.scripted
        reply = scripted._next_reply(self.path)
        try:
            if reply.barrier is not None:
                reply.barrier.wait()
            if reply.delay:
                scripted._closing.wait(reply.delay)
            if reply.status != 200:
                self.send_error(reply.status)
                return
            length = reply.content_length
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length or len(reply.body)))
            self.end_headers()
            if reply.trickle:
                for i in range(len(reply.body)):
                    if scripted._closing.wait(reply.trickle):
                        return
                    self.wfile.write(reply.body[i : i + 1])
                return
            half = len(reply.body) // 2 if reply.stall else 0
            self.wfile.write(reply.body[:half])
            self.wfile.flush()
            if reply.stall:
                scripted._closing.wait(reply.stall)
            self.wfile.write(reply.body[half:])
        except (ConnectionError, TimeoutError):
            pass  # the client gave up, as the tests of timeouts want

    def log_message(self, format, *args):
        pass
