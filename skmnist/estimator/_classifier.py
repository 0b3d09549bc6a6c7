"""MNISTClassifier: the Keras MNIST perceptron as a scikit-learn classifier."""

# Keras (and TensorFlow) start through engine._runtime, before another import can
# start them with their start-up log lines.
from ..engine._runtime import keras

# isort: split

import contextlib
import numbers
import warnings
from numbers import Integral, Real

import numpy as np
from scikeras.wrappers import KerasClassifier
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import ClassifierTags, check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._errors import TrainingInterrupted
from .._fixes import (
    CallbackSupportMixin,
    Interval,
    InvalidParameterError,
    StrOptions,
    caller_stacklevel,
    fit_context,
    get_param_names,
    stable_keras_names,
)
from ..engine import _compiled
from ..engine._build import build_mlp, check_activation, make_optimizer
from ..engine._loop import fit_network
from ..export._skl2onnx import ONNXConvertible
from ..images._arrays import PREDICTS_WELL, as_rows, unscaled_warning
from ._callbacks import epoch_tasks
from ._checks import (
    check_dtype_policy,
    check_label_types,
    check_memory,
    refuse_routed,
)
from ._parameters import DEFAULTS, PARAMETERS

__all__ = ["MNISTClassifier"]


class MNISTClassifier(ONNXConvertible, CallbackSupportMixin, KerasClassifier):
    """The Keras MNIST multilayer perceptron as a scikit-learn classifier.

    A feed-forward network: the input rows -> ``n_hidden_layers`` dense layers of
    ``hidden_size`` units (``activation``, optional dropout) -> a softmax layer with
    one unit per class, trained with cross-entropy. The defaults are the model of
    the classic Keras MNIST tutorial: 784 -> 512 ReLU -> 512 ReLU -> 10 softmax,
    Adam (learning rate 1e-3), batches of 128, 20 epochs, 10% of the training set
    held out for validation, which reaches a test accuracy of about 0.980 on MNIST
    (0.9803 over twenty seeds, sd 0.0027; the tutorial's own code 0.9815).

    ``MNISTClassifier`` derives from :class:`scikeras.wrappers.KerasClassifier` and
    closes the gaps between scikeras 0.13 and scikit-learn >= 1.6: it is a
    classifier to :func:`sklearn.base.is_classifier` (so cross-validation is
    stratified), validates input with :func:`sklearn.utils.validation.validate_data`
    and checks every parameter before building anything, seeds training without
    touching any global random state, and holds out a stratified validation set
    instead of Keras's last rows. Training runs the Keras network through
    compiled steps that are traced once per network and process and reused by
    every later fit, so that many fits in one process (a grid search) neither
    grow in memory nor pay for tracing again.

    A fit that raises leaves the estimator as it was before the call. A fit
    interrupted with ``KeyboardInterrupt`` after its first epoch stops with a
    warning and keeps the weights reached, as
    :class:`~sklearn.neural_network.MLPClassifier` does.

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
        Learning rate of an optimizer given by name: any real number type (an
        int, a NumPy scalar), used as a Python float. Each setting has one
        parameter: scikeras's routed parameters (``optimizer__learning_rate``,
        ``fit__batch_size``, ...) are refused by ``set_params``, naming the
        parameter to use instead.

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
        dropout. An int gives identical models across fits, threads and
        processes on the same machine; a ``RandomState`` gives a seed drawn from
        it. A fit never reads or sets Python's, NumPy's, TensorFlow's or Keras's
        global random state (None draws the split from NumPy's global state, as
        scikit-learn's estimators do).
        See :term:`Glossary <random_state>`.

    verbose : int, default=0
        Verbosity of training on standard output: 0 is silent; 1 shows a
        progress bar that moves within each epoch on a terminal or in a
        notebook, and one plain line per epoch elsewhere (a file, a pipe); 2
        one plain line per epoch everywhere. Prediction is always silent.

    jit_compile : "auto" or bool, default="auto"
        Whether training steps are compiled with XLA. XLA does not change the
        model (up to floating-point rounding) and trains an epoch about 30%
        faster on the CPU, but compiling costs about a second, once per network
        and data size in a process (see :ref:`compiled networks
        <compiled_networks>`): a grid search pays it once for all its folds.
        "auto" uses it on the TensorFlow backend when an epoch pushes at least
        2e8 (training rows x network parameters), e.g. 6,000 rows through a
        network with 64-unit layers, and always on JAX, which needs it.
        Prediction never uses XLA.

    steps_per_execution : "auto", "epoch" or int, default="auto"
        Number of batches trained per compiled call. "epoch" trains a whole
        epoch per call; "auto" does too, except with ``verbose=1`` on a
        terminal (or in a notebook), where an epoch runs in about 20 calls so
        that the progress bar moves. The batches and so the model are the same
        whatever the value; batch-level callbacks and the progress bar are
        updated once per call.

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
        The trained Keras model (compiled, with its optimizer's state): input
        rows -> class probabilities.

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
            StrOptions({"auto", "epoch"}),
        ],
    }

    # scikeras's own __init__ is not called: it would set its model-building
    # parameters (model, loss, metrics, ...) as attributes that are not ours.
    def __init__(
        self,
        hidden_size=DEFAULTS["hidden_size"],
        n_hidden_layers=DEFAULTS["n_hidden_layers"],
        activation=DEFAULTS["activation"],
        dropout=DEFAULTS["dropout"],
        optimizer=DEFAULTS["optimizer"],
        learning_rate=DEFAULTS["learning_rate"],
        epochs=DEFAULTS["epochs"],
        batch_size=DEFAULTS["batch_size"],
        validation_split=DEFAULTS["validation_split"],
        early_stopping=DEFAULTS["early_stopping"],
        patience=DEFAULTS["patience"],
        shuffle=DEFAULTS["shuffle"],
        class_weight=DEFAULTS["class_weight"],
        callbacks=DEFAULTS["callbacks"],
        warm_start=DEFAULTS["warm_start"],
        random_state=DEFAULTS["random_state"],
        verbose=DEFAULTS["verbose"],
        jit_compile=DEFAULTS["jit_compile"],
        steps_per_execution=DEFAULTS["steps_per_execution"],
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
    _get_param_names = classmethod(get_param_names)
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

    def set_params(self, **params):
        """Set the parameters of this estimator.

        As :meth:`sklearn.base.BaseEstimator.set_params`. scikeras's routed
        parameters (``optimizer__learning_rate``, ``fit__batch_size``, ...) are
        refused, naming the parameter to use instead: each setting has one
        parameter, which ``get_params``, ``clone``, searches and model files
        all see.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : MNISTClassifier
            This estimator.
        """
        for name in params:
            refuse_routed(name, type(self))
        return super().set_params(**params)

    # -- fitting -------------------------------------------------------------------
    #
    # The path of a fit, top-down: fit / partial_fit -> _validate_fit (the data,
    # checked once, into what the engine takes) -> _initialize (the network built,
    # unless training continues) -> _fit_loop (the epochs, through the engine's
    # one door, engine._loop.fit_network; history_ and n_iter_ from what it
    # did). None of scikeras's fit machinery runs: what skmnist uses of
    # scikeras is listed in skmnist._fixes.

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Build the network and train it on (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows, e.g. flattened images scaled to [0, 1].
        y : array-like of shape (n_samples,)
            Class labels of any type (ints, strings, ...).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative, finite per-sample weights of the training loss.

        Returns
        -------
        self : MNISTClassifier
            The fitted classifier.
        """
        self._check_fit()
        warm = self.warm_start and self.__sklearn_is_fitted__()
        context, observer = epoch_tasks(self, X, y, self.epochs)
        with self._rollback():
            seed = _draw_seed(self.random_state)
            known = self.classes_ if warm else None
            X_, y_, classes = self._validate_fit(
                X, y, known, "fit with warm_start=True"
            )
            X_, y_, sample_weight = self._weights(X_, y_, classes, sample_weight)
            if not warm:
                self._initialize(X_, classes, seed)
            # As scikeras's: a warm-started fit continues the weights, not history_.
            self._fit_loop(X_, y_, sample_weight, seed, self.epochs, 0, warm, observer)
        if context is not None:
            context.call_on_fit_task_end(
                estimator=self, X=X, y=y, reconstruction_attributes={}
            )
        return self

    @fit_context(prefer_skip_nested_validation=True)
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
            this batch does not hold every class. Later calls may omit it, or must
            pass the same classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative, finite per-sample weights of the training loss.

        Returns
        -------
        self : MNISTClassifier
            The updated classifier.
        """
        self._check_fit()
        fitted = self.__sklearn_is_fitted__()
        if classes is not None:
            check_label_types(classes, "classes")
            classes = np.unique(column_or_1d(classes))
            if fitted and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"partial_fit got classes={classes.tolist()}, but the first call "
                    f"fixed the classes to {self.classes_.tolist()}; pass the same "
                    "classes, or none after the first call."
                )
        with self._rollback():
            seed = _draw_seed(self.random_state)
            known = self.classes_ if fitted else classes
            X, y, classes = self._validate_fit(X, y, known, "partial_fit", not fitted)
            X, y, sample_weight = self._weights(X, y, classes, sample_weight)
            if not fitted:
                self._initialize(X, classes, seed)
            epoch = getattr(self, "n_iter_", 0)  # continues history_
            self._fit_loop(X, y, sample_weight, seed, 1, epoch, continues=True)
        return self

    @fit_context(prefer_skip_nested_validation=True)
    def initialize(self, X, y):
        """Build the network for (X, y) without training it.

        As scikeras's ``initialize``: the estimator is then fitted, with the
        network's initial (``random_state``-seeded) weights; a later ``fit`` with
        ``warm_start=True``, or ``partial_fit``, trains from them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows that fix the input width (and feature names).
        y : array-like of shape (n_samples,)
            Labels that fix the classes.

        Returns
        -------
        self : MNISTClassifier
        """
        self._check_fit()
        seed = _draw_seed(self.random_state)
        X, _, classes = self._validate_fit(X, y)
        self._initialize(X, classes, seed)
        return self

    def _check_params(self):
        """Every parameter checked, as a fit checks them, for callers outside a
        fit (the command line before it loads data, load_model)."""
        self._validate_params()
        self._check_values()

    def _check_fit(self):
        """What a fit checks before any data is touched or Keras built, beyond
        the parameter constraints, which ``fit_context`` checks (once per fit,
        on partial_fit's first call only, and not at all under
        ``sklearn.config_context(skip_parameter_validation=True)``)."""
        check_dtype_policy()
        self._check_values()

    def _check_values(self):
        """The checks of parameter values beyond their constraints."""
        for name, value in self.get_params(deep=False).items():
            # scikit-learn's Interval takes True for 1; the table refuses it.
            if isinstance(value, (bool, np.bool_)):
                rules = PARAMETERS[name]
                if not any(rule.accepts(value) for rule in rules):
                    raise InvalidParameterError(
                        f"The {name!r} parameter of {type(self).__name__} got "
                        f"{value!r}, a bool, where it takes "
                        f"{' or '.join(map(str, rules))}."
                    )
        check_activation(self.activation)
        make_optimizer(self.optimizer, self.learning_rate)
        for callback in self.callbacks or []:
            if not isinstance(callback, keras.callbacks.Callback):
                raise InvalidParameterError(
                    f"The 'callbacks' parameter of {type(self).__name__} must be a "
                    "list of keras.callbacks.Callback instances, but it holds "
                    f"{callback!r} (a {type(callback).__name__})."
                )
        if self.early_stopping and self.validation_split == 0:
            raise InvalidParameterError(
                "early_stopping=True needs held-out data to watch, but "
                "validation_split=0.0; set validation_split > 0 (e.g. 0.1)."
            )

    def _validate_fit(self, X, y, classes=None, where="fit", reset=None):
        """(X, y) checked once: float32 rows, class indices and the classes.

        ``classes`` are those an earlier call fixed (every label must be one of
        them), or None to take them from ``y``. ``reset`` (default: whether
        ``classes`` is None) makes X's width and feature names the estimator's
        own; otherwise X must have them. Gives scikit-learn's errors for NaN,
        infinity, sparse, empty, 1-D input, a feature count that changed since
        fit, and targets that are not classes.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        check_label_types(y, "y")
        reset = classes is None if reset is None else reset
        X = as_rows(X, type(self).__name__, np.float32)
        X, y = validate_data(
            self, X, y, reset=reset, dtype=np.float32, accept_sparse=False
        )
        check_classification_targets(y)
        labels, y = np.unique(y, return_inverse=True)
        if classes is None:
            classes = labels
        else:
            unseen = np.setdiff1d(labels, classes)
            if len(unseen):
                raise ValueError(
                    f"{where} got labels {unseen.tolist()} that are not among the "
                    "classes the model was built for, "
                    f"{np.asarray(classes).tolist()}. Pass every class in `classes` "
                    "on the first call to partial_fit, or refit from scratch "
                    "(warm_start=False)."
                )
            y = np.searchsorted(classes, labels)[y]
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in "
                f"the data, but the data contains only one class: {classes[0]!r}."
            )
        self._warn_if_unscaled(X, "trains well only on inputs of about unit scale")
        return X, y.astype(np.int32), classes

    def _weights(self, X, y, classes, sample_weight):
        """The rows to train on and their float32 weights (None: all 1).

        ``class_weight`` is multiplied into ``sample_weight``, as scikit-learn's
        ``compute_sample_weight`` gives it; rows of weight 0 are dropped, as
        scikeras does, so that they neither train nor validate.
        """
        _check_class_weight(self.class_weight, classes)
        weights = _check_sample_weight(sample_weight, len(y))
        if self.class_weight is not None:
            per_class = np.ones(len(classes))
            if self.class_weight == "balanced":
                counts = np.bincount(y, minlength=len(classes))
                present = counts > 0
                per_class[present] = len(y) / (present.sum() * counts[present])
            else:
                for i, label in enumerate(classes.tolist()):
                    per_class[i] = self.class_weight.get(label, 1.0)
            per_row = per_class[y]
            weights = (per_row if weights is None else weights * per_row).astype(
                np.float32
            )
        if weights is None:
            return X, y, None
        keep = weights != 0
        if not keep.any():
            raise ValueError(
                "Every sample has weight 0 once class_weight is applied: there is "
                "nothing to train on. Give at least one class a positive weight."
            )
        if keep.all():
            return X, y, weights
        return X[keep], y[keep], weights[keep]

    def _initialize(self, X, classes, seed):
        """The classes and a new network for X's width, seeded by ``seed``."""
        self.classes_ = classes
        self.n_classes_ = len(classes)
        self.target_type_ = type_of_target(classes)
        # Any integer type (NumPy's from a search's grid too) as Python's: Keras
        # takes only int widths, and NumPy's small ints overflow in products.
        width, depth = int(self.hidden_size), int(self.n_hidden_layers)
        check_memory(self.n_features_in_, self.n_classes_, width, depth)
        model = build_mlp(
            self.n_features_in_,
            self.n_classes_,
            hidden_size=width,
            n_hidden_layers=depth,
            activation=self.activation,
            dropout=self.dropout,
            seed=seed,
        )
        optimizer = make_optimizer(self.optimizer, self.learning_rate)
        with stable_keras_names():
            model.compile(
                optimizer=optimizer,
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
            optimizer.build(model.trainable_variables)
        self.model_ = model

    def _fit_loop(
        self, X, y, sample_weight, seed, epochs, initial_epoch, continues, observer=None
    ):
        """Train ``model_`` through the engine; ``history_`` and ``n_iter_`` follow.

        From ``initial_epoch`` 0 the history starts afresh; later, it goes on.
        ``continues``: whether the weights are an earlier fit's (``warm_start``,
        ``partial_fit``).
        """
        trained = fit_network(
            self,
            X,
            y,
            sample_weight,
            seed=seed,
            epochs=epochs,
            initial_epoch=initial_epoch,
            continues=continues,
            observer=observer,
        )
        if initial_epoch == 0 or not hasattr(self, "history_"):
            self.history_ = {}
        for key, values in trained.history.items():
            self.history_.setdefault(key, []).extend(float(v) for v in values)
        self.n_iter_ = len(self.history_["loss"])
        vars(self).pop("best_epoch_", None)
        if trained.best_epoch is not None:
            self.best_epoch_ = trained.best_epoch
        if trained.interrupted:
            warnings.warn(
                TrainingInterrupted(
                    f"Training interrupted (KeyboardInterrupt) after "
                    f"{trained.n_epochs} of {epochs} epoch{'s' * (epochs != 1)}: the "
                    "model holds the weights reached, and history_ the finished "
                    "epochs.",
                    trained.n_epochs,
                    epochs,
                ),
                stacklevel=caller_stacklevel(),
            )

    @contextlib.contextmanager
    def _rollback(self):
        """Undo every change to this estimator's attributes if the fit inside raises.

        (The engine puts a continued network's weights back itself.)
        """
        saved = dict(vars(self))
        try:
            yield
        except BaseException:
            vars(self).clear()
            vars(self).update(saved)
            raise

    def _warn_if_unscaled(self, X, what):
        """Warn when X reaches far outside unit scale (raw 0-255 pixels), as
        the light predictor of a saved classifier does too."""
        message = unscaled_warning(X, type(self).__name__, what)
        if message is not None:
            warnings.warn(message, UserWarning, stacklevel=caller_stacklevel())

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

        Warns
        -----
        UserWarning
            If X has values far outside unit scale (above 100 in absolute
            value, such as raw 0-255 pixels), as fit warns: the network reads
            such rows wrong.
        """
        # Through the network's compiled forward pass, shared by every estimator
        # of this architecture, rather than Keras's predict(), which traces a new
        # function per model and costs more than the network on MNIST-sized input.
        check_is_fitted(self)
        X = as_rows(X, type(self).__name__, np.float32)
        X = validate_data(self, X, reset=False, dtype=np.float32, accept_sparse=False)
        # The network's inputs were of about unit scale (fit warned otherwise):
        # rows of raw 0-255 pixels would be read wrong without a word.
        self._warn_if_unscaled(X, PREDICTS_WELL)
        predictor = _compiled.predictor(_compiled.NetworkSpec.of(self.model_))
        return predictor.predict_proba(self.model_, X)

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

        Warns
        -----
        UserWarning
            If X has values far outside unit scale (above 100 in absolute
            value, such as raw 0-255 pixels), as fit warns: the network reads
            such rows wrong.
        """
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


def _draw_seed(random_state):
    """An int seed for this fit from a scikit-learn ``random_state``, or None.

    An int is used as it is; a ``RandomState`` gives a seed drawn from it
    (advancing it, as scikit-learn estimators do), so two different states give
    two different models.
    """
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    rng = check_random_state(random_state)
    return int(rng.randint(np.iinfo(np.int32).max))


def _check_class_weight(class_weight, classes):
    if not isinstance(class_weight, dict):
        return
    unknown = [key for key in class_weight if key not in set(classes.tolist())]
    if unknown:
        raise ValueError(
            f"class_weight has keys {unknown} that are not classes of y; the classes "
            f"are {classes.tolist()}. Key class_weight by the labels themselves."
        )
    bad = {k: v for k, v in class_weight.items() if not _is_weight(v)}
    if bad:
        raise ValueError(
            f"class_weight values must be finite numbers >= 0, but got {bad}."
        )


def _is_weight(value):
    return isinstance(value, Real) and np.isfinite(value) and value >= 0


def _check_sample_weight(sample_weight, n_samples):
    """A fresh float32 copy of valid sample weights (the caller's stays as it is)."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, Real):
        sample_weight = np.full(n_samples, sample_weight)
    try:
        weights = np.array(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            "sample_weight must be an array of numbers, one per sample, but got "
            f"{type(sample_weight).__name__} that does not convert to numbers."
        ) from None
    if weights.shape != (n_samples,):
        raise ValueError(
            f"sample_weight has shape {weights.shape}, but y has {n_samples} "
            f"samples: pass one weight per sample, shape ({n_samples},)."
        )
    bad = np.flatnonzero(~np.isfinite(weights))
    if len(bad):
        raise ValueError(
            f"sample_weight contains {weights[bad[0]]} at index {bad[0]} "
            f"({len(bad)} non-finite value(s)); sample weights must be finite "
            "numbers >= 0."
        )
    negative = np.flatnonzero(weights < 0)
    if len(negative):
        raise ValueError(
            f"sample_weight contains negative values ({weights[negative[0]]} at "
            f"index {negative[0]}, {len(negative)} in all); sample weights must be "
            ">= 0 (0 leaves a sample out of training)."
        )
    if not weights.any():
        raise ValueError(
            "sample_weight is zero for every sample: there is nothing to train on. "
            "Give at least one sample a positive weight."
        )
    return weights.astype(np.float32)
