"""The light predictor against the full estimator: ``skmnist predict`` and ``serve``.

Usage::

    flock /work/bench.lock python benchmarks/predict_light.py [--repeats 3]

Side by side in one run, each measurement in a fresh process, light and full
alternating:

- ``python -c "import tensorflow"``: the floor of any prediction that starts
  TensorFlow;
- ``skmnist predict MODEL digit.png`` (one 112x112 PNG, dark ink on white) and
  ``skmnist predict MODEL digits.npy`` (the 10,000 MNIST test images where
  ``SKMNIST_DATA_HOME`` holds MNIST, else the packaged 500 tiled to 10,000):
  wall time and peak RSS; the light and full outputs must be identical;
- ``skmnist serve MODEL --port 0``: time from start to the first answer of
  ``POST /predict``, and the resident memory once idle after it.

"Full" is the same command with the model loaded by :func:`skmnist.load_model`
(Keras), as before the light path: ``skmnist.modelfile._image_model.load_image_model``
called with ``light=False``. The model is the reference network
(784-512-512-10) trained for one epoch on the packaged sample. Writes
``results/predict_light.json`` and ``.md``.
"""

import argparse
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
import numpy as np  # noqa: E402

# The command line as a child; with "full", its model loaded as before.
_CLI = (
    "import sys\n"
    "import skmnist._frontend as m\n"
    "if sys.argv[1] == 'full':\n"
    "    load = m.load_image_model\n"
    "    m.load_image_model = lambda p, allow_pickle, light=False: load(\n"
    "        p, allow_pickle=allow_pickle)\n"
    "from skmnist.cli import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def _measured(argv):
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, argv
    return wall, usage.ru_maxrss / 1024, out


def _rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _serve(kind, model, png):
    """(seconds to the first answer, idle RSS in MB) of a fresh service."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLI, kind, "serve", model, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = line.split(" at ")[1].split()[0]
        request = urllib.request.Request(
            url + "predict", data=png, headers={"Content-Type": "image/png"}
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            json.load(answer)
        first = time.perf_counter() - start
        time.sleep(2.0)  # idle
        return first, _rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def _inputs(folder):
    from PIL import Image

    import skmnist

    X, _ = skmnist.load_mnist_sample(subset="test", return_X_y=True)
    source = "the packaged 500 test images, tiled"
    try:
        X = skmnist.fetch_mnist(subset="test", download_if_missing=False).data
        source = "the 10,000 MNIST test images"
    except OSError:
        X = np.concatenate([X] * 20)
    npy = os.path.join(folder, "digits.npy")
    np.save(npy, X[:10_000])
    paper = Image.fromarray(255 - X[0]).resize((112, 112))
    buffer = io.BytesIO()
    paper.save(buffer, format="PNG")
    png = os.path.join(folder, "digit.png")
    with open(png, "wb") as f:
        f.write(buffer.getvalue())
    return png, npy, buffer.getvalue(), source


def _median(values):
    return round(statistics.median(values), 3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=_common.RESULTS)
    parser.add_argument(
        "--small",
        action="store_true",
        help="smoke test: one repeat, a 64-unit network, predict_light_small.*",
    )
    args = parser.parse_args(argv)
    repeats = 1 if args.small else args.repeats
    stem = "predict_light_small" if args.small else "predict_light"
    machine = _common.machine()
    with tempfile.TemporaryDirectory() as folder:
        model = os.path.join(folder, "reference.skmnist")
        train = [sys.executable, "-m", "skmnist", "train", "--sample", "--epochs"]
        train += ["1", "--random-state", "0", "--verbose", "0", "--out", model]
        train += ["--hidden-size", "64"] if args.small else []
        subprocess.run(train, check=True, capture_output=True)
        png, npy, png_bytes, source = _inputs(folder)
        runs = {key: [] for key in ("tf", "png", "npy", "serve")}
        outputs = {}
        for _ in range(repeats):
            wall, rss, _ = _measured([sys.executable, "-c", "import tensorflow"])
            runs["tf"].append({"wall": wall, "rss": rss})
            for kind in ("light", "full"):
                for name, path in (("png", png), ("npy", npy)):
                    cli = [sys.executable, "-c", _CLI, kind, "predict", model, path]
                    wall, rss, out = _measured(cli)
                    runs[name].append({"kind": kind, "wall": wall, "rss": rss})
                    outputs.setdefault((name, kind), out)
                first, idle = _serve(kind, model, png_bytes)
                runs["serve"].append({"kind": kind, "first": first, "rss": idle})
    same = all(
        outputs[name, "light"] == outputs[name, "full"] for name in ("png", "npy")
    )
    machine["loadavg_end"] = _common.loadavg()

    def med(name, kind, key):
        return _median([r[key] for r in runs[name] if r.get("kind") == kind])

    tf_wall = _median([r["wall"] for r in runs["tf"]])
    summary = {
        "import_tensorflow": {
            "wall_s": tf_wall,
            "peak_rss_mb": _median([r["rss"] for r in runs["tf"]]),
        },
        "outputs_identical": same,
        "npy_source": source,
    }
    for kind in ("light", "full"):
        summary[kind] = {
            "png_wall_s": med("png", kind, "wall"),
            "png_peak_rss_mb": med("png", kind, "rss"),
            "npy_wall_s": med("npy", kind, "wall"),
            "npy_peak_rss_mb": med("npy", kind, "rss"),
            "serve_first_answer_s": med("serve", kind, "first"),
            "serve_idle_rss_mb": med("serve", kind, "rss"),
        }
    light = summary["light"]
    summary["targets"] = {
        "png_wall_over_tf_import <= 0.15": round(light["png_wall_s"] / tf_wall, 3),
        "png_peak_rss_mb <= 200": light["png_peak_rss_mb"],
        "serve_first_answer_s <= 1.5": light["serve_first_answer_s"],
        "serve_idle_rss_mb <= 250": light["serve_idle_rss_mb"],
    }
    report = {"machine": machine, "repeats": repeats, "summary": summary}
    report["small"] = args.small
    report["runs"] = runs
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"{stem}.json"), "w") as f:
        json.dump(report, f, indent=1)
    text = _markdown(report)
    with open(os.path.join(args.out, f"{stem}.md"), "w") as f:
        f.write(text)
    print(text)


def _markdown(report):
    s, m = report["summary"], report["machine"]
    light, full, tf = s["light"], s["full"], s["import_tensorflow"]
    width = 64 if report.get("small") else 512
    rows = [
        ("`skmnist predict` one PNG: wall (s)", "png_wall_s"),
        ("`skmnist predict` one PNG: peak RSS (MB)", "png_peak_rss_mb"),
        ("`skmnist predict` 10,000 .npy digits: wall (s)", "npy_wall_s"),
        ("`skmnist predict` 10,000 .npy digits: peak RSS (MB)", "npy_peak_rss_mb"),
        ("`skmnist serve`: start to first answer (s)", "serve_first_answer_s"),
        ("`skmnist serve`: idle RSS (MB)", "serve_idle_rss_mb"),
    ]
    lines = [
        "# Light predictor vs full estimator (benchmarks/predict_light.py)",
        "",
        f"Machine: {m['cpu_model']}, {m['cpus_usable']} usable CPUs; load average "
        f"{m['loadavg']} at the start, {m['loadavg_end']} at the end (a shared "
        "machine: other agents were working on it). Medians of "
        f"{report['repeats']} fresh processes each, light and full alternating. "
        f"Model: 784-{width}-{width}-10, one epoch on the packaged sample. .npy input: "
        f"{s['npy_source']}.",
        "",
        "| measurement | light (NumPy) | full (TensorFlow) |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {text} | {_shown(key, light[key])} | {_shown(key, full[key])} |"
        for text, key in rows
    ]
    lines += [
        "",
        f'`python -c "import tensorflow"` in the same run: {tf["wall_s"]:.2f} s, '
        f"{tf['peak_rss_mb']:.0f} MB peak RSS.",
        "",
        f"Light and full outputs identical (PNG and 10,000 digits): "
        f"{s['outputs_identical']}.",
        "",
        "Targets (issue 19): "
        + "; ".join(f"{key}: {value}" for key, value in s["targets"].items())
        + ".",
        "",
    ]
    return "\n".join(lines)


def _shown(key, value):
    return f"{value:.0f}" if key.endswith("_mb") else f"{value:.2f}"


if __name__ == "__main__":
    main()
