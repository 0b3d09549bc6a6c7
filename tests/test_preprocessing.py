"""Tests for skmnist.FlattenScaler."""

import doctest
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import get_tags
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

import skmnist.estimator._scaler
from skmnist import FlattenScaler, load_digit_image, load_mnist_sample

N = 6
PIXEL_NAMES = [f"pixel{i}" for i in range(1, 785)]


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (N, 28, 28), dtype=np.uint8)


def expected(images, dtype=np.float32):
    """The classic Keras preprocessing, as the reference."""
    return images.reshape(len(images), -1).astype(dtype) / 255


@parametrize_with_checks([FlattenScaler(), FlattenScaler(dtype=np.float64)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_docstring_examples_run():
    result = doctest.testmod(skmnist.estimator._scaler, raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0


# --- accepted layouts -------------------------------------------------------


@pytest.mark.parametrize(
    "make_input",
    [
        pytest.param(lambda a: a, id="n-28-28"),
        pytest.param(lambda a: a[..., np.newaxis], id="n-28-28-1"),
        pytest.param(lambda a: a.reshape(len(a), -1), id="n-784"),
        pytest.param(lambda a: np.asfortranarray(a.reshape(len(a), -1)), id="n-784-F"),
        pytest.param(lambda a: a.tolist(), id="nested-list-3d"),
        pytest.param(lambda a: a.reshape(len(a), -1).tolist(), id="nested-list-2d"),
        pytest.param(lambda a: list(a), id="list-of-images"),
        pytest.param(lambda a: a.astype(np.float64), id="float64-images"),
        pytest.param(lambda a: a.astype(np.int64), id="int64-images"),
    ],
)
def test_accepted_layouts(images, make_input):
    X = make_input(images)
    scaler = FlattenScaler().fit(X)
    assert scaler.image_shape_ == (28, 28)
    assert scaler.n_features_in_ == 784
    assert not hasattr(scaler, "feature_names_in_")

    Xt = scaler.transform(X)
    assert Xt.shape == (N, 784)
    assert Xt.dtype == np.float32
    assert Xt.flags.c_contiguous
    assert_array_equal(Xt, expected(images))
    assert_array_equal(scaler.fit_transform(X), Xt)


def test_dataframe_with_openml_columns(images):
    df = pd.DataFrame(images.reshape(N, -1), columns=PIXEL_NAMES)
    scaler = FlattenScaler().fit(df)
    assert scaler.n_features_in_ == 784
    assert scaler.image_shape_ == (28, 28)
    assert_array_equal(scaler.feature_names_in_, PIXEL_NAMES)
    assert_array_equal(scaler.get_feature_names_out(), PIXEL_NAMES)

    Xt = scaler.transform(df)
    assert isinstance(Xt, np.ndarray)
    assert Xt.flags.c_contiguous
    assert_array_equal(Xt, expected(images))


def test_dataframe_feature_names_are_passed_through(images):
    columns = [f"p_{i}" for i in range(784)]
    df = pd.DataFrame(images.reshape(N, -1), columns=columns)
    scaler = FlattenScaler().fit(df)
    assert_array_equal(scaler.get_feature_names_out(), columns)
    with pytest.raises(ValueError, match="input_features is not equal"):
        scaler.get_feature_names_out(PIXEL_NAMES)


def test_refit_on_array_forgets_feature_names(images):
    df = pd.DataFrame(images.reshape(N, -1), columns=PIXEL_NAMES)
    scaler = FlattenScaler().fit(df).fit(images)
    assert not hasattr(scaler, "feature_names_in_")


@pytest.mark.parametrize(
    "transform_input",
    [
        pytest.param(lambda a: a, id="n-28-28"),
        pytest.param(lambda a: a[..., np.newaxis], id="n-28-28-1"),
        pytest.param(lambda a: a.reshape(len(a), -1), id="n-784"),
    ],
)
@pytest.mark.parametrize(
    "fit_input",
    [
        pytest.param(lambda a: a, id="fit-n-28-28"),
        pytest.param(lambda a: a[..., np.newaxis], id="fit-n-28-28-1"),
        pytest.param(lambda a: a.reshape(len(a), -1), id="fit-n-784"),
    ],
)
def test_transform_accepts_any_layout_of_the_fitted_shape(
    images, fit_input, transform_input
):
    scaler = FlattenScaler().fit(fit_input(images))
    assert_array_equal(scaler.transform(transform_input(images)), expected(images))


def test_other_image_sizes(images):
    small = images[:, :20, :24]
    scaler = FlattenScaler().fit(small)
    assert scaler.image_shape_ == (20, 24)
    assert scaler.n_features_in_ == 480
    assert_array_equal(scaler.transform(small), expected(small))
    # Flat rows of 480 pixels are accepted and keep the fitted (20, 24) layout.
    Xt = scaler.transform(small.reshape(N, -1))
    assert_array_equal(Xt, expected(small))
    assert scaler.image_shape_ == (20, 24)
    assert_array_equal(scaler.inverse_transform(Xt), small)
    assert_array_equal(scaler.get_feature_names_out()[[0, -1]], ["pixel1", "pixel480"])


@pytest.mark.parametrize(
    "n_features, image_shape", [(1, (1, 1)), (30, (30,)), (64, (8, 8)), (784, (28, 28))]
)
def test_image_shape_inferred_from_flat_input(n_features, image_shape):
    X = np.zeros((3, n_features), dtype=np.uint8)
    assert FlattenScaler().fit(X).image_shape_ == image_shape


# --- parameters -------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", np.float64, np.dtype("float64")])
def test_dtype_float64(images, dtype):
    Xt = FlattenScaler(dtype=dtype).fit_transform(images)
    assert Xt.dtype == np.float64
    assert Xt.flags.c_contiguous
    assert_array_equal(Xt, expected(images, np.float64))


@pytest.mark.parametrize("dtype", ["float32", np.float32, np.dtype("float32")])
def test_dtype_float32(images, dtype):
    Xt = FlattenScaler(dtype=dtype).fit_transform(images.astype(np.float64))
    assert Xt.dtype == np.float32


def test_output_range_is_zero_to_one():
    X = np.array([[0, 1, 127, 255]], dtype=np.uint8)
    Xt = FlattenScaler().fit_transform(X)
    assert_array_equal(Xt, np.array([[0, 1 / 255, 127 / 255, 1]], dtype=np.float32))


def test_scale_one_keeps_images_already_in_unit_range():
    X = np.random.default_rng(0).random((N, 28, 28), dtype=np.float32)
    Xt = FlattenScaler(scale=1.0).fit_transform(X)
    assert Xt.dtype == np.float32
    assert_array_equal(Xt, X.reshape(N, -1))


def test_scale_16_bit_images():
    X = np.array([[[0, 65535], [32768, 1]]], dtype=np.uint16)
    Xt = FlattenScaler(scale=65535, dtype="float64").fit_transform(X)
    assert_array_equal(Xt, X.reshape(1, -1) / 65535)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"scale": 0}, "'scale' parameter"),
        ({"scale": -255.0}, "'scale' parameter"),
        ({"scale": "255"}, "'scale' parameter"),
        ({"dtype": "int8"}, "'dtype' parameter"),
        ({"dtype": np.uint8}, "'dtype' parameter"),
        ({"dtype": "float16"}, "'dtype' parameter"),
    ],
)
def test_invalid_parameters(images, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        FlattenScaler(**params).fit(images)


def test_tags_follow_output_dtype():
    assert get_tags(FlattenScaler()).input_tags.positive_only
    assert get_tags(FlattenScaler()).input_tags.three_d_array
    assert get_tags(FlattenScaler()).transformer_tags.preserves_dtype == ["float32"]
    tags = get_tags(FlattenScaler(dtype="float64"))
    assert tags.transformer_tags.preserves_dtype == ["float64"]


# --- scale="auto": the pixels' convention ------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_mnist_sample(subset="test", return_X_y=True)[0]


@pytest.mark.parametrize(
    "make_input, scale_",
    [
        pytest.param(lambda a: a, 255.0, id="uint8"),
        pytest.param(lambda a: a.astype(np.int64), 255.0, id="int64"),
        pytest.param(lambda a: a.astype(np.float64), 255.0, id="float64-0-255"),
        pytest.param(lambda a: a / 255.0, 1.0, id="float64-unit"),
        pytest.param(lambda a: a.astype(np.float32) / 255, 1.0, id="float32-unit"),
        pytest.param(lambda a: a.reshape(len(a), -1) / 255.0, 1.0, id="flat-unit"),
        pytest.param(lambda a: (a / 255.0).tolist(), 1.0, id="nested-list-unit"),
    ],
)
def test_scale_auto_learns_the_convention(digits, make_input, scale_):
    scaler = FlattenScaler().fit(make_input(digits))
    assert scaler.scale_ == scale_
    # Raw pixels and pixels already divided by 255 give the same network inputs.
    Xt = scaler.transform(make_input(digits))
    np.testing.assert_allclose(Xt, expected(digits), rtol=1e-6, atol=0)


def test_already_scaled_images_are_not_scaled_twice(digits):
    raw = FlattenScaler().fit_transform(digits)
    scaled = FlattenScaler().fit_transform(digits / 255.0)
    np.testing.assert_allclose(scaled, raw, rtol=1e-6, atol=0)
    assert raw.max() == scaled.max() == 1.0


@pytest.mark.parametrize("max_value", [1, 2, 17, 60])
def test_dark_integer_images_are_pixel_values(digits, max_value):
    dark = (digits.astype(np.uint16) * max_value // 255).astype(np.uint8)
    assert dark.max() == max_value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaler = FlattenScaler().fit(dark)
        assert scaler.scale_ == 255.0
        assert_array_equal(scaler.transform(dark), expected(dark))
        # Dark images after a fit on bright ones, and the other way round.
        assert_array_equal(FlattenScaler().fit(digits).transform(dark), expected(dark))
        assert_array_equal(scaler.transform(digits), expected(digits))


def test_all_zero_images_fit_either_convention(digits):
    zeros = np.zeros((2, 28, 28))
    assert FlattenScaler().fit(zeros).scale_ == 255.0
    for fitted in (FlattenScaler().fit(digits), FlattenScaler().fit(digits / 255.0)):
        assert_array_equal(fitted.transform(zeros), np.zeros((2, 784)))


@pytest.mark.parametrize(
    "fit_input, transform_input, match",
    [
        pytest.param(
            lambda a: a,
            lambda a: a / 255.0,
            r"fitted on pixel values from 0 to 255 \(scale='auto' learned "
            r"scale_=255.0\), but X holds floats all within \[0, 1\] \(max 1.0\).*"
            r"for example X \* 255.*set scale=255.0",
            id="fit-raw-transform-unit",
        ),
        pytest.param(
            lambda a: a / 255.0,
            lambda a: a,
            r"fitted on images already scaled to \[0, 1\].*X holds integer pixel "
            r"values \(uint8, max 255\).*for example X / 255",
            id="fit-unit-transform-uint8",
        ),
        pytest.param(
            lambda a: a / 255.0,
            lambda a: a // 255,
            r"X holds integer pixel values \(uint8, max 1\)",
            id="fit-unit-transform-dark-uint8",
        ),
        pytest.param(
            lambda a: a / 255.0,
            lambda a: a.astype(np.float64),
            r"fitted on images already scaled to \[0, 1\].*X holds floats up to "
            r"255.0: pixel values from 0 to 255.*for example X / 255",
            id="fit-unit-transform-float-0-255",
        ),
    ],
)
def test_other_convention_at_transform_is_refused(
    digits, fit_input, transform_input, match
):
    scaler = FlattenScaler().fit(fit_input(digits))
    with pytest.raises(ValueError, match=match):
        scaler.transform(transform_input(digits))
    with pytest.raises(ValueError, match=match):  # one image is enough
        scaler.transform(transform_input(digits[:1]))


def test_explicit_scale_is_used_as_given(digits):
    unit = digits / 255.0
    # No guessing: scale=255.0 divides by 255 whatever the data, as documented.
    scaler = FlattenScaler(scale=255.0).fit(unit)
    assert scaler.scale_ == 255.0
    np.testing.assert_allclose(scaler.transform(unit), expected(digits) / 255)
    scaler = FlattenScaler(scale=1.0).fit(unit)
    assert scaler.scale_ == 1.0
    assert_array_equal(
        scaler.transform(unit), unit.reshape(len(unit), -1).astype(np.float32)
    )
    # And no convention check at transform.
    scaler = FlattenScaler(scale=255.0).fit(digits)
    np.testing.assert_allclose(scaler.transform(unit), expected(digits) / 255)


def test_scale_auto_in_params_and_clone(digits):
    assert FlattenScaler().get_params() == {"scale": "auto", "dtype": np.float32}
    fitted = FlattenScaler().fit(digits / 255.0)
    assert fitted.get_params()["scale"] == "auto"
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "scale_")
    assert clone(FlattenScaler(scale=1.0)).scale == 1.0


def test_refit_learns_the_new_convention(digits):
    scaler = FlattenScaler().fit(digits)
    assert scaler.fit(digits / 255.0).scale_ == 1.0
    assert scaler.fit(digits).scale_ == 255.0


# --- bool images: masks -----------------------------------------------------


@pytest.mark.parametrize("scale", ["auto", 255.0, 1.0, 65535])
def test_bool_images_are_full_ink(digits, scale):
    mask = digits > 127
    scaler = FlattenScaler(scale=scale).fit(mask)
    Xt = scaler.transform(mask)
    assert Xt.dtype == np.float32
    assert_array_equal(Xt, mask.reshape(len(mask), -1).astype(np.float32))


@pytest.mark.parametrize("fit_on", ["raw", "unit"])
def test_bool_images_after_fit_on_pixels(digits, fit_on):
    scaler = FlattenScaler().fit(digits if fit_on == "raw" else digits / 255.0)
    mask = digits[:3] > 127
    assert_array_equal(scaler.transform(mask), mask.reshape(3, -1))


def test_bool_images_as_the_npy_reader_reads_them(digits, tmp_path):
    # skmnist predict's .npy reader makes True 255: the same network inputs.
    mask = digits[:5] > 127
    np.save(tmp_path / "mask.npy", mask)
    read = load_digit_image(tmp_path / "mask.npy")
    assert_array_equal(
        FlattenScaler().fit_transform(mask), FlattenScaler().fit_transform(read)
    )
    scaler = FlattenScaler().fit(mask)
    assert_array_equal(scaler.inverse_transform(scaler.transform(mask)), read)


def test_bool_dataframe(digits):
    df = pd.DataFrame(digits[:4].reshape(4, -1) > 127, columns=PIXEL_NAMES)
    Xt = FlattenScaler().fit_transform(df)
    assert_array_equal(Xt, df.to_numpy().astype(np.float32))


# --- errors -----------------------------------------------------------------


def test_transform_before_fit_raises(images):
    match = "This FlattenScaler instance is not fitted yet"
    with pytest.raises(NotFittedError, match=match):
        FlattenScaler().transform(images)
    with pytest.raises(NotFittedError, match=match):
        FlattenScaler().inverse_transform(expected(images))
    with pytest.raises(NotFittedError, match=match):
        FlattenScaler().get_feature_names_out()


@pytest.mark.parametrize("method", ["fit", "transform"])
@pytest.mark.parametrize(
    "bad_value, match",
    [
        (np.nan, "Input X contains NaN"),
        (np.inf, "Input X contains infinity"),
        (-np.inf, "Input X contains infinity"),
        (
            -3.0,
            r"Negative values in data passed to FlattenScaler: pixel values must "
            r"be 0 \(background\) or more; got min -3.0 and max 255.0",
        ),
        (
            300.0,
            r"Values above 255 in data passed to FlattenScaler: with "
            r"scale='auto', floating-point pixel values must be in \[0, 255\]; "
            r"got min 0.0 and max 300.0. .*scale=65535 for 16-bit images",
        ),
    ],
)
def test_invalid_pixel_values(images, method, bad_value, match):
    X = images.astype(np.float64)
    X[0, 0, :2] = [0, 255]
    X[1, 5, 7] = bad_value
    scaler = FlattenScaler()
    if method == "transform":
        scaler.fit(images)
    with pytest.raises(ValueError, match=match):
        getattr(scaler, method)(X)


def test_integer_values_above_255_are_rejected(images):
    X = images.astype(np.int64)
    X[0, 0, 0] = 300
    with pytest.raises(ValueError, match="got min 0 and max 300"):
        FlattenScaler().fit(X)


def test_range_is_checked_against_scale():
    X = np.array([[0.5, 2.0]])
    with pytest.raises(ValueError, match=r"Values above scale=1 .*\[0, 1\]"):
        FlattenScaler(scale=1.0).fit(X)
    assert_array_equal(FlattenScaler(scale=2.0).fit_transform(X), [[0.25, 1.0]])


def test_failed_fit_does_not_record_a_layout(images):
    scaler = FlattenScaler()
    with pytest.raises(ValueError, match="Negative values"):
        scaler.fit(-images.astype(np.int16) - 1)
    assert not hasattr(scaler, "image_shape_")


@pytest.mark.parametrize(
    "X",
    [
        pytest.param(np.full((2, 784), "a"), id="str-array"),
        pytest.param([[1, "a"] + [0] * 782], id="nested-list"),
        pytest.param(np.array([[1, "a"] + [0] * 782], dtype=object), id="object"),
        pytest.param(pd.DataFrame({"a": ["x", "y"], "b": ["1", "2"]}), id="dataframe"),
        pytest.param(np.full((2, 28, 28), "7"), id="str-images"),
    ],
)
def test_strings_are_rejected(X):
    with pytest.raises(ValueError, match="contains strings.*FlattenScaler takes"):
        FlattenScaler().fit(X)


def test_different_image_shape_at_transform(images):
    scaler = FlattenScaler().fit(images)
    X = np.zeros((2, 32, 32), dtype=np.uint8)
    msg = (
        r"X contains images of shape \(32, 32\), but FlattenScaler was fitted on "
        r"images of shape \(28, 28\)"
    )
    with pytest.raises(ValueError, match=msg):
        scaler.transform(X)
    # Same number of pixels, other arrangement: still a different image.
    with pytest.raises(ValueError, match=r"shape \(14, 56\)"):
        scaler.transform(images.reshape(N, 14, 56))
    with pytest.raises(ValueError, match=r"shape \(32, 32\)"):
        scaler.transform(X[..., np.newaxis])


def test_images_after_fit_on_non_square_flat_input():
    scaler = FlattenScaler().fit(np.zeros((2, 30), dtype=np.uint8))
    with pytest.raises(ValueError, match="fitted on flat input with 30 features"):
        scaler.transform(np.zeros((2, 5, 6), dtype=np.uint8))


def test_wrong_number_of_flat_features(images):
    scaler = FlattenScaler().fit(images)
    msg = "X has 783 features, but FlattenScaler is expecting 784 features as input"
    with pytest.raises(ValueError, match=msg):
        scaler.transform(images.reshape(N, -1)[:, :-1])


def test_single_2d_image_gets_a_hint(images):
    scaler = FlattenScaler().fit(images)
    with pytest.raises(ValueError, match=r"looks like one image.*X\[np.newaxis\]"):
        scaler.transform(images[0])


@pytest.mark.parametrize("method", ["fit", "transform"])
@pytest.mark.parametrize(
    "X, match",
    [
        pytest.param(np.zeros(784), "got a 1D array of shape", id="1d"),
        pytest.param(np.float64(3.0), "got a 0D array", id="0d"),
        pytest.param([1, 2, 3], "got a 1D array", id="1d-list"),
        pytest.param(np.zeros((0, 28, 28)), "0 sample", id="empty-images"),
        pytest.param(np.zeros((0, 784)), "0 sample", id="empty-flat"),
        pytest.param(
            np.zeros((2, 0, 0)), r"0 feature|shape \(0, 0\)", id="empty-image"
        ),
        pytest.param(np.zeros((2, 28, 28, 3)), "single-channel", id="rgb"),
        pytest.param(np.zeros((2, 1, 28, 28, 1)), "got X of shape", id="5d"),
    ],
)
def test_invalid_shapes(images, method, X, match):
    scaler = FlattenScaler()
    if method == "transform":
        scaler.fit(images)
    with pytest.raises(ValueError, match=match):
        getattr(scaler, method)(X)


def test_1d_error_suggests_reshape(images):
    scaler = FlattenScaler().fit(images)
    with pytest.raises(ValueError, match=r"Reshape your data with X.reshape\(1, -1\)"):
        scaler.transform(images[0].ravel())


# --- feature names and pandas output ----------------------------------------


def test_get_feature_names_out_default(images):
    scaler = FlattenScaler().fit(images)
    names = scaler.get_feature_names_out()
    assert names.dtype == object
    assert_array_equal(names, PIXEL_NAMES)


def test_get_feature_names_out_with_input_features(images):
    scaler = FlattenScaler().fit(images)
    names = [f"f{i}" for i in range(784)]
    assert_array_equal(scaler.get_feature_names_out(names), names)
    with pytest.raises(ValueError, match="input_features should have length equal"):
        scaler.get_feature_names_out(names[:10])


def test_set_output_pandas(images):
    scaler = FlattenScaler().set_output(transform="pandas")
    out = scaler.fit_transform(images)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == PIXEL_NAMES
    assert out.shape == (N, 784)
    assert_array_equal(out.to_numpy(), expected(images))
    assert isinstance(scaler.transform(images[..., np.newaxis]), pd.DataFrame)


def test_set_output_pandas_keeps_dataframe_index_and_columns(images):
    columns = [f"c{i}" for i in range(784)]
    df = pd.DataFrame(images.reshape(N, -1), columns=columns, index=list("abcdef"))
    out = FlattenScaler().set_output(transform="pandas").fit_transform(df)
    assert list(out.columns) == columns
    assert list(out.index) == list("abcdef")


# --- inverse_transform ------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inverse_transform_round_trip_is_exact(dtype):
    images = np.random.default_rng(0).integers(0, 256, (200, 28, 28), dtype=np.uint8)
    scaler = FlattenScaler(dtype=dtype).fit(images)
    back = scaler.inverse_transform(scaler.transform(images))
    assert back.dtype == np.uint8
    assert back.shape == (200, 28, 28)
    assert_array_equal(back, images)


def test_inverse_transform_of_every_pixel_value():
    values = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    scaler = FlattenScaler().fit(values)
    assert_array_equal(scaler.inverse_transform(scaler.transform(values)), values)


def test_inverse_transform_returns_fitted_shape(images):
    scaler = FlattenScaler().fit(images[..., np.newaxis])
    assert scaler.inverse_transform(scaler.transform(images)).shape == (N, 28, 28)
    flat = np.zeros((2, 30), dtype=np.uint8)
    scaler = FlattenScaler().fit(flat)
    assert_array_equal(scaler.inverse_transform(scaler.transform(flat)), flat)


def test_inverse_transform_from_pandas_output(images):
    scaler = FlattenScaler().set_output(transform="pandas").fit(images)
    assert_array_equal(scaler.inverse_transform(scaler.transform(images)), images)


def test_inverse_transform_rounds_and_clips():
    scaler = FlattenScaler().fit(np.zeros((1, 2, 2), dtype=np.uint8))
    Xt = np.array([[-0.5, 0.1 / 255, 2.6 / 255, 1.5]])
    assert_array_equal(scaler.inverse_transform(Xt), [[[0, 0], [3, 255]]])


def test_inverse_transform_wrong_number_of_features(images):
    scaler = FlattenScaler().fit(images)
    with pytest.raises(ValueError, match="X has 10 features, but FlattenScaler is"):
        scaler.inverse_transform(np.zeros((2, 10)))


def test_inverse_transform_of_images_in_unit_range(digits):
    unit = (digits[:10] / 255.0).astype(np.float32)
    scaler = FlattenScaler().fit(unit)
    back = scaler.inverse_transform(scaler.transform(unit))
    assert back.dtype == np.float32
    assert_array_equal(back, unit)
    # Clipped to [0, scale_] = [0, 1].
    clipped = scaler.inverse_transform(np.full((1, 784), 1.5))
    assert_array_equal(clipped, np.ones((1, 28, 28)))


@pytest.mark.parametrize(
    "scale, dtype", [(65535, np.uint16), (4095, np.uint16), (255.0, np.uint8)]
)
def test_inverse_transform_follows_the_scale(scale, dtype):
    rng = np.random.default_rng(0)
    images = rng.integers(0, scale, (5, 28, 28), endpoint=True).astype(dtype)
    images[0, 0, :2] = [0, scale]
    scaler = FlattenScaler(scale=scale, dtype="float64").fit(images)
    back = scaler.inverse_transform(scaler.transform(images))
    assert back.dtype == dtype
    assert_array_equal(back, images)
    # Values above 1 are clipped to the scale, not to 255.
    too_bright = scaler.inverse_transform(np.full((1, 784), 2.0))
    assert_array_equal(too_bright, np.full((1, 28, 28), scale, dtype=dtype))


# --- in the pipeline --------------------------------------------------------


@pytest.mark.slow
def test_pipeline_on_images_already_divided_by_255():
    # The Keras tutorial divides by 255 first: the pipeline must train as well.
    from skmnist import make_mnist_pipeline

    X, y = load_mnist_sample(return_X_y=True)
    X_test, y_test = load_mnist_sample(subset="test", return_X_y=True)

    def pipeline():
        return make_mnist_pipeline(hidden_size=64, epochs=5, random_state=0)

    raw = pipeline().fit(X, y)
    scaled = pipeline().fit(X / 255.0, y)
    assert scaled.score(X_test / 255.0, y_test) >= raw.score(X_test, y_test) - 0.01
    # A model trained on raw pixels refuses images divided by 255, and the
    # other way round, instead of predicting from almost black images.
    with pytest.raises(ValueError, match=r"X holds floats all within \[0, 1\]"):
        raw.predict(X_test / 255.0)
    with pytest.raises(ValueError, match="X holds integer pixel values"):
        scaled.predict(X_test)
