"""
===========================================
Export a fitted pipeline to ONNX and run it
===========================================

:func:`skmnist.export_onnx` (or ``skmnist export MODEL.skmnist OUT.onnx``)
writes a fitted pipeline, its :class:`~skmnist.FlattenScaler` included, as one
ONNX file that `onnxruntime <https://onnxruntime.ai>`_ runs without skmnist,
TensorFlow or scikit-learn. Its input ``X`` takes float32 images in the
pixel convention seen in fit (0-255 here); its outputs are ``label`` and
``probabilities``. A pipeline of scikit-learn steps around an
:class:`~skmnist.MNISTClassifier` converts with ``skl2onnx.to_onnx``.

This example needs the ``onnx`` extra (``pip install "skmnist[onnx]"``).
"""

# The docs build does not run this script; its card shows the pipeline it
# exports, as the pipeline example draws it.
# sphinx_gallery_thumbnail_path = "auto_examples/images/sphx_glr_plot_pipeline_001.png"

import os
import tempfile

import numpy as np
import onnxruntime

from skmnist import (
    export_onnx,
    fetch_mnist,
    load_predictor,
    make_mnist_pipeline,
    save_model,
)

X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
X_test, y_test = fetch_mnist(subset="test", return_X_y=True)

# Narrower and shorter than the tutorial's model (see train_mnist.py): what is
# shown here is the export, which takes any fitted pipeline.
pipe = make_mnist_pipeline(hidden_size=128, epochs=5, random_state=0)
pipe.fit(X_train, y_train)

with tempfile.TemporaryDirectory() as folder:
    model_path = os.path.join(folder, "digits.skmnist")
    onnx_path = os.path.join(folder, "digits.onnx")
    save_model(pipe, model_path)
    export_onnx(model_path, onnx_path)  # or export_onnx(pipe, onnx_path)
    print(f"digits.onnx: {os.path.getsize(onnx_path):,} bytes")

    # What a deployment runs: onnxruntime and NumPy.
    session = onnxruntime.InferenceSession(onnx_path)
    print("input:", [(i.name, i.shape, i.type) for i in session.get_inputs()])
    print("outputs:", [(o.name, o.shape, o.type) for o in session.get_outputs()])
    label, proba = session.run(None, {"X": X_test.astype(np.float32)})

    light = load_predictor(model_path)
    gap = np.abs(proba - light.predict_proba(X_test)).max()
    print(f"largest gap to load_predictor's probabilities: {gap:.1e}")
    same = bool((label == light.predict(X_test)).all())
    print(f"same labels as load_predictor: {same}")
print(f"test accuracy of the ONNX model: {np.mean(label == y_test):.4f}")
