"""skmnist's reference fit against the Keras tutorial (a), skmnist (b), scikit-learn
(c), skmnist on JAX (d) and a bare compiled loop of (b)'s work (e-tf, e-jax).

    python benchmarks/run.py                  # 60,000 images, 20 epochs, seeds 0-2
    python benchmarks/run.py --small          # smoke test: 2,000 images, 2 epochs
    python benchmarks/run.py --contenders b,d,e-jax --repeats 5   # JAX's accuracy

Each fit in a fresh process, alternated per seed. See benchmarks/README.md.
"""

import importlib
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
from _common import scale  # noqa: E402

LABELS = {
    "a": "(a) Keras tutorial, TensorFlow",
    "b": "(b) skmnist pipeline, TensorFlow",
    "c": "(c) scikit-learn MLPClassifier",
    "d": "(d) skmnist pipeline, JAX",
    "e-tf": "(e-tf) bare loop, TensorFlow + XLA",
    "e-jax": "(e-jax) bare loop, JAX",
}
BACKENDS = {"d": "jax", "e-jax": "jax"}
FLOORS = ("e-tf", "e-jax")
# Keras's Adam: learning rate, beta_1, beta_2, epsilon.
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-7

# -- in the child process: one fit ------------------------------------------------


def n_held_out(y, validation_split=0.1):
    """How many rows skmnist holds out: the split's share, at least one per class."""
    return max(math.ceil(validation_split * len(y)), len(np.unique(y)))


def split(y, seed, validation_split=0.1):
    """skmnist's hold-out: stratified, at least one row per class, seeded."""
    from sklearn.model_selection import train_test_split

    n_val = n_held_out(y, validation_split)
    rows = np.arange(len(y))
    train, val = train_test_split(rows, test_size=n_val, random_state=seed, stratify=y)
    return np.sort(train).astype(np.int32), val.astype(np.int32)


def fit_a(cfg, X, y):
    import keras

    keras.utils.set_random_seed(cfg["seed"])
    model = _common.tutorial_mlp(cfg["hidden_size"], "categorical_crossentropy")
    history = model.fit(
        scale(X),
        keras.utils.to_categorical(y, 10),
        batch_size=cfg["batch_size"],
        epochs=cfg["epochs"],
        validation_split=0.1,
        verbose=0,
    )

    def predict(images):
        return model.predict(scale(images), batch_size=cfg["batch_size"], verbose=0)

    # Keras validates on the last 10% of the rows.
    info = {"n_iter": len(history.history["loss"]), "n_fit": int(len(X) * 0.9)}
    return predict, {**info, "n_params": model.count_params()}


def fit_skmnist(cfg, X, y):
    import keras

    from skmnist import make_mnist_pipeline

    params = {"random_state": cfg["seed"]}
    if not cfg["default_epochs"]:
        params["epochs"] = cfg["epochs"]
    if cfg["hidden_size"] != 512:
        params["hidden_size"] = cfg["hidden_size"]
    epoch_s = []
    if cfg["epoch_times"]:  # a diagnostic: a callback makes a fit sync its weights

        class EpochTimer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t0 = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                epoch_s.append(time.perf_counter() - self.t0)

        params["callbacks"] = [EpochTimer()]
    pipe = make_mnist_pipeline(**params).fit(X, y)
    clf = pipe[-1]
    settings = {
        k: v
        for k, v in clf.get_params().items()
        if isinstance(v, bool | int | float | str)
    }
    # Counted, not split again: this runs inside the timed fit.
    info = {
        "n_iter": clf.n_iter_,
        "n_fit": len(y) - n_held_out(y, clf.validation_split),
        "n_params": clf.model_.count_params(),
    }
    if epoch_s:
        info["epoch_s"] = epoch_s
    return pipe.predict_proba, {**info, "params": settings}


def fit_c(cfg, X, y):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    h = cfg["hidden_size"]
    clf = MLPClassifier(
        hidden_layer_sizes=(h, h),
        batch_size=cfg["batch_size"],
        max_iter=cfg["epochs"],
        random_state=cfg["seed"],
    )
    with warnings.catch_warnings():  # max_iter is a fixed budget of epochs
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(scale(X), y)
    n_params = sum(w.size for w in clf.coefs_ + clf.intercepts_)
    info = {"n_iter": clf.n_iter_, "n_fit": len(X), "n_params": int(n_params)}
    return lambda images: clf.predict_proba(scale(images)), info


def _glorot(cfg):
    """(kernel, bias) per layer: Glorot-uniform kernels, zero biases, in NumPy.

    Drawn in NumPy so that neither loop pays for compiling its random kernels.
    """
    rng, h = np.random.default_rng(cfg["seed"]), cfg["hidden_size"]
    sizes = [784, h, h, 10]
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        limit = math.sqrt(6 / (n_in + n_out))
        kernel = rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32)
        params.append((kernel, np.zeros(n_out, np.float32)))
    return params


def _bare_loop(cfg, X, y, epoch_fn, predict):
    """Run a bare loop's epochs as (b) does: a new order per epoch, then validation.

    ``epoch_fn(order)`` trains one epoch on the rows in ``order`` and evaluates the
    validation rows; it returns the sums (loss, hits, val loss, val hits).
    """
    train, val = split(y, cfg["seed"])
    history, epoch_s = [], []
    for epoch in range(cfg["epochs"]):
        t0 = time.perf_counter()
        order = np.random.default_rng([cfg["seed"], epoch]).permutation(train)
        sums = [float(s) for s in epoch_fn(order.astype(np.int32), val)]
        history.append([sums[0] / len(train), sums[3] / len(val)])
        epoch_s.append(time.perf_counter() - t0)
    h = cfg["hidden_size"]
    n_params = (784 + 1) * h + (h + 1) * h + (h + 1) * 10
    info = {"n_iter": cfg["epochs"], "n_fit": len(train), "n_params": n_params}
    return predict, {**info, "epoch_s": epoch_s, "loss_val_accuracy": history}


def fit_e_tf(cfg, X, y):
    import tensorflow as tf

    bs = cfg["batch_size"]
    data = tf.constant(scale(X)), tf.constant(y.astype(np.int32))
    params = []
    for kernel, bias in _glorot(cfg):
        params += [tf.Variable(kernel), tf.Variable(bias)]
    m = [tf.Variable(tf.zeros_like(p)) for p in params]
    v = [tf.Variable(tf.zeros_like(p)) for p in params]
    t = tf.Variable(0.0)

    def forward(x):
        for w, b in zip(params[0:-2:2], params[1:-2:2], strict=True):
            x = tf.nn.relu(x @ w + b)
        return x @ params[-2] + params[-1]

    def sums(rows, valid):
        z, target = forward(tf.gather(data[0], rows)), tf.gather(data[1], rows)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(target, z)
        hits = tf.equal(tf.argmax(z, -1, output_type=tf.int32), target) & valid
        loss = tf.reduce_sum(tf.where(valid, losses, 0.0))
        return loss, tf.reduce_sum(tf.cast(hits, tf.float32))

    @tf.function(jit_compile=True, autograph=False)
    def epoch(order, val):
        n = tf.shape(order)[0]

        def step(i, loss_sum, hit_sum):
            positions = i * bs + tf.range(bs)
            valid = positions < n  # the short last batch: padded, weight 0
            with tf.GradientTape() as tape:
                loss, hits = sums(tf.gather(order, tf.minimum(positions, n - 1)), valid)
                mean = loss / tf.reduce_sum(tf.cast(valid, tf.float32))
            grads = tape.gradient(mean, params)
            step_t = t.assign_add(1.0)
            alpha = LR * tf.sqrt(1 - B2**step_t) / (1 - B1**step_t)
            for p, g, mp, vp in zip(params, grads, m, v, strict=True):
                m_new = mp.assign_add((g - mp) * (1 - B1))
                v_new = vp.assign_add((g * g - vp) * (1 - B2))
                p.assign_sub(alpha * m_new / (tf.sqrt(v_new) + EPS))
            return i + 1, loss_sum + loss, hit_sum + hits

        steps = (n + bs - 1) // bs
        _, loss, hits = tf.while_loop(
            lambda i, *_: i < steps, step, (tf.constant(0), 0.0, 0.0)
        )
        return (loss, hits, *sums(val, tf.ones_like(val, tf.bool)))

    def predict(images):
        return tf.nn.softmax(forward(tf.constant(scale(images)))).numpy()

    def run_epoch(order, val):
        return epoch(tf.constant(order), tf.constant(val))

    return _bare_loop(cfg, X, y, run_epoch, predict)


def fit_e_jax(cfg, X, y):
    import functools

    import jax
    import jax.numpy as jnp

    bs = cfg["batch_size"]
    data = jnp.asarray(scale(X)), jnp.asarray(y, jnp.int32)
    params = jax.device_put(_glorot(cfg))

    def forward(params, x):
        for w, b in params[:-1]:
            x = jax.nn.relu(x @ w + b)
        return x @ params[-1][0] + params[-1][1]

    def sums(params, data, rows, valid):
        z, target = forward(params, data[0][rows]), data[1][rows]
        log_p = jax.nn.log_softmax(z)
        losses = -jnp.take_along_axis(log_p, target[:, None], axis=1)[:, 0]
        hits = (jnp.argmax(z, -1) == target) & valid
        return jnp.sum(jnp.where(valid, losses, 0.0)), jnp.sum(hits, dtype=jnp.float32)

    def mean_loss(params, data, rows, valid):
        loss, hits = sums(params, data, rows, valid)
        return loss / jnp.sum(valid), (loss, hits)

    grad = jax.value_and_grad(mean_loss, has_aux=True)

    @functools.partial(jax.jit, donate_argnums=0)
    def epoch(state, data, order, val):
        n = order.shape[0]

        def step(i, carry):
            (params, m, v, t), totals = carry
            positions = i * bs + jnp.arange(bs)
            valid = positions < n  # the short last batch: padded, weight 0
            rows = order[jnp.minimum(positions, n - 1)]
            (_, step_sums), g = grad(params, data, rows, valid)
            t = t + 1
            alpha = LR * jnp.sqrt(1 - B2**t) / (1 - B1**t)
            m = jax.tree.map(lambda m, g: m + (g - m) * (1 - B1), m, g)
            v = jax.tree.map(lambda v, g: v + (g * g - v) * (1 - B2), v, g)
            params = jax.tree.map(
                lambda p, m, v: p - alpha * m / (jnp.sqrt(v) + EPS), params, m, v
            )
            return (params, m, v, t), jax.tree.map(jnp.add, totals, step_sums)

        zero = (jnp.float32(0), jnp.float32(0))
        state, totals = jax.lax.fori_loop(0, -(-n // bs), step, (state, zero))
        valid = jnp.ones(val.shape, bool)
        return state, (*totals, *sums(state[0], data, val, valid))

    zeros = jax.tree.map(jnp.zeros_like, params)
    state = [params, zeros, jax.tree.map(jnp.zeros_like, params), jnp.float32(0)]

    def run_epoch(order, val):
        args = tuple(state), data, jnp.asarray(order), jnp.asarray(val)
        state[:], sums_ = epoch(*args)
        return sums_

    probabilities = jax.jit(lambda params, x: jax.nn.softmax(forward(params, x)))

    def predict(images):
        return np.asarray(probabilities(state[0], jnp.asarray(scale(images))))

    return _bare_loop(cfg, X, y, run_epoch, predict)


FITS = {"a": fit_a, "b": fit_skmnist, "c": fit_c, "d": fit_skmnist}
FITS.update({"e-tf": fit_e_tf, "e-jax": fit_e_jax})
PRELOAD = {"a": "keras", "c": "sklearn.neural_network", "e-tf": "tensorflow"}
PRELOAD["e-jax"] = "jax"


def gemm(n, runs=5, warmup=2):
    import tensorflow as tf

    a = tf.random.stateless_normal((n, n), seed=(1, 2))
    b = tf.random.stateless_normal((n, n), seed=(3, 4))
    times = []
    for _ in range(warmup + runs):
        t0 = time.perf_counter()
        tf.linalg.matmul(a, b)[0, 0].numpy()
        times.append(time.perf_counter() - t0)
    return {"size": n, "gflops": 2 * n**3 / min(times[warmup:]) / 1e9}


def measure(cfg):
    if cfg["name"] == "gemm":
        return gemm(cfg["gemm_size"])
    from sklearn.metrics import log_loss

    X, y, X_test, y_test = _common.mnist(cfg["n_train"], cfg["n_test"])
    # Imports are not part of a fit (skmnist's pipeline starts Keras as it is got).
    if cfg["name"] in ("b", "d"):
        importlib.import_module("skmnist").make_mnist_pipeline  # noqa: B018
    else:
        importlib.import_module(PRELOAD[cfg["name"]])
    t0 = time.perf_counter()
    predict, info = FITS[cfg["name"]](cfg, X, y)
    fit_s = time.perf_counter() - t0
    proba = np.asarray(predict(X_test))  # the first call may trace or compile
    predict_s = []
    for _ in range(3):
        t0 = time.perf_counter()
        predict(X_test)
        predict_s.append(time.perf_counter() - t0)
    labels = np.arange(proba.shape[1])
    return {
        **info,
        "fit_s": fit_s,
        "predict_s": float(np.median(predict_s)),
        "test_accuracy": float(np.mean(proba.argmax(1) == y_test)),
        "log_loss": float(log_loss(y_test, proba, labels=labels)),
    }


# -- in the parent: alternate fresh processes, summarize, judge -------------------


def paired(by_rep, name, ref, key="fit_s"):
    """Median over the repetitions where both ran of ``name``'s value / ``ref``'s."""
    pairs = [reps for reps in by_rep.values() if name in reps and ref in reps]
    return _common.median([reps[name][key] / reps[ref][key] for reps in pairs])


def summarize(runs, contenders):
    ok = [r for r in runs if r.get("ok")]
    gflops = max((r["gflops"] for r in ok if r["name"] == "gemm"), default=None)
    by_rep, mine = {}, {name: [] for name in contenders}
    for r in ok:
        by_rep.setdefault(r["rep"], {})[r["name"]] = r
        mine.get(r["name"], []).append(r)
    fit_s = {name: _common.median([r["fit_s"] for r in mine[name]]) for name in mine}
    floor = min((f for f in FLOORS if fit_s.get(f)), key=fit_s.get, default=None)
    summary = {}
    for name, rs in mine.items():
        summary[name] = s = {"label": LABELS[name], "n_ok": len(rs)}
        if not rs:
            continue
        accuracy = [r["test_accuracy"] for r in rs]
        flop = [6 * r["n_fit"] * r["n_params"] * r["n_iter"] / r["fit_s"] for r in rs]
        s.update(
            fit_s=fit_s[name],
            fit_s_runs=[r["fit_s"] for r in rs],
            ratio_a=paired(by_rep, name, "a"),
            ratio_e=paired(by_rep, name, floor),
            gemm_fraction=gflops and _common.median(flop) / (gflops * 1e9),
            accuracy_mean=_common.mean(accuracy),
            accuracy_min=min(accuracy),
            accuracy_runs=accuracy,
            log_loss_mean=_common.mean([r["log_loss"] for r in rs]),
            predict_s=_common.median([r["predict_s"] for r in rs]),
            predict_ratio_a=paired(by_rep, name, "a", "predict_s"),
            peak_rss_mb=_common.median([r["peak_rss_mb"] for r in rs]),
            rss_ratio_a=paired(by_rep, name, "a", "peak_rss_mb"),
            n_iter=[r["n_iter"] for r in rs],
            params=rs[0].get("params"),
        )
        epochs = [r["epoch_s"] for r in rs if len(r.get("epoch_s", [])) > 1]
        if epochs:  # the first epoch compiles; the later ones are the steady state
            s["epoch_first_s"] = _common.median([e[0] for e in epochs])
            s["epoch_later_s"] = _common.median([_common.median(e[1:]) for e in epochs])
    return {"gemm_gflops": gflops, "floor": floor, "contenders": summary}


def targets(summary, enforced):
    b, d = (summary["contenders"].get(k) or {} for k in "bd")
    low, mean, gap = b.get("accuracy_min"), b.get("accuracy_mean"), None
    if mean is not None and d.get("accuracy_mean") is not None:
        gap = abs(d["accuracy_mean"] - mean)
    rows = [
        ("fit_ratio_b_e", "fit time (b) / (e)", b.get("ratio_e"), "<=", 1.1),
        ("fit_ratio_b_a", "fit time (b) / (a)", b.get("ratio_a"), "<=", 0.5),
        ("accuracy_b_min", "test accuracy (b), every seed", low, ">=", 0.98),
        ("accuracy_b_mean", "test accuracy (b), mean", mean, ">=", 0.981),
        ("accuracy_gap_d_b", "test accuracy, mean (d) vs (b), gap", gap, "<=", 0.002),
        ("predict_ratio_b_a", "predict (b) / (a)", b.get("predict_ratio_a"), "<=", 1),
        ("rss_ratio_b_a", "peak RSS (b) / (a)", b.get("rss_ratio_a"), "<=", 1.1),
    ]
    return _common.judge(rows, enforced)


def markdown(report):
    cfg, summary = report["config"], report["summary"]
    rows = []
    for s in summary["contenders"].values():
        if not s["n_ok"]:
            rows.append([s["label"], "failed", *[""] * 9])
            continue
        epoch = [
            _common.fmt(s.get(k), ".2f") for k in ("epoch_first_s", "epoch_later_s")
        ]
        rows.append(
            [
                s["label"],
                f"{s['fit_s']:.1f}",
                _common.fmt(s["ratio_a"], ".2f"),
                _common.fmt(s["ratio_e"], ".2f"),
                _common.fmt(s["gemm_fraction"] and 100 * s["gemm_fraction"], ".0f"),
                ", ".join(epoch),
                f"{s['accuracy_mean']:.4f}, {s['accuracy_min']:.4f}",
                " ".join(f"{a:.4f}" for a in s["accuracy_runs"]),
                f"{s['log_loss_mean']:.4f}",
                f"{s['predict_s']:.3f}",
                f"{s['peak_rss_mb']:.0f}",
            ]
        )
    header = ["contender", "fit s", "ratio to (a)", "ratio to (e)", "% of GEMM"]
    header += ["epoch s (first, later)", "test acc (mean, min)", "test acc per seed"]
    header += ["log loss", "predict s", "peak RSS MB"]
    gemm = _common.fmt(summary["gemm_gflops"], ".0f")
    lines = _common.head(
        report,
        "skmnist benchmark",
        f"Real MNIST: {cfg['n_train']:,} training images ((a), (b), (d), (e) hold "
        f"out 10% for validation), {cfg['n_test']:,} test images; epochs "
        f"{cfg['epochs']}, batch {cfg['batch_size']}; seeds "
        f"{', '.join(map(str, cfg['seeds']))}; a fresh process per fit. GEMM ceiling "
        f"(TensorFlow float32 matmul): {gemm} GFLOP/s. (e): "
        f"{summary['floor'] or 'not run'}, the faster bare loop.",
    )
    lines += [
        _common.table(header, rows),
        "",
        "Medians over seeds; ratios paired per seed. Columns: benchmarks/README.md.",
    ]
    return "\n".join(lines + _common.tail(report)) + "\n"


def describe(r):
    head = f"  {r['name']:<6} seed {r['seed']}"
    if not r.get("ok"):
        return f"{head}  FAILED: {r['error']}"
    if r["name"] == "gemm":
        return f"{head}  {r['gflops']:.0f} GFLOP/s at {r['size']}^3"
    return (
        f"{head}  fit {r['fit_s']:.1f} s, test acc {r['test_accuracy']:.4f}, log loss "
        f"{r['log_loss']:.4f}, predict {r['predict_s']:.3f} s, "
        f"RSS {r['peak_rss_mb']:.0f} MB ({r['elapsed_s']:.0f} s in all)"
    )


def main(argv=None):
    parser = _common.parser(__doc__)
    parser.add_argument("--contenders", default=",".join(LABELS))
    parser.add_argument("--repeats", type=int, help="seeds per contender (3; small 1)")
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument("--epochs", type=int, help="epochs (20; small 2)")
    parser.add_argument("--n-train", type=int, help="first N training images")
    parser.add_argument("--n-test", type=int, help="first N test images")
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument(
        "--epoch-times",
        action="store_true",
        help="time (b)'s and (d)'s epochs with a Keras callback (which makes them "
        "sync their weights once an epoch: a diagnostic, off for the targets)",
    )
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    # "e" is (b)'s own floor, the bare loop on TensorFlow: ``--contenders b,e``.
    text = ",".join(
        "e-tf" if n.strip() == "e" else n for n in args.contenders.split(",")
    )
    contenders = _common.names(parser, text, LABELS, "--contenders")
    small = args.small
    cfg = {
        "size": "small" if small else "full",
        "contenders": contenders,
        "epochs": args.epochs or (2 if small else 20),
        # Without --epochs, (b) and (d) keep skmnist's default (20) at full size.
        "default_epochs": args.epochs is None and not small,
        "n_train": min(args.n_train or (2000 if small else 60000), 60000),
        "n_test": min(args.n_test or (2000 if small else 10000), 10000),
        "hidden_size": args.hidden_size,
        "batch_size": 128,
        "epoch_times": args.epoch_times,
        "gemm_size": 1024 if small else 4096,
    }
    repeats = args.repeats or (1 if small else 3)
    cfg["seeds"] = list(range(args.seed, args.seed + repeats))
    report, t0 = _common.start(__file__, argv)
    runs = []
    for rep, seed in enumerate(cfg["seeds"]):
        for name in ["gemm", *contenders]:
            child = {**cfg, "name": name, "seed": seed}
            r = _common.fresh(__file__, child, BACKENDS.get(name), args.timeout)
            runs.append({**r, "name": name, "seed": seed, "rep": rep})
            print(describe(runs[-1]), flush=True)
    summary = summarize(runs, contenders)
    report.update(config=cfg, summary=summary, runs=runs)
    report["targets"] = targets(summary, enforced=not small)
    stem = "run_small" if small else "run"
    return _common.finish(report, t0, args.out, stem, markdown)


if __name__ == "__main__":
    _common.entry(main, measure)
