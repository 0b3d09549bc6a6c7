"""Fitted models in other formats: ONNX (:func:`skmnist.export_onnx`) and
skl2onnx's converters of skmnist's estimators. Sits above ``modelfile/``."""
