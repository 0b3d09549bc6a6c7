"""MNISTClassifier refuses users' mistakes before training, and a failed fit undoes
itself: the estimator is left exactly as it was before the call."""

import warnings

import _settings
import keras
import numpy as np
import pytest
from sklearn import config_context
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skmnist import FlattenScaler, MNISTClassifier
from skmnist._errors import UserError
from skmnist._fixes import InvalidParameterError

FAST = {**_settings.FAST, "random_state": 0}


class TrainingRecorder(keras.callbacks.Callback):
    """Records whether training started; raises ``error`` at an epoch's end."""

    def __init__(self, error=None, at_epoch=0, at_batch=None):
        super().__init__()
        self.started = False
        self.error, self.at_epoch, self.at_batch = error, at_epoch, at_batch

    def on_train_begin(self, logs=None):
        self.started = True

    def on_train_batch_end(self, batch, logs=None):
        if self.error is not None and self.at_batch is not None:
            raise self.error

    def on_epoch_end(self, epoch, logs=None):
        if self.error is not None and self.at_batch is None and epoch == self.at_epoch:
            raise self.error


def _refused_before_training(make_call, error, match):
    recorder = TrainingRecorder()
    with pytest.raises(error, match=match):
        make_call(recorder)
    assert not recorder.started


# -- parameters: named, with the bad value and what is accepted -------------------


@pytest.mark.parametrize(
    "params, match",
    [
        (
            dict(activation="relux"),
            r"activation='relux' is not an activation that skmnist trains and "
            r"predicts with .*; expected one of 'linear', 'relu',",
        ),
        (dict(optimizer="adamm"), r"optimizer='adamm' is not a Keras optimizer name"),
        (dict(optimizer=7), r"The 'optimizer' parameter of MNISTClassifier must be"),
        (dict(hidden_size=0), r"The 'hidden_size' parameter .* must be an int in"),
        (dict(dropout=1.0), r"The 'dropout' parameter"),
        (dict(learning_rate=-1.0), r"The 'learning_rate' parameter"),
        (dict(batch_size=0), r"The 'batch_size' parameter"),
        (dict(epochs=0), r"The 'epochs' parameter"),
        (dict(class_weight="equal"), r"The 'class_weight' parameter"),
        (dict(steps_per_execution=0), r"The 'steps_per_execution' parameter"),
        (dict(jit_compile="yes"), r"The 'jit_compile' parameter"),
    ],
    ids=lambda p: next(iter(p)) if isinstance(p, dict) else None,
)
def test_bad_parameters_are_refused_before_training(blobs, params, match):
    X, y = blobs
    _refused_before_training(
        lambda rec: MNISTClassifier(**{**FAST, **params}, callbacks=[rec]).fit(X, y),
        ValueError,
        match,
    )


def test_an_optimizer_keras_cannot_rebuild_is_refused(blobs):
    X, y = blobs

    class Unbuildable(keras.optimizers.SGD):
        def __init__(self, required, **kwargs):  # not in get_config()
            super().__init__(**kwargs)

    _refused_before_training(
        lambda rec: MNISTClassifier(
            **FAST, optimizer=Unbuildable(1), callbacks=[rec]
        ).fit(X, y),
        ValueError,
        r"optimizer=<.*Unbuildable.*> cannot be rebuilt from its config",
    )


def test_callbacks_must_be_keras_callbacks(blobs):
    X, y = blobs
    with pytest.raises(
        ValueError,
        match=r"'callbacks' parameter .* must be a list of keras.callbacks.Callback "
        r"instances, but it holds 'print' \(a str\)",
    ):
        MNISTClassifier(**FAST, callbacks=["print"]).fit(X, y)
    with pytest.raises(TypeError):  # InvalidParameterError is a TypeError too
        MNISTClassifier(**FAST, callbacks=[print]).fit(X, y)


def test_class_weight_keys_must_be_classes(blobs):
    X, y = blobs  # classes 'a', 'b', 'c'
    _refused_before_training(
        lambda rec: MNISTClassifier(
            **FAST, class_weight={"a": 1.0, "z": 2.0}, callbacks=[rec]
        ).fit(X, y),
        ValueError,
        r"class_weight has keys \['z'\] that are not classes of y; the classes are "
        r"\['a', 'b', 'c'\]",
    )
    _refused_before_training(
        lambda rec: MNISTClassifier(
            **FAST, class_weight={"a": -1.0}, callbacks=[rec]
        ).fit(X, y),
        ValueError,
        r"class_weight values must be finite numbers >= 0, but got \{'a': -1.0\}",
    )


def test_early_stopping_without_validation_data(blobs):
    X, y = blobs
    _refused_before_training(
        lambda rec: MNISTClassifier(
            **FAST, early_stopping=True, validation_split=0.0, callbacks=[rec]
        ).fit(X, y),
        ValueError,
        r"early_stopping=True needs held-out data to watch",
    )


# -- sample weights --------------------------------------------------------------


@pytest.mark.parametrize(
    "weights, match",
    [
        (np.r_[-1.0, np.ones(149)], r"contains negative values \(-1.0 at index 0"),
        (np.r_[np.nan, np.ones(149)], r"sample_weight contains nan at index 0"),
        (np.r_[np.ones(149), np.inf], r"sample_weight contains inf at index 149"),
        (np.ones(10), r"sample_weight has shape \(10,\), but y has 150 samples"),
        (np.zeros(150), r"sample_weight is zero for every sample"),
        (np.array(["x"] * 150), r"sample_weight must be an array of numbers"),
    ],
    ids=["negative", "nan", "inf", "length", "all-zero", "strings"],
)
def test_bad_sample_weights_are_refused_before_training(blobs, weights, match):
    X, y = blobs
    _refused_before_training(
        lambda rec: MNISTClassifier(**FAST, callbacks=[rec]).fit(
            X, y, sample_weight=weights
        ),
        ValueError,
        match,
    )
    _refused_before_training(
        lambda rec: MNISTClassifier(**FAST, callbacks=[rec]).partial_fit(
            X, y, sample_weight=weights
        ),
        ValueError,
        match,
    )


def test_negative_sample_weights_through_a_pipeline_with_metadata_routing(blobs):
    X, y = blobs
    weights = np.where(y == "a", -1.0, 1.0)
    with config_context(enable_metadata_routing=True):
        recorder = TrainingRecorder()
        clf = MNISTClassifier(**FAST, callbacks=[recorder])
        clf.set_fit_request(sample_weight=True)
        pipe = Pipeline([("scale", FlattenScaler(scale=1.0)), ("mlp", clf)])
        with pytest.raises(ValueError, match="sample_weight contains negative"):
            pipe.fit(np.abs(X) / np.abs(X).max(), y, sample_weight=weights)
        assert not recorder.started
    # and through Pipeline's step__param routing
    recorder = TrainingRecorder()
    pipe = Pipeline(
        [
            ("scale", FlattenScaler(scale=1.0)),
            ("mlp", MNISTClassifier(**FAST, callbacks=[recorder])),
        ]
    )
    with pytest.raises(ValueError, match="sample_weight contains negative"):
        pipe.fit(np.abs(X) / np.abs(X).max(), y, mlp__sample_weight=weights)
    assert not recorder.started


def test_class_weights_of_zero_for_every_class_present_are_refused(blobs):
    X, y = blobs
    recorder = TrainingRecorder()
    clf = MNISTClassifier(**FAST, class_weight={"a": 0, "b": 0, "c": 0})
    with pytest.raises(ValueError, match="Every sample has weight 0 once class_weight"):
        clf.set_params(callbacks=[recorder]).fit(X, y)
    assert not recorder.started and not hasattr(clf, "model_")


def test_callers_weights_are_left_alone(blobs):
    X, y = blobs
    weights = np.linspace(0.5, 1.5, 150)
    before = weights.copy()
    MNISTClassifier(**FAST, class_weight="balanced").fit(X, y, sample_weight=weights)
    np.testing.assert_array_equal(weights, before)


# -- partial_fit's classes -------------------------------------------------------


def test_partial_fit_with_labels_outside_the_first_calls_classes(blobs):
    X, y = blobs
    clf = MNISTClassifier(**FAST, validation_split=0.0)
    clf.partial_fit(X[y != "c"], y[y != "c"], classes=["a", "b"])
    before = clf.predict_proba(X)
    with pytest.raises(
        ValueError,
        match=r"partial_fit got labels \['c'\] that are not among the classes the "
        r"model was built for, \['a', 'b'\]",
    ):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    with pytest.raises(ValueError, match=r"partial_fit got classes=\['a', 'c'\]"):
        clf.partial_fit(X[y != "b"], y[y != "b"], classes=["a", "c"])


def test_first_partial_fit_with_labels_outside_classes(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match=r"got labels \['c'\] that are not among"):
        MNISTClassifier(**FAST).partial_fit(X, y, classes=["a", "b"])


def test_warm_start_with_new_labels(blobs):
    X, y = blobs
    clf = MNISTClassifier(**FAST, warm_start=True).fit(X[y != "c"], y[y != "c"])
    with pytest.raises(ValueError, match=r"warm_start=True got labels \['c'\]"):
        clf.fit(X, y)


# -- divergence -------------------------------------------------------------------


def test_diverging_training_raises_and_names_the_causes(blobs):
    X, y = blobs
    with pytest.raises(
        ValueError,
        match=r"Training diverged: the loss became nan in epoch 1\. .*inputs far "
        r"outside \[0, 1\].*learning_rate",
    ):
        MNISTClassifier(
            hidden_size=8, epochs=1, optimizer="sgd", learning_rate=1e30
        ).fit(X, y)


@pytest.mark.parametrize("factor", [255.0, 1e30])
def test_unscaled_input_gets_a_warning_naming_the_fix(factor):
    rng = np.random.RandomState(0)
    X = rng.rand(60, 784).astype(np.float32) * factor
    y = np.arange(60) % 3
    recorder = TrainingRecorder()
    clf = MNISTClassifier(hidden_size=8, epochs=1, callbacks=[recorder])
    with pytest.warns(
        UserWarning,
        match=r"X has values as large as .* divide pixel "
        r"values by 255 \(skmnist.FlattenScaler does\)",
    ) as seen:
        try:
            clf.fit(X, y)
        except ValueError as exc:  # or it diverges, and says so
            assert "Training diverged" in str(exc)
    assert seen[0].filename == __file__  # points at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MNISTClassifier(hidden_size=8, epochs=1).fit(X / factor, y)


# -- a fit that does not finish -----------------------------------------------------


def test_unscaled_input_to_predict_gets_a_warning_naming_the_fix():
    # Trained on [0, 1], given raw 0-255 pixels (uint8): the labels would be
    # wrong without a word.
    rng = np.random.RandomState(0)
    X = rng.rand(60, 784).astype(np.float32)
    y = np.arange(60) % 3
    clf = MNISTClassifier(hidden_size=8, epochs=1, random_state=0).fit(X, y)
    raw = (X * 255).astype(np.uint8)
    for method in (clf.predict, clf.predict_proba):
        with pytest.warns(
            UserWarning,
            match=r"X has values as large as \d+, but MNISTClassifier predicts "
            r"well only on inputs of about unit scale: divide pixel values by 255",
        ) as seen:
            method(raw)
        assert seen[0].filename == __file__  # points at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict(X)
        clf.predict_proba(-X)


def _fitted_state(clf):
    return (
        sorted(vars(clf)),
        clf.classes_.tolist(),
        {k: list(v) for k, v in clf.history_.items()},
        [w.copy() for w in clf.model_.get_weights()],
        [v.numpy().copy() for v in clf.model_.optimizer.variables],
    )


def _assert_same_state(before, after):
    assert after[:3] == before[:3]
    for a, b in zip(before[3] + before[4], after[3] + after[4], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize(
    "error", [RuntimeError("callback failed"), MemoryError("out of memory")]
)
def test_a_failed_fit_leaves_the_previous_model(blobs, warm_start, error):
    X, y = blobs
    clf = MNISTClassifier(**FAST, warm_start=warm_start).fit(X[:100], y[:100])
    model, proba = clf.model_, clf.predict_proba(X)
    before = _fitted_state(clf)
    clf.set_params(callbacks=[TrainingRecorder(error=error, at_epoch=1)])
    with pytest.raises(type(error), match=str(error)):
        # a cold fit would take new classes, too
        clf.fit(X, y if warm_start else np.where(y == "c", "d", y))
    assert clf.model_ is model
    _assert_same_state(before, _fitted_state(clf))
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_a_failed_partial_fit_leaves_the_previous_model(blobs):
    X, y = blobs
    clf = MNISTClassifier(**FAST).partial_fit(X, y)
    before, proba = _fitted_state(clf), clf.predict_proba(X)
    clf.set_params(callbacks=[TrainingRecorder(error=RuntimeError("x"), at_batch=0)])
    with pytest.raises(RuntimeError):
        clf.partial_fit(X, y)
    _assert_same_state(before, _fitted_state(clf))
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_a_diverging_fit_leaves_the_previous_model(blobs):
    X, y = blobs
    clf = MNISTClassifier(**FAST).fit(X, y)
    before, proba = _fitted_state(clf), clf.predict_proba(X)
    with pytest.raises(ValueError, match="Training diverged"):
        clf.set_params(optimizer="sgd", learning_rate=1e30).fit(X, y)
    _assert_same_state(before, _fitted_state(clf))
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_a_failed_first_fit_leaves_an_unfitted_estimator(blobs):
    X, y = blobs
    clf = MNISTClassifier(
        **FAST, callbacks=[TrainingRecorder(error=RuntimeError("x"), at_epoch=0)]
    )
    params = clf.get_params()
    with pytest.raises(RuntimeError):
        clf.fit(X, y)
    assert not hasattr(clf, "model_") and not hasattr(clf, "classes_")
    assert clf.get_params() == params


def test_keyboard_interrupt_after_an_epoch_keeps_the_partly_trained_model(blobs):
    X, y = blobs
    clf = MNISTClassifier(**{**FAST, "epochs": 10}).fit(X[:100], y[:100])
    stop = TrainingRecorder(error=KeyboardInterrupt(), at_epoch=1)
    clf.set_params(callbacks=[stop])
    with pytest.warns(
        UserWarning,
        match=r"interrupted \(KeyboardInterrupt\) after 2 "
        r"of 10 epochs",
    ):
        clf.fit(X, y)
    # consistent: every fitted attribute is the new fit's
    assert clf.n_iter_ == 2 and all(len(v) == 2 for v in clf.history_.values())
    assert clf.classes_.tolist() == ["a", "b", "c"]
    assert clf.predict_proba(X).shape == (150, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.set_params(callbacks=None).partial_fit(X, y)  # and training goes on
    assert clf.n_iter_ == 3


def test_keyboard_interrupt_in_the_first_epoch_keeps_the_previous_model(blobs):
    X, y = blobs
    clf = MNISTClassifier(**FAST).fit(X, y)
    before, proba = _fitted_state(clf), clf.predict_proba(X)
    clf.set_params(callbacks=[TrainingRecorder(error=KeyboardInterrupt(), at_batch=0)])
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    _assert_same_state(before, _fitted_state(clf))
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


# -- one parameter per setting: scikeras's routed parameters are refused ----------


@pytest.mark.parametrize(
    "routed, use",
    [
        ("optimizer__learning_rate", "learning_rate="),
        ("fit__batch_size", "batch_size="),
        ("fit__epochs", "epochs="),
        ("predict__batch_size", "batch_size="),
        ("model__hidden_size", "hidden_size="),
        ("compile__loss", "MNISTClassifier's parameters are"),
        ("loss__from_logits", "MNISTClassifier's parameters are"),
        ("metrics__average", "MNISTClassifier's parameters are"),
        ("callbacks__0", "callbacks="),
    ],
)
def test_routed_parameters_are_refused_naming_the_one_to_use(routed, use):
    clf = MNISTClassifier(**FAST)
    with pytest.raises(ValueError, match=rf"{routed}.*{use}") as info:
        clf.set_params(**{routed: 0.3})
    assert isinstance(info.value, InvalidParameterError)
    assert routed not in vars(clf)  # nothing half-set
    with pytest.raises(TypeError, match=routed):  # the constructor refuses too
        MNISTClassifier(**{routed: 0.3})


def test_routed_learning_rate_is_refused_through_a_pipeline_and_a_search(blobs):
    X, y = blobs
    pipe = Pipeline([("mlp", MNISTClassifier(**FAST))])
    with pytest.raises(ValueError, match=r"optimizer__learning_rate.*learning_rate="):
        pipe.set_params(mlp__optimizer__learning_rate=0.3)
    search = GridSearchCV(
        pipe, {"mlp__optimizer__learning_rate": [1e-5, 0.1]}, cv=2, error_score="raise"
    )
    with pytest.raises(ValueError, match=r"learning_rate="):
        search.fit(X, y)


def test_real_parameters_still_set_clone_and_search(blobs):
    X, y = blobs
    pipe = Pipeline([("mlp", MNISTClassifier(**FAST))])
    pipe.set_params(mlp__learning_rate=0.3, mlp__batch_size=7)
    assert clone(pipe).get_params()["mlp__learning_rate"] == 0.3
    assert clone(pipe).get_params()["mlp__batch_size"] == 7
    search = GridSearchCV(
        pipe.set_params(mlp__epochs=1), {"mlp__learning_rate": [1e-5, 0.1]}, cv=2
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] != scores[1]  # the parameter acts


@pytest.mark.parametrize("rate", [1, np.float32(1e-3), np.float64(0.01), np.int64(1)])
def test_learning_rate_takes_any_real_number_type(blobs, rate):
    X, y = blobs
    clf = MNISTClassifier(**{**FAST, "epochs": 1}, learning_rate=rate).fit(X, y)
    expected = MNISTClassifier(**{**FAST, "epochs": 1}, learning_rate=float(rate))
    np.testing.assert_array_equal(
        clf.predict_proba(X), expected.fit(X, y).predict_proba(X)
    )


def test_learning_rate_of_numpy_type_in_a_grid_search(blobs):
    X, y = blobs
    grid = {"learning_rate": [1, np.float32(1e-3)]}
    search = GridSearchCV(
        MNISTClassifier(**{**FAST, "epochs": 1}), grid, cv=2, error_score="raise"
    )
    assert search.fit(X, y).best_params_["learning_rate"] in grid["learning_rate"]


@pytest.mark.parametrize("name", ["hidden_size", "epochs", "batch_size", "dropout"])
@pytest.mark.parametrize("value", [True, np.True_, False])
def test_a_bool_for_a_count_or_a_rate_is_refused_naming_it(blobs, name, value):
    X, y = blobs
    with pytest.raises(ValueError, match=rf"'{name}' parameter .*{value!r}"):
        MNISTClassifier(**{**FAST, name: value}).fit(X, y)


def test_widths_and_counts_take_any_integer_type(blobs):
    """NumPy's integers, as a search's grid of arrays gives them: the same model
    as Python's ints (Keras takes only those, and uint8 products overflow)."""
    X, y = blobs
    params = dict(hidden_size=np.uint8(16), n_hidden_layers=np.int32(2))
    params.update(epochs=np.int64(2), batch_size=np.int16(32), random_state=0)
    clf = MNISTClassifier(**params).fit(X, y)
    expected = MNISTClassifier(**{k: int(v) for k, v in params.items()}).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), expected.predict_proba(X))
    grid = {"hidden_size": np.array([8, 16]), "epochs": np.array([1, 2])}
    search = GridSearchCV(MNISTClassifier(**FAST), grid, cv=2, error_score="raise")
    assert search.fit(X, y).best_params_["hidden_size"] in (8, 16)


@pytest.mark.parametrize(
    "y_of", [lambda y: y.astype(object), lambda y: list(y)], ids=["object", "list"]
)
def test_labels_mixing_strings_and_numbers_are_refused_before_training(blobs, y_of):
    X, y = blobs
    y = y.astype(object)
    y[y == "a"] = 1  # ints among strings
    _refused_before_training(
        lambda rec: MNISTClassifier(**FAST, callbacks=[rec]).fit(X, y_of(y)),
        ValueError,
        r"y mixes label types \(int and str\).*one type",
    )
    with pytest.raises(ValueError, match=r"classes mixes label types"):
        MNISTClassifier(**FAST).partial_fit(X, y.astype(str), classes=["a", 1, "b"])


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "float16", "mixed_float16"])
def test_a_global_dtype_policy_other_than_float32_is_refused(blobs, policy):
    X, y = blobs
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        _refused_before_training(
            lambda rec: MNISTClassifier(**FAST, callbacks=[rec]).fit(X, y),
            UserError,
            rf"dtype policy is '{policy}'.*set_dtype_policy\('float32'\)",
        )
    finally:
        keras.config.set_dtype_policy(before)


def test_a_network_larger_than_memory_is_refused_before_training(blobs):
    X, y = blobs
    _refused_before_training(
        lambda rec: MNISTClassifier(
            **{**FAST, "hidden_size": 10**6}, callbacks=[rec]
        ).fit(X, y),
        UserError,
        r"hidden_size=1000000 .* parameters.* GB of memory.*Lower hidden_size",
    )


def test_parameter_validation_follows_scikit_learns_config(blobs):
    X, y = blobs
    clf = MNISTClassifier(**FAST)
    clf.epochs = 1.5  # not an int: refused unless validation is skipped
    with pytest.raises(InvalidParameterError, match="'epochs'"):
        clf.fit(X, y)
    calls = []
    clf = MNISTClassifier(**{**FAST, "epochs": 1})
    clf._validate_params = lambda: calls.append(1)
    with config_context(skip_parameter_validation=True):
        clf.fit(X, y)
    assert calls == []
    clf.partial_fit(X, y)
    clf.partial_fit(X, y)
    assert calls == []  # fitted: partial_fit validates only on its first call
    clf = MNISTClassifier(**{**FAST, "epochs": 1})
    clf._validate_params = lambda: calls.append(1)
    clf.partial_fit(X, y, classes=["a", "b", "c"])
    clf.partial_fit(X, y)
    assert calls == [1]
