"""uvicorn's HTTP/1.1 protocol (h11), with a deadline and a bound on connections.

uvicorn times out a connection only while it idles between two requests
(``timeout_keep_alive``): a client that opens a connection and sends nothing,
or trickles its headers or body a byte at a time, holds a file descriptor
forever, and enough of them starve the service of descriptors. This subclass
adds, through uvicorn's own protocol hooks (no HTTP of its own):

- a deadline for each request to arrive whole (headers and body), counted
  from the connection's opening or the end of the previous answer; a client
  that misses it is disconnected;
- a bound on open connections: when a new one would take the service to its
  concurrency limit, the oldest connection that has no request being answered
  (idle, or still sending its request) is closed to make room. Only when every
  connection is busy does the newcomer get uvicorn's fast 503.
- a shutdown that does not wait for requests that have not arrived whole
  (nobody will be answered on them), so a stop takes milliseconds, not the
  graceful-shutdown timeout.
"""

import logging
import time

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

_logger = logging.getLogger("uvicorn.error")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request deadline and connection eviction.

    Read from the uvicorn ``Config`` it is given: ``timeout_request`` (seconds
    for a request to arrive whole; set on the config object by
    :func:`skmnist.serve.run`) and ``limit_concurrency``.
    """

    def __init__(self, config, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        self._timeout_request = getattr(config, "timeout_request", None)
        self._deadline = None  # TimerHandle while a request is due
        self.opened = time.monotonic()

    # -- uvicorn's hooks ----------------------------------------------------

    def connection_made(self, transport):
        super().connection_made(transport)
        self._arm()
        if (
            self.limit_concurrency is not None
            and len(self.connections) >= self.limit_concurrency
        ):
            self._make_room()

    def connection_lost(self, exc):
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data):
        super().data_received(data)
        if self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED):
            self._disarm()  # the request is whole: the app has it now

    def on_response_complete(self):
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request is due from now

    def shutdown(self):
        if self._receiving():
            self.transport.close()  # no answer is owed on a half-sent request
        else:
            super().shutdown()

    # -- the deadline -------------------------------------------------------

    def _arm(self):
        self._disarm()
        if self._timeout_request is not None:
            self._deadline = self.loop.call_later(self._timeout_request, self._expire)

    def _disarm(self):
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self):
        self._deadline = None
        if self._receiving() and not self.transport.is_closing():
            _logger.warning(
                "Closed a connection that did not send its request within %ss.",
                self._timeout_request,
            )
            self.transport.close()

    # -- the bound on connections -------------------------------------------

    def _receiving(self):
        """Whether no request of this connection has arrived whole: it is idle
        between requests or still sending one (nothing is being computed)."""
        return self.conn.their_state in (h11.IDLE, h11.SEND_BODY)

    def _make_room(self):
        others = [
            c
            for c in self.connections
            if c is not self
            and isinstance(c, GuardedH11Protocol)
            and c._receiving()
            and not c.transport.is_closing()
        ]
        if others:
            oldest = min(others, key=lambda c: c.opened)
            _logger.warning(
                "At the limit of %s connections: closed the oldest one that had "
                "no request being answered.",
                self.limit_concurrency,
            )
            oldest.transport.close()
            # uvicorn answers 503 while len(connections) is at the limit, and
            # a closed transport stays counted until its connection_lost runs
            # on a later turn of the loop: without this, the newcomer that
            # made room could itself be refused, depending on that timing.
            self.connections.discard(oldest)
