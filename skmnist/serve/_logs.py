"""The service's log lines: rate-limited, one line each, no tracebacks.

Under a flood (connections over the limit, descriptors running out) uvicorn
and asyncio log the same event thousands of times a second, asyncio with a
traceback each time; a log that grows by megabytes a second hides everything
else and costs the CPU the service needs. :class:`RateLimit` lets one line of
each kind through per interval, and says how many it held back.
"""

import logging
import time


class RateLimit(logging.Filter):
    """Pass at most one record of each message per `interval` seconds.

    Records pass without their traceback (``exc_info``): the exception's
    message is appended to the line instead. A record that passes after some
    were held back says how many.

    Parameters
    ----------
    interval : float, default=10.0
        Seconds between two records of the same message.
    """

    def __init__(self, interval=10.0):
        super().__init__()
        self.interval = interval
        self._last = {}  # message template -> (time passed, records held back)

    def filter(self, record):
        # asyncio's lines go on with the context (the socket, the transport):
        # the first line names the event.
        first = str(record.msg).split("\n", 1)[0]
        record.msg = first
        key = (record.name, first)
        now = time.monotonic()
        last, held = self._last.get(key, (None, 0))
        if last is not None and now - last < self.interval:
            self._last[key] = (last, held + 1)
            return False
        self._last[key] = (now, 0)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})"
            record.args = None
        record.exc_info = record.exc_text = record.stack_info = None
        if held:
            record.msg = f"{record.getMessage()} ({held} more like it held back)"
            record.args = None
        return True
