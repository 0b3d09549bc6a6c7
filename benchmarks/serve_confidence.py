"""How often the page's "not sure" / "may not be a digit" signals fire.

Usage::

    python benchmarks/serve_confidence.py              # trains a model (a few minutes)
    python benchmarks/serve_confidence.py --model m.skmnist
    python benchmarks/serve_confidence.py --small      # smoke test: sample data

Measures the two signals of ``skmnist serve`` (``skmnist/serve/_confidence.py``)
on what the page sends: each image is drawn as dark ink on a white 112x112
picture (as the page's drawing pad sends it) and converted as the service
converts pictures (:func:`skmnist.digit_to_mnist`):

- digits: MNIST's 10,000 test digits (``--small``: the sample's 500);
- non-digits: scribbles made with NumPy (random walks, zigzags, crossed loops,
  filled blobs, dots) and letters rendered from the TrueType fonts Debian ships
  (DejaVu, Liberation), leaving out the letters that are written like digits
  (O, o, D, Q: 0; I, l, i, j: 1; Z, z: 2; S, s: 5; b, G: 6; B: 8; g, q: 9).

The ink ranges (amount, spread, stroke width) are the 0.1% and 99.9%
quantiles of 10,000 held-out MNIST training digits (converted the same way);
the "not sure" threshold is the top probability below which about 1% of them
fall, rounded down to 0.05.
The model (unless ``--model``) is the reference network, 784-512-512-10,
trained 5 epochs on MNIST's first 50,000 training digits.

Targets (issue 20): the signals flag at most 2% of the test digits and at least
60% of the non-digits. Writes ``serve_confidence.json`` and ``.md`` into
``--out`` (``benchmarks/results``).
"""

import argparse
import glob
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

import _common  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

LOOKALIKES = set("OoDQIlijZzSsbGBgq")
LETTERS = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"]
LETTERS = [c for c in LETTERS if c not in LOOKALIKES]
FONT_GLOBS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
)
SIDE = 280  # the page's pad
SEND = 112  # what the page sends
PEN = 20  # the page's default pen width on the pad
INK_QUANTILE = 0.001  # each ink range leaves out this much of MNIST on each side
UNSURE_QUANTILE = 0.01  # the share of held-out digits below "not sure"


def to_page_image(pad):
    """A 280x280 grayscale pad (dark ink on white), as the service reads it."""
    from skmnist import digit_to_mnist

    small = pad.resize((SEND, SEND), Image.Resampling.LANCZOS)
    return digit_to_mnist(np.asarray(small))


def digit_pad(image):
    """An MNIST digit drawn on the pad: dark on white, fitted as a hand draws."""
    pad = Image.fromarray(255 - image).resize((SIDE, SIDE), Image.Resampling.BILINEAR)
    return pad


def scribbles(n, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        pad = Image.new("L", (SIDE, SIDE), 255)
        draw = ImageDraw.Draw(pad)
        kind = k % 5
        width = int(rng.integers(10, 30))
        if kind == 0:  # random walk
            points = np.cumsum(rng.normal(0, 35, size=(int(rng.integers(6, 20)), 2)), 0)
            points = points - points.mean(0) + SIDE / 2
        elif kind == 1:  # zigzag
            m = int(rng.integers(3, 8))
            xs = np.linspace(40, 240, 2 * m)
            ys = np.where(np.arange(2 * m) % 2, 60, 220) + rng.normal(0, 10, 2 * m)
            points = np.stack([xs, ys], 1)
        elif kind == 2:  # crossed loops
            t = np.linspace(0, 2 * np.pi * rng.integers(2, 4), 80)
            r = 60 + 40 * rng.random()
            points = np.stack(
                [140 + r * np.cos(t) + 30 * np.cos(3 * t), 140 + r * np.sin(2 * t)], 1
            )
        elif kind == 3:  # filled blob
            c = rng.uniform(90, 190, 2)
            r = rng.uniform(40, 90)
            draw.ellipse([c[0] - r, c[1] - r * 0.8, c[0] + r, c[1] + r * 0.8], fill=0)
            points = None
        else:  # scattered dots and dashes
            points = None
            for _ in range(int(rng.integers(4, 12))):
                x, y = rng.uniform(30, 250, 2)
                dx, dy = rng.normal(0, 15, 2)
                draw.line([x, y, x + dx, y + dy], fill=0, width=width)
        if points is not None:
            draw.line([tuple(p) for p in points], fill=0, width=width, joint="curve")
        out.append(pad)
    return out


def letters():
    out, names = [], []
    for path in FONT_GLOBS:
        for found in glob.glob(path):
            font = ImageFont.truetype(found, 200)
            for letter in LETTERS:
                pad = Image.new("L", (SIDE, SIDE), 255)
                draw = ImageDraw.Draw(pad)
                draw.text((SIDE / 2, SIDE / 2), letter, fill=0, font=font, anchor="mm")
                out.append(pad)
                names.append(f"{os.path.basename(found)}:{letter}")
    return out, names


def convert(pads):
    return np.stack([to_page_image(p) for p in pads])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="a .skmnist file (else one is trained)")
    parser.add_argument("--small", action="store_true", help="sample data, smoke test")
    parser.add_argument("--out", default=_common.RESULTS)
    parser.add_argument("--save-model", help="save the trained model here")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    from skmnist import load_mnist_sample, load_model, make_mnist_pipeline
    from skmnist.serve import _confidence as conf

    if args.small:
        X, y = load_mnist_sample(return_X_y=True)
        Xt, yt = load_mnist_sample(subset="test", return_X_y=True)
        fit, held = slice(0, 1500), slice(1500, 2000)
    else:
        data = np.load(os.path.join(_data_home(), "mnist.npz"))
        X, y, Xt, yt = (data[k] for k in ("x_train", "y_train", "x_test", "y_test"))
        fit, held = slice(0, 50000), slice(50000, 60000)
    if args.model:
        model = load_model(args.model)
    else:
        epochs = 2 if args.small else 5
        hidden = 64 if args.small else 512
        model = make_mnist_pipeline(hidden_size=hidden, epochs=epochs, random_state=0)
        model.fit(X[fit], y[fit])
        if args.save_model:
            from skmnist import save_model

            save_model(model, args.save_model)

    calib = convert(digit_pad(image) for image in X[held])
    tests = convert(digit_pad(image) for image in Xt)
    pads = scribbles(100 if not args.small else 20)
    letter_pads, letter_names = letters()
    if args.small:
        letter_pads, letter_names = letter_pads[::5], letter_names[::5]
    scrib = convert(pads)
    lett = convert(letter_pads)

    features = conf.ink_features(calib)
    ranges = {
        name: (
            float(np.quantile(v, INK_QUANTILE)),
            float(np.quantile(v, 1 - INK_QUANTILE)),
        )
        for name, v in features.items()
    }
    p_calib = model.predict_proba(calib).max(axis=1)
    threshold = float(np.floor(np.quantile(p_calib, UNSURE_QUANTILE) * 20) / 20)

    def rates(images, labels=None):
        proba = model.predict_proba(images)
        unsure = conf.not_sure(proba, threshold)
        odd = conf.unlike_digits(images, ranges)
        result = {
            "n": len(images),
            "not_sure": float(unsure.mean()),
            "unlike_digits": float(odd.mean()),
            "flagged": float((unsure | odd).mean()),
            "flagged_with_module_constants": float(
                (conf.not_sure(proba) | conf.unlike_digits(images)).mean()
            ),
        }
        if labels is not None:
            right = model.classes_[proba.argmax(1)] == labels
            result["accuracy"] = float(right.mean())
            result["flagged_among_wrong"] = float((unsure | odd)[~right].mean())
        return result

    report = {
        "machine": _common.machine(),
        "settings": {"small": args.small, "model": args.model or "trained here"},
        "threshold_not_sure": threshold,
        "ink_ranges": ranges,
        "module_constants": {
            "SURE_PROBABILITY": conf.SURE_PROBABILITY,
            "INK_RANGES": conf.INK_RANGES,
        },
        "test_digits": rates(tests, yt),
        "scribbles": rates(scrib),
        "letters": rates(lett),
        "seconds": round(time.monotonic() - t0, 1),
    }
    both = np.concatenate([scrib, lett])
    report["non_digits"] = rates(both)
    stem = "serve_confidence_small" if args.small else "serve_confidence"
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, stem + ".json"), "w") as f:
        json.dump(report, f, indent=2, default=str)
    lines = [
        "# The page's confidence signals (`benchmarks/serve_confidence.py`)",
        "",
        f"{_common.machine_text(report['machine'])}; shared with other "
        "agents' jobs (not quiet); timings are not the point here.",
        "",
        f'"Not sure" below a top probability of {threshold:.2f}; ink ranges '
        + ", ".join(f"{k} {lo:.2f}-{hi:.2f}" for k, (lo, hi) in ranges.items())
        + ".",
        "",
        "| images | n | not sure | unlike digits | flagged (either) |",
        "|---|---:|---:|---:|---:|",
    ]
    for key in ("test_digits", "scribbles", "letters", "non_digits"):
        r = report[key]
        lines.append(
            f"| {key.replace('_', ' ')} | {r['n']:,} | {r['not_sure']:.1%} | "
            f"{r['unlike_digits']:.1%} | {r['flagged']:.1%} |"
        )
    t = report["test_digits"]
    lines += [
        "",
        f"Test accuracy {t['accuracy']:.2%}; of the wrong answers "
        f"{t['flagged_among_wrong']:.0%} are flagged.",
        "Targets: test digits flagged <= 2%; non-digits flagged >= 60%.",
    ]
    with open(os.path.join(args.out, stem + ".md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps({"threshold": threshold, "ranges": ranges}))
    return 0


def _data_home():
    return os.environ.get("SKMNIST_DATA_HOME", "/work/shared/data")


if __name__ == "__main__":
    sys.exit(main())
