"""MNISTClassifier: the Keras MNIST perceptron as a scikit-learn classifier."""

import math
from numbers import Integral, Real

import keras
import numpy as np
from scikeras.utils.transformers import ClassifierLabelEncoder
from scikeras.wrappers import KerasClassifier
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import ClassifierTags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._compat import draw_seed, limit_tensorflow_threads, seeded
from ._model import build_mlp, make_optimizer

__all__ = ["MNISTClassifier"]

# XLA compiling costs 1-2 s per fit on the CPU and saves ~40% of training time:
# worth it from about this many (steps x parameters) on.
_XLA_MIN_PARAMETER_UPDATES = 1e9
# Rows per compiled prediction call: large enough to amortise the call, small
# enough to bound the activations' memory (8192 x 512 floats = 16 MiB a layer).
_PREDICT_CHUNK = 8192


class MNISTClassifier(KerasClassifier):
    """The Keras MNIST multilayer perceptron as a scikit-learn classifier.

    A feed-forward network: the input rows -> ``n_hidden_layers`` dense layers of
    ``hidden_size`` units (``activation``, optional dropout) -> a softmax layer with
    one unit per class, trained with cross-entropy. The defaults are the model of
    the classic Keras MNIST tutorial: 784 -> 512 ReLU -> 512 ReLU -> 10 softmax,
    Adam (learning rate 1e-3), batches of 128, 20 epochs, 10% of the training set
    held out for validation, which reaches a test accuracy of about 0.982 on MNIST.

    ``MNISTClassifier`` derives from :class:`scikeras.wrappers.KerasClassifier` and
    closes the gaps between scikeras 0.13 and scikit-learn >= 1.6: it is a
    classifier to :func:`sklearn.base.is_classifier` (so cross-validation is
    stratified), validates input with :func:`sklearn.utils.validation.validate_data`,
    seeds training without leaking global TensorFlow state, and holds out a
    stratified validation set instead of Keras's last rows.

    The input width comes from the data (``n_features_in_``) and the output width
    from the classes seen in ``fit``; feed it flattened images scaled to [0, 1],
    e.g. through :class:`skmnist.FlattenScaler` (see
    :func:`skmnist.make_mnist_pipeline`).

    Parameters
    ----------
    hidden_size : int, default=512
        Number of units in each hidden layer.

    n_hidden_layers : int, default=2
        Number of hidden layers.

    activation : str, default="relu"
        Activation function of the hidden layers: any name Keras knows
        (``"relu"``, ``"tanh"``, ``"gelu"``, ...).

    dropout : float, default=0.0
        Dropout rate applied after each hidden layer during training; 0 adds no
        dropout layer.

    optimizer : str or keras.optimizers.Optimizer, default="adam"
        A Keras optimizer name, built with ``learning_rate``; or an optimizer
        instance, which is copied from its config for each fit (its own learning
        rate is used and ``learning_rate`` is ignored).

    learning_rate : float, default=1e-3
        Learning rate of an optimizer given by name.

    epochs : int, default=20
        Number of passes over the training data (fewer with ``early_stopping``).

    batch_size : int, default=128
        Number of samples per gradient update, and per prediction batch.

    validation_split : float, default=0.1
        Fraction of the training data held out to report ``val_loss`` and
        ``val_accuracy`` in ``history_`` (and to stop early). The held-out set is
        stratified by class and shuffled, seeded by ``random_state``, as
        :class:`~sklearn.neural_network.MLPClassifier` does for early stopping,
        so data sorted by class still validates on every class. 0 trains on all
        the data.

    early_stopping : bool, default=False
        Whether to stop training when the validation loss has not improved for
        ``patience`` epochs, and then restore the weights of the best epoch.
        Needs ``validation_split > 0``.

    patience : int, default=5
        Number of epochs without improvement of the validation loss after which
        training stops, when ``early_stopping`` is True.

    shuffle : bool, default=True
        Whether to shuffle the training data before each epoch.

    class_weight : dict, "balanced" or None, default=None
        Weights associated with classes, as in scikit-learn; "balanced" weights
        classes inversely to their frequency. Multiplied into ``sample_weight``.

    callbacks : list of keras.callbacks.Callback, default=None
        Extra Keras callbacks for ``fit``.

    warm_start : bool, default=False
        When True, a new call to ``fit`` continues training the existing network
        instead of building a new one.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, the validation split, batch shuffling and
        dropout. An int gives identical models across fits and processes on the
        same machine; a ``RandomState`` gives a seed drawn from it. Python's,
        NumPy's, TensorFlow's and Keras's global random state are restored after
        fit, and TensorFlow's op determinism setting is never changed.
        See :term:`Glossary <random_state>`.

    verbose : int, default=0
        Verbosity of training: 0 is silent, 1 shows Keras's progress bars, 2 one
        line per epoch. Prediction is always silent.

    jit_compile : "auto" or bool, default="auto"
        Whether training steps are compiled with XLA. XLA does not change the
        model and trains markedly faster on the CPU (where Keras leaves it off),
        but compiling costs a second or two per fit. "auto" uses it on the
        TensorFlow backend when a fit is large enough to repay that (about 1e9
        parameter updates: the reference fit on full MNIST makes 5.7e9), and
        always on JAX, which needs it. Prediction never uses XLA: it is too
        short to repay compiling.

    steps_per_execution : "epoch" or int, default="epoch"
        Number of batches Keras runs per compiled call. "epoch" runs a whole epoch
        per call, as one uninterrupted stream of batches across epochs (Keras
        otherwise restarts its input pipeline each epoch, which stalls the start
        of many epochs). The batches and so the model are the same whatever the
        value; batch-level callbacks, and Keras's progress bar with ``verbose=1``,
        are updated once per call, so pass e.g. 32 to watch an epoch progress.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.

    n_classes_ : int
        Number of classes.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``. Defined only when `X` has feature
        names that are all strings.

    model_ : keras.Model
        The trained Keras model.

    history_ : dict of str to list of float
        Per-epoch training history: ``"loss"`` and ``"accuracy"``, and with a
        validation split ``"val_loss"`` and ``"val_accuracy"``.

    n_iter_ : int
        Number of epochs actually run.

    best_epoch_ : int
        Index into ``history_`` of the epoch with the lowest validation loss,
        whose weights the model holds. Only set when ``early_stopping`` is True.

    See Also
    --------
    skmnist.make_mnist_pipeline : FlattenScaler followed by MNISTClassifier.
    sklearn.neural_network.MLPClassifier : scikit-learn's own multilayer perceptron.

    Examples
    --------
    >>> from skmnist import MNISTClassifier, load_mnist_sample
    >>> X, y = load_mnist_sample(return_X_y=True)
    >>> X = X.reshape(len(X), -1) / 255.0
    >>> clf = MNISTClassifier(hidden_size=64, epochs=3, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> clf.predict_proba(X[:3]).shape
    (3, 10)
    >>> len(clf.history_["val_loss"])
    3
    """

    _parameter_constraints = {
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "n_hidden_layers": [Interval(Integral, 0, None, closed="left")],
        "activation": [str],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "optimizer": [str, keras.optimizers.Optimizer],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "validation_split": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "patience": [Interval(Integral, 0, None, closed="left")],
        "shuffle": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "callbacks": [list, None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "jit_compile": ["boolean", StrOptions({"auto"})],
        "steps_per_execution": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"epoch"}),
        ],
    }

    # scikeras's own __init__ is not called: it would set its model-building
    # parameters (model, loss, metrics, ...) as attributes that are not ours.
    def __init__(
        self,
        hidden_size=512,
        n_hidden_layers=2,
        activation="relu",
        dropout=0.0,
        optimizer="adam",
        learning_rate=1e-3,
        epochs=20,
        batch_size=128,
        validation_split=0.1,
        early_stopping=False,
        patience=5,
        shuffle=True,
        class_weight=None,
        callbacks=None,
        warm_start=False,
        random_state=None,
        verbose=0,
        jit_compile="auto",
        steps_per_execution="epoch",
    ):
        self.hidden_size = hidden_size
        self.n_hidden_layers = n_hidden_layers
        self.activation = activation
        self.dropout = dropout
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.patience = patience
        self.shuffle = shuffle
        self.class_weight = class_weight
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.jit_compile = jit_compile
        self.steps_per_execution = steps_per_execution

    # -- scikit-learn protocol ---------------------------------------------------

    # scikeras lists parameters from the instance's __dict__; scikit-learn (and
    # clone, get_params, GridSearchCV) read them from the __init__ signature.
    _get_param_names = classmethod(BaseEstimator._get_param_names.__func__)
    __repr__ = BaseEstimator.__repr__
    score = ClassifierMixin.score

    def __sklearn_tags__(self):
        # BaseEstimator precedes ClassifierMixin in scikeras's MRO and does not
        # call super(), so the classifier tags must be set here.
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags(poor_score=True)
        tags.target_tags.required = True
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    # -- fitting -------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Build the network and train it on (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows, e.g. flattened images scaled to [0, 1].
        y : array-like of shape (n_samples,)
            Class labels of any type (ints, strings, ...).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the training loss.

        Returns
        -------
        self : MNISTClassifier
            The fitted classifier.
        """
        self._validate_params()
        if self.early_stopping and self.validation_split == 0:
            raise ValueError(
                "early_stopping=True needs held-out data to watch, but "
                "validation_split=0.0; set validation_split > 0 (e.g. 0.1)."
            )
        with self._fit_context():
            # KerasClassifier multiplies class weights into sample_weight in place:
            # hand it our own copy, never the caller's array.
            super().fit(X, y, sample_weight=_copy_weights(sample_weight))
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch, building the network on the first call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            All classes that may appear in any call; needed on the first call when
            this batch does not hold every class.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the training loss.

        Returns
        -------
        self : MNISTClassifier
            The updated classifier.
        """
        self._validate_params()
        with self._fit_context():
            super().partial_fit(
                X, y, classes=classes, sample_weight=_copy_weights(sample_weight)
            )
        return self

    def _fit_context(self):
        limit_tensorflow_threads()
        self._fit_seed = draw_seed(self.random_state)
        return seeded(self._fit_seed)

    def _initialize(self, X, y=None):
        X, y = super()._initialize(X, y)
        # Seeding is done by `seeded` around the whole fit; scikeras's own seeding
        # (keyed on this attribute) would switch TensorFlow's op determinism on.
        self._random_state = None
        return X, y

    @property
    def target_encoder(self):
        """Label encoder from the user's labels to the network's class indices."""
        categories = "auto" if self.classes_ is None else [self.classes_]
        return ClassifierLabelEncoder(
            loss="sparse_categorical_crossentropy", categories=categories
        )

    def _network(self, seed=None):
        """The uncompiled network these hyperparameters and fitted widths give."""
        return build_mlp(
            self.n_features_in_,
            self.n_classes_,
            hidden_size=self.hidden_size,
            n_hidden_layers=self.n_hidden_layers,
            activation=self.activation,
            dropout=self.dropout,
            seed=seed,
        )

    def _build_keras_model(self):
        model = self._network(seed=self._fit_seed)
        model.compile(
            optimizer=make_optimizer(self.optimizer, self.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            # XLA is switched on per fit in _fit_keras_model, never for predict.
            jit_compile=False,
        )
        return model

    def _fit_keras_model(
        self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs
    ):
        # Keras's own validation_split takes the last rows, which for data sorted
        # by class validates on the last class only: hold out a stratified set.
        kwargs["validation_split"] = 0.0
        train, val = self._split(y)
        steps_per_epoch = math.ceil(len(train) / self.batch_size)
        whole_epochs = self.steps_per_execution == "epoch"
        arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
        if keras.backend.backend() == "tensorflow":
            # Feed batches gathered from one tensor of all rows, rather than
            # handing Keras a copy of the training rows that it copies again.
            tensors = _to_tensors(arrays)
            X = _tf_batches(
                tensors,
                train,
                self.batch_size,
                self.shuffle,
                seed=self._fit_seed,
                repeat=epochs if whole_epochs else 1,
            )
            y = sample_weight = None
            kwargs.update(batch_size=None, shuffle=False)
            if whole_epochs:
                # One stream of all the epochs and a fixed steps_per_epoch: Keras
                # keeps one iterator for the whole fit.
                kwargs["steps_per_epoch"] = steps_per_epoch
            if val is not None:
                # Evaluated in batches as large as predictions are: fewer steps
                # and compiled shapes, the same mean loss and accuracy.
                kwargs["validation_data"] = _tf_batches(
                    tensors, val, max(self.batch_size, _PREDICT_CHUNK), shuffle=False
                )
        else:
            if val is not None:
                kwargs["validation_data"] = tuple(a[val] for a in arrays)
            X, y, *rest = (a[train] for a in arrays)
            sample_weight = rest[0] if rest else None
        stopper = None
        user_callbacks = self._fit_callbacks
        if self.early_stopping:
            stopper = keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=self.patience, restore_best_weights=True
            )
            self._fit_callbacks = [*user_callbacks, stopper]
        model = self.model_
        settings = (
            self._use_xla(len(train), epochs),
            steps_per_epoch if whole_epochs else self.steps_per_execution,
        )
        if settings != getattr(self, "_train_settings", None):
            # Keras builds its train/test functions lazily from the model's
            # jit_compile and steps_per_execution and caches them: rebuild them
            # when those change.
            model.train_function = model.test_function = None
        model.jit_compile, model.steps_per_execution = settings
        try:
            super()._fit_keras_model(
                X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs
            )
        finally:
            self._fit_callbacks = user_callbacks
            self._train_settings = settings
            model.jit_compile = False  # predict_function, built later, stays plain
        self.history_ = {
            key: [float(v) for v in values] for key, values in self.history_.items()
        }
        self.n_iter_ = len(self.history_["loss"])
        if stopper is not None:
            # Keras numbers epochs from initial_epoch, as history_ is indexed.
            self.best_epoch_ = int(stopper.best_epoch)

    def _use_xla(self, n_samples, epochs):
        if self.jit_compile != "auto":
            return self.jit_compile
        backend = keras.backend.backend()
        if backend != "tensorflow":
            return backend == "jax"
        n_steps = math.ceil(n_samples / self.batch_size) * epochs
        return n_steps * self.model_.count_params() >= _XLA_MIN_PARAMETER_UPDATES

    def _split(self, y):
        """Indices (train, validation) of a stratified, shuffled hold-out.

        ``validation_split`` of the samples are held out, and never fewer than one
        of each class, so that every class is validated and still trained on. The
        split is seeded per fit. Without a split: (all indices, None).
        """
        n_samples = len(y)
        if self.validation_split == 0:
            return np.arange(n_samples), None
        _, counts = np.unique(y, return_counts=True)
        n_val = max(math.ceil(self.validation_split * n_samples), len(counts))
        if counts.min() < 2 or n_samples - n_val < len(counts):
            raise ValueError(
                f"validation_split={self.validation_split} needs at least 2 samples "
                "of each class (one to validate, one to train), and one of each "
                f"class left to train on, but got {n_samples} samples of "
                f"{len(counts)} classes, the rarest with {counts.min()} sample(s). "
                "Pass more samples per class, or validation_split=0.0 to train on "
                "all of them."
            )
        train, val = train_test_split(
            np.arange(n_samples),
            test_size=n_val,
            random_state=self._fit_seed,
            stratify=y,
        )
        train.sort()
        return train, val

    def _validate_data(self, X=None, y=None, reset=False, y_numeric=False):
        """scikit-learn's input validation in place of scikeras's own.

        Gives scikit-learn's errors (and ``n_features_in_``/``feature_names_in_``)
        for NaN, infinity, sparse, empty, 1-D input, a feature count that changed
        since fit, and targets that are not classes.
        """
        if X is not None:
            params = dict(reset=reset, dtype=np.float32, accept_sparse=False)
            if y is not None:
                X, y = validate_data(self, X, y, **params)
            else:
                X = validate_data(self, X, **params)
        elif y is not None:
            y = column_or_1d(y, warn=True)
        if y is not None and reset:
            check_classification_targets(y)
            classes = np.unique(y) if self.classes_ is None else self.classes_
            if len(classes) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in "
                    f"the data, but the data contains only one class: {classes[0]!r}."
                )
            self.target_type_ = type_of_target(classes)
        return X, y

    # -- prediction ----------------------------------------------------------------

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to classify.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, columns in the order of ``classes_``.
        """
        return self._predict_raw(X)

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to classify.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels, of the type of the labels seen in fit.
        """
        proba = self._predict_raw(X)
        return self.target_encoder_.inverse_transform(proba)

    def _predict_raw(self, X):
        # scikeras goes through Keras's predict(), whose tf.data pipeline costs
        # more than the network itself on MNIST-sized inputs: call the compiled
        # predict step on large chunks instead (same rows, same results).
        check_is_fitted(self)
        limit_tensorflow_threads()
        X, _ = self._validate_data(X)
        X = self.feature_encoder_.transform(X)
        return np.concatenate(
            [
                np.asarray(
                    self.model_.predict_on_batch(X[start : start + _PREDICT_CHUNK])
                )
                for start in range(0, len(X), _PREDICT_CHUNK)
            ]
        )


def _to_tensors(arrays):
    import tensorflow as tf

    return tuple(tf.convert_to_tensor(a) for a in arrays)


def _tf_batches(tensors, indices, batch_size, shuffle, seed=None, repeat=1):
    """A tf.data pipeline of batches of ``tensors``' rows at ``indices``.

    The same batches as Keras makes from arrays: each epoch a new permutation of
    the rows (when ``shuffle``), cut into batches of ``batch_size`` and a last
    partial batch, each gathered from the full tensors. A ``seed`` fixes the
    sequence of permutations without TensorFlow's global seed, which threads share.
    With ``repeat`` > 1, that many epochs follow each other in one stream, each
    with its own permutation.
    """
    import tensorflow as tf

    n_rows = len(indices)
    n_full = n_rows // batch_size
    index_tensor = tf.constant(indices, dtype=tf.int64)

    # A seeded fit shuffles statelessly from (seed, epoch): the same order for the
    # same seed, a new order each epoch, whether Keras restarts the pipeline each
    # epoch or not (a seeded stateful shuffle would repeat its first order then).
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)

    def permutation(_):
        if not shuffle:
            return index_tensor
        if seed is None:
            return tf.random.shuffle(index_tensor)
        seeds = tf.stack([tf.constant(seed, tf.int64), epoch.assign_add(1)])
        return tf.random.experimental.stateless_shuffle(index_tensor, seed=seeds)

    def batch_indices(order):
        full = tf.reshape(order[: n_full * batch_size], (n_full, batch_size))
        batches = tf.data.Dataset.from_tensor_slices(full)
        if n_rows > n_full * batch_size:
            batches = batches.concatenate(
                tf.data.Dataset.from_tensors(order[n_full * batch_size :])
            )
        return batches

    # Exactly the fit's epochs, so that the stream and the fit end together.
    epochs = tf.data.Dataset.range(repeat)
    dataset = (
        epochs.map(permutation)
        .flat_map(batch_indices)
        .map(
            lambda rows: tuple(tf.gather(t, rows) for t in tensors),
            num_parallel_calls=1,
        )
    )
    n_batches = math.ceil(n_rows / batch_size) * repeat
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(n_batches))
    options = tf.data.Options()
    # Keras sets these too: the shuffle is a stateful op; the default graph
    # rewrites only slow this simple pipeline down.
    options.experimental_optimization.apply_default_optimizations = False
    # No autotuning: deleting an iterator waits for the autotuning thread, which
    # stalled the end of each fit (and, with one iterator per epoch, each epoch
    # start) by up to 5 s. A gather per batch needs no tuning, and one thread
    # for it leaves the cores to the training step.
    options.autotune.enabled = False
    options.experimental_external_state_policy = (
        tf.data.experimental.ExternalStatePolicy.IGNORE
    )
    return dataset.with_options(options).prefetch(8)


def _copy_weights(sample_weight):
    if sample_weight is None:
        return None
    return np.array(sample_weight, dtype=np.float32)
