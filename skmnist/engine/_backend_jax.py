"""Compiled steps on Keras's JAX backend (see :mod:`skmnist.engine._compiled`).

Every program is a pure function of the weights, the optimizer's state and the
data (Keras's ``stateless_call`` and ``stateless_apply``), compiled by
``jax.jit`` once per input shape; fits in several threads share them.
"""

import contextlib
import threading

import jax
import jax.numpy as jnp
import numpy as np

from ..network import state_parts
from ._batches import (
    EVAL_CHUNK,
    ForwardPass,
    batch_rows,
    bucket,
    eval_chunks,
    loss_and_hits,
    padded,
    padded_data,
    padded_order,
)
from ._build import build, logits_model

__all__ = ["Predictor", "TrainingNetwork"]


class _Traced:
    """Calls a jitted function, tracing each new input shape under a lock.

    Tracing runs the shared template network's Python code; compiled calls are
    pure and run in parallel.
    """

    def __init__(self, function, **jit_options):
        self._jitted = jax.jit(function, **jit_options)
        self._lock = threading.Lock()
        self._shapes = set()

    def __call__(self, *args):
        shapes = tuple(
            (np.shape(a), getattr(a, "dtype", None)) for a in jax.tree.leaves(args)
        )
        if shapes in self._shapes:
            return self._jitted(*args)
        with self._lock:
            result = self._jitted(*args)
            self._shapes.add(shapes)
            return result


class Predictor(ForwardPass):
    """Class probabilities of any weights of one architecture."""

    def __init__(self, spec):
        super().__init__(spec)
        self._forward = _Traced(self.forward)

    def predict_proba(self, model, X, chunk=EVAL_CHUNK):
        trainable, non_trainable = self.weights(model)
        parts = []
        for start in range(0, len(X), chunk):
            x = X[start : start + chunk]
            proba = self._forward(trainable, non_trainable, padded(x, bucket(len(x))))
            parts.append(np.asarray(proba)[: len(x)])
        return np.concatenate(parts)


class TrainingNetwork:
    """The training and evaluation programs of one network."""

    def __init__(self, spec, make_optimizer):
        self.spec = spec
        # Seeded: its initial values are overwritten by each fit's or prediction's
        # own, and an unseeded build would draw from Python's global random.
        self._model = build(spec.network, seed=0)
        self._logits = logits_model(self._model)
        self._optimizer = make_optimizer()
        self._optimizer.build(self._model.trainable_variables)
        self._grad = jax.value_and_grad(self._mean_loss, has_aux=True)
        self.train = _Traced(self._train, donate_argnums=(0,))
        self.evaluate = _Traced(self._evaluate)

    @contextlib.contextmanager
    def session(self, model, X, y, sample_weight):
        yield _Session(self, model, X, y, sample_weight)

    def _losses(self, trainable, non_trainable, data, rows, valid, training):
        X, y, w = data
        logits, non_trainable = self._logits.stateless_call(
            trainable, non_trainable, X[rows], training=training
        )
        return loss_and_hits(logits, y[rows], w[rows], valid), non_trainable

    def _mean_loss(self, trainable, non_trainable, data, rows, valid):
        sums, non_trainable = self._losses(
            trainable, non_trainable, data, rows, valid, True
        )
        # Keras's mean over the batch's rows, weighted per sample.
        return sums[0] / jnp.sum(valid), (sums, non_trainable)

    def _train(self, state, data, order, n_rows, start, stop, totals):
        batch_size = self.spec.batch_size

        def step(i, carry):
            (trainable, non_trainable, optimizer), totals = carry
            rows, valid = batch_rows(order, i, batch_size, n_rows)
            (_, (sums, non_trainable)), grads = self._grad(
                trainable, non_trainable, data, rows, valid
            )
            trainable, optimizer = self._optimizer.stateless_apply(
                optimizer, grads, trainable
            )
            totals = tuple(a + b for a, b in zip(totals, sums, strict=True))
            return (trainable, non_trainable, optimizer), totals

        # The sums carry on from the previous call's: an epoch's sums are added up
        # in the same order whatever the number of calls.
        return jax.lax.fori_loop(start, stop, step, (state, totals))

    def _evaluate(self, state, data, chunks, n_rows):
        trainable, non_trainable, _ = state
        size = chunks.shape[1]

        def chunk(j, totals):
            valid = j * size + jnp.arange(size) < n_rows
            sums, _ = self._losses(
                trainable, non_trainable, data, chunks[j], valid, False
            )
            return tuple(a + b for a, b in zip(totals, sums, strict=True))

        zeros = (jnp.float32(0),) * 2
        return jax.lax.fori_loop(0, chunks.shape[0], chunk, zeros)


class _Session:
    """One fit's state and data, as JAX arrays."""

    def __init__(self, network, model, X, y, sample_weight):
        self._network = network
        # Taken over without a copy: the padded arrays are the fit's own.
        self._data = tuple(jnp.from_dlpack(a) for a in padded_data(X, y, sample_weight))
        self.load_from(model)

    def load_from(self, model):
        # Copies: the training program consumes (donates) its state's buffers.
        self._state = tuple(
            [jnp.array(v.value) for v in variables] for variables in state_parts(model)
        )

    def save_to(self, model):
        for targets, values in zip(state_parts(model), self._state, strict=True):
            for target, value in zip(targets, values, strict=True):
                target.assign(jnp.array(value))

    def train(self, order, start, stop, totals):
        self._state, sums = self._network.train(
            self._state,
            self._data,
            jnp.asarray(padded_order(order)),
            len(order),
            start,
            stop,
            tuple(jnp.float32(total) for total in totals),
        )
        return tuple(float(s) for s in sums)

    def evaluate(self, rows):
        sums = self._network.evaluate(
            self._state, self._data, jnp.asarray(eval_chunks(rows)), len(rows)
        )
        return tuple(float(s) for s in sums)
