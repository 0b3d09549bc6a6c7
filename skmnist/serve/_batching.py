"""Micro-batching: the images of concurrent requests go to the model together.

One model call on n images costs about as much as a call on one image (the
per-call overhead dominates a small MLP), so while the model works on one batch,
the requests that arrive wait in a queue and go together into the next call.
No request waits for a timer: a lone request is predicted at once.
"""

import asyncio
import concurrent.futures

import numpy as np


class Abandoned(Exception):
    """The request's client left before its images went to the model."""


class MicroBatcher:
    """Run ``predict_proba`` on the images of concurrent requests together.

    The model is called in one worker thread, so that it never blocks the
    event loop (which keeps answering ``/health`` and reading other requests)
    and is never called from two threads at once.

    Parameters
    ----------
    predict_proba : callable
        Maps images (n, 28, 28) uint8 to probabilities (n, n_classes).
    max_rows : int
        The most images in one model call; a larger request goes alone.
    """

    def __init__(self, predict_proba, *, max_rows=256):
        self._predict_proba = predict_proba
        self._max_rows = max_rows
        self._executor = None
        self._loop = None
        self._queue = None
        self._task = None
        self.pending = 0  # requests waiting for or in a model call
        self.calls = 0  # model calls made
        self.images = 0  # images predicted
        self.abandoned = 0  # requests dropped because their client left

    async def predict_proba(self, images, *, abandoned=None):
        """Probabilities for `images` (n, 28, 28), from a shared model call.

        Parameters
        ----------
        images : ndarray of shape (n, 28, 28)
        abandoned : awaitable, default=None
            Completes when the answer is no longer wanted (its client has
            gone): the request is then dropped from the batch it waits for,
            unless that batch is already in the model, and :class:`Abandoned`
            is raised.
        """
        self._start()
        future = self._loop.create_future()
        self.pending += 1
        watch = None
        try:
            self._queue.put_nowait((images, future))
            if abandoned is None:
                return await future
            # A callback, not asyncio.wait: the least work for each request.
            watch = asyncio.ensure_future(abandoned)
            watch.add_done_callback(lambda _: future.cancel())
            try:
                return await future
            except asyncio.CancelledError:
                if not (watch.done() and not watch.cancelled()):
                    raise  # this request's own task was cancelled
            self.abandoned += 1  # future cancelled by the watch: _work skips it
            raise Abandoned("the client left before its images were predicted")
        finally:
            self.pending -= 1
            if watch is not None:
                watch.cancel()

    def close(self):
        """Stop the worker task and thread (waits for a running model call)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _start(self):
        # Started on first use in the running loop (an app may serve requests
        # without a lifespan, e.g. under a test client).
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="skmnist-serve-model"
            )
        if self._loop is not loop or self._task is None or self._task.done():
            self._loop = loop
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._work())

    async def _work(self):
        carry = None  # a request that did not fit in the previous batch
        while True:
            batch = [carry if carry is not None else await self._queue.get()]
            carry = None
            rows = len(batch[0][0])
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if rows + len(item[0]) > self._max_rows:
                    carry = item
                    break
                batch.append(item)
                rows += len(item[0])
            batch = [(images, f) for images, f in batch if not f.cancelled()]
            if batch:
                await self._run(batch)

    async def _run(self, batch):
        try:
            images = np.concatenate([images for images, _ in batch])
            proba = await self._loop.run_in_executor(
                self._executor, self._predict_proba, images
            )
        except Exception as exc:  # every waiting request gets the error
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.calls += 1
        self.images += len(images)
        start = 0
        for part, future in batch:
            stop = start + len(part)
            if not future.done():
                future.set_result(proba[start:stop])
            start = stop
