"""Compiled steps on Keras's TensorFlow backend (see :mod:`skmnist.engine._compiled`).

TensorFlow's Keras optimizers update variables in place (``stateless_apply`` is
not supported there), so a training program works on a workspace: a network and
optimizer of its own whose variables are loaded from the fit's model at the
start and written back at the end. One workspace serves one fit at a time;
fits of the same network in several threads at once each get their own.
"""

import contextlib
import threading

import numpy as np
import tensorflow as tf

from .._fixes import skip_all_reduce
from ..network import state
from ._batches import (
    EVAL_CHUNK,
    ForwardPass,
    batch_rows,
    eval_chunks,
    loss_and_hits,
    padded_data,
    padded_order,
)
from ._build import build, logits_model

__all__ = ["Predictor", "TrainingNetwork"]


def _specs(variables):
    return [tf.TensorSpec(v.shape, v.dtype) for v in variables]


def _concrete(function, signature, jit_compile):
    """``function`` traced once, for every input of ``signature``.

    Called as a concrete function it is never traced again, and TensorFlow's
    retracing detector, which counts the traces of every network's copy of the
    same method as one function's, does not warn about the programs of many
    networks in one process.
    """
    traced = tf.function(
        function, input_signature=signature, jit_compile=jit_compile, autograph=False
    )
    return traced.get_concrete_function()


class Predictor(ForwardPass):
    """Class probabilities of any weights of one architecture, traced once."""

    def __init__(self, spec):
        super().__init__(spec)
        signature = [
            _specs(self._model.trainable_variables),
            _specs(self._model.non_trainable_variables),
            tf.TensorSpec([None, spec.network.n_features], tf.float32),
        ]
        self._forward = _concrete(self.forward, signature, jit_compile=False)

    def predict_proba(self, model, X, chunk=EVAL_CHUNK):
        trainable, non_trainable = self.weights(model)
        parts = [
            self._forward(trainable, non_trainable, X[start : start + chunk])
            for start in range(0, len(X), chunk)
        ]
        return np.concatenate([part.numpy() for part in parts])


class TrainingNetwork:
    """The training and evaluation programs of one network, over workspaces."""

    def __init__(self, spec, make_optimizer):
        self.spec = spec
        self._make_optimizer = make_optimizer
        self._free = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def session(self, model, X, y, sample_weight):
        with self._lock:
            workspace = self._free.pop() if self._free else None
        if workspace is None:
            workspace = _Workspace(self.spec, self._make_optimizer)
        try:
            yield _Session(workspace, model, X, y, sample_weight)
        finally:
            with self._lock:
                self._free.append(workspace)


class _Workspace:
    def __init__(self, spec, make_optimizer):
        # Seeded: its initial values are overwritten by each fit's or prediction's
        # own, and an unseeded build would draw from Python's global random.
        self.model = build(spec.network, seed=0)
        self.optimizer = make_optimizer()
        self.optimizer.build(self.model.trainable_variables)
        skip_all_reduce(self.optimizer)  # else the traced program lives for good
        self._logits = logits_model(self.model)
        self._batch_size = spec.batch_size
        data = [
            tf.TensorSpec([None, spec.network.n_features], tf.float32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.float32),
        ]
        scalar = tf.TensorSpec([], tf.int32)
        self.train = _concrete(
            self._train,
            [*data, tf.TensorSpec([None], tf.int32), scalar, scalar, scalar]
            + [tf.TensorSpec([], tf.float32)] * 2,
            jit_compile=spec.jit_compile,
        )
        self.evaluate = _concrete(
            self._evaluate,
            [*data, tf.TensorSpec([None, None], tf.int32), scalar],
            jit_compile=spec.jit_compile,
        )

    def _losses(self, X, y, w, rows, valid, training):
        logits = self._logits(tf.gather(X, rows), training=training)
        return loss_and_hits(logits, tf.gather(y, rows), tf.gather(w, rows), valid)

    def _train(self, X, y, w, order, n_rows, start, stop, loss_sum, hit_sum):
        variables = self.model.trainable_variables

        def step(i, loss_sum, hit_sum):
            rows, valid = batch_rows(order, i, self._batch_size, n_rows)
            n_valid = tf.reduce_sum(tf.cast(valid, tf.float32))
            with tf.GradientTape() as tape:
                loss, hits = self._losses(X, y, w, rows, valid, True)
                # Keras's mean over the batch's rows, weighted per sample.
                mean_loss = loss / n_valid
            self.optimizer.apply(tape.gradient(mean_loss, variables), variables)
            return i + 1, loss_sum + loss, hit_sum + hits

        # The sums carry on from the previous call's: an epoch's sums are added up
        # in the same order whatever the number of calls.
        _, *sums = tf.while_loop(
            lambda i, *_: i < stop, step, (start, loss_sum, hit_sum)
        )
        return sums

    def _evaluate(self, X, y, w, chunks, n_rows):
        def chunk(j, loss_sum, hit_sum):
            positions = j * tf.shape(chunks)[1] + tf.range(tf.shape(chunks)[1])
            loss, hits = self._losses(X, y, w, chunks[j], positions < n_rows, False)
            return j + 1, loss_sum + loss, hit_sum + hits

        zero = tf.constant(0.0)
        _, *sums = tf.while_loop(
            lambda j, *_: j < tf.shape(chunks)[0], chunk, (0, zero, zero)
        )
        return sums


class _Session:
    """One fit's use of a workspace: its data, loaded once, and its state."""

    def __init__(self, workspace, model, X, y, sample_weight):
        self._ws = workspace
        # Taken over without a copy: the padded arrays are the fit's own.
        self._data = tuple(
            tf.experimental.dlpack.from_dlpack(a.__dlpack__())
            for a in padded_data(X, y, sample_weight)
        )
        self.load_from(model)

    def load_from(self, model):
        into = state(self._ws.model, self._ws.optimizer)
        for target, source in zip(into, state(model), strict=True):
            target.assign(source)

    def save_to(self, model):
        source = state(self._ws.model, self._ws.optimizer)
        for target, value in zip(state(model), source, strict=True):
            target.assign(value)

    def train(self, order, start, stop, totals):
        sums = self._ws.train(
            *self._data,
            tf.constant(padded_order(order)),
            tf.constant(len(order)),
            tf.constant(start),
            tf.constant(stop),
            *(tf.constant(total, tf.float32) for total in totals),
        )
        return tuple(float(s) for s in sums)

    def evaluate(self, rows):
        chunks = eval_chunks(rows)
        sums = self._ws.evaluate(
            *self._data, tf.constant(chunks), tf.constant(len(rows))
        )
        return tuple(float(s) for s in sums)
