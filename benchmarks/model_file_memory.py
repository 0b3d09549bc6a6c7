"""Peak memory of ``skmnist info`` and ``skmnist predict`` on a large model file.

Usage::

    python benchmarks/model_file_memory.py [--hidden-size 2770] [--layers 3]
        [--code DIR ...] [--out DIR]

Makes a model file of about 200 MiB (784 -> 3 x 2770 -> 10, Adam's state
included: an initialized MNISTClassifier, no training) and a tiny one of the
same kind, then runs each command on each in a fresh process and reads its
peak resident memory (GNU ``/usr/bin/time -f %M``). The cost of the file is
the difference between the two (the interpreter, NumPy and skmnist's imports
cancel out), reported as a multiple of the file's size: the reader is meant
to hold the file's contents about once (target: at most 1.5x). ``--code``
names other checkouts of skmnist to measure side by side (e.g. an older
commit's worktree): each is put first on ``PYTHONPATH`` of its runs. Writes
``model_file_memory.json`` to ``--out`` (default: benchmarks/results).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


_MAKE = """
import sys
import numpy as np
from skmnist import MNISTClassifier, save_model
path, hidden_size, layers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
X = np.zeros((10, 784), np.float32)
clf = MNISTClassifier(hidden_size=hidden_size, n_hidden_layers=layers, random_state=0)
save_model(clf.initialize(X, np.arange(10)), path)
"""


def _make(path, hidden_size, layers):
    # In a child: Keras's memory stays out of this process.
    argv = [sys.executable, "-c", _MAKE, path, str(hidden_size), str(layers)]
    subprocess.run(argv, check=True, stderr=subprocess.DEVNULL)


def _peak_mb(code, argv):
    """Peak RSS (MiB) of ``python -m skmnist ARGV`` run on the skmnist in `code`,
    as GNU time reports it (its own small process forks the command)."""
    env = dict(os.environ, PYTHONPATH=code)
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "skmnist", *argv],
        env=env,
        cwd=os.path.dirname(argv[1]),  # python -m puts the folder it runs in first
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed: {proc.stderr[-500:]}")
    return int(proc.stderr.strip().splitlines()[-1]) / 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden-size", type=int, default=2770)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--code", action="append", default=[], metavar="DIR")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="skmnist-memory-")
    big, tiny = (
        os.path.join(folder, "big.skmnist"),
        os.path.join(folder, "tiny.skmnist"),
    )
    _make(big, args.hidden_size, args.layers)
    _make(tiny, 8, args.layers)
    images = os.path.join(folder, "digits.npy")
    np.save(images, np.zeros((100, 28, 28), np.uint8))
    size_mb = os.path.getsize(big) / 2**20
    print(f"model file: {size_mb:.1f} MiB ({args.layers} x {args.hidden_size})")
    rows = []
    for code in [REPO, *args.code]:
        for command in ("info", "predict"):
            extra = [images] if command == "predict" else []
            peaks = [_peak_mb(code, [command, path, *extra]) for path in (tiny, big)]
            ratio = (peaks[1] - peaks[0]) / size_mb
            rows.append(
                dict(code=code, command=command, tiny_mib=peaks[0], big_mib=peaks[1])
            )
            rows[-1]["ratio"] = ratio
            print(
                f"{code}: {command}: peak RSS {peaks[1]:.0f} MiB (tiny file "
                f"{peaks[0]:.0f} MiB): the file costs {ratio:.2f}x its size"
            )
    os.makedirs(args.out, exist_ok=True)
    report = dict(file_mib=size_mb, hidden_size=args.hidden_size, rows=rows)
    report["loadavg"] = os.getloadavg()
    with open(os.path.join(args.out, "model_file_memory.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
