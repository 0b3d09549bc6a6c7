"""The scikit-learn estimators: MNISTClassifier (its parameters, their checks,
the scikit-learn protocol), FlattenScaler and make_mnist_pipeline.
"""
