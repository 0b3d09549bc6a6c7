"""Tests of skmnist.images._photos: pictures of digits -> MNIST's 28 x 28 images."""

import doctest
import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

import skmnist.images._photos
from skmnist import digit_to_mnist, load_digit_image, load_mnist_sample

ROOT = Path(__file__).resolve().parents[1]


def center_of_mass(image):
    image = np.asarray(image, dtype=np.float64)
    mass = image.sum()
    rows = image.sum(axis=1) @ np.arange(image.shape[0]) / mass
    cols = image.sum(axis=0) @ np.arange(image.shape[1]) / mass
    return rows, cols


def ink_box(image):
    """(height, width) of the bounding box of the nonzero pixels."""
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def draw_seven(size=(200, 160), ink=0, paper=255, mode="L"):
    """A thick '7', dark on white by default, off-centre and far above 20x20."""
    image = Image.new(mode, size, paper)
    draw = ImageDraw.Draw(image)
    draw.line([(30, 15), (110, 15), (65, 140)], fill=ink, width=14)
    return image


@pytest.fixture(scope="module")
def seven_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("images") / "seven.png"
    draw_seven().save(path)
    return path


@pytest.fixture(scope="module")
def sample_test():
    return load_mnist_sample(subset="test", return_X_y=True)


@pytest.fixture(scope="module")
def small_pipeline():
    """A small model trained on the packaged sample (hidden 128, 10 epochs)."""
    from skmnist import make_mnist_pipeline

    X, y = load_mnist_sample(subset="train", return_X_y=True)
    return make_mnist_pipeline(hidden_size=128, epochs=10, random_state=0).fit(X, y)


# -- images drawn with Pillow ----------------------------------------------------------


def test_drawn_digit_becomes_an_mnist_image(seven_png):
    digit = load_digit_image(seven_png)
    assert digit.shape == (28, 28)
    assert digit.dtype == np.uint8
    # Dark ink on white paper is inverted: black background, bright ink.
    border = np.concatenate([digit[0], digit[-1], digit[:, 0], digit[:, -1]])
    assert not border.any()
    assert digit.max() == 255
    # The ink fits in 20 x 20, its longer side exactly 20, as in MNIST.
    height, width = ink_box(digit)
    assert max(height, width) == 20
    assert min(height, width) < 20
    # Centred by mass at (14, 14), as MNIST's digits are.
    row, col = center_of_mass(digit)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1


def test_an_image_file_object_reads_as_its_file(seven_png):
    """Bytes in memory (an upload, say) convert as the same picture on disk."""
    picture = io.BytesIO(seven_png.read_bytes())
    np.testing.assert_array_equal(
        load_digit_image(picture), load_digit_image(seven_png)
    )
    garbage = io.BytesIO(b"not a picture")
    garbage.name = "upload.png"
    with pytest.raises(ValueError, match="upload.png: not an image file"):
        load_digit_image(garbage)
    with pytest.raises(ValueError, match="^image: the image cannot be decoded"):
        load_digit_image(io.BytesIO(seven_png.read_bytes()[:200]))


def test_aspect_ratio_is_kept():
    page = np.full((300, 300), 255, dtype=np.uint8)
    page[40:240, 100:150] = 0  # a bar 200 high and 50 wide: 4 to 1
    height, width = ink_box(digit_to_mnist(page))
    assert height == 20
    assert width == 5


def test_small_digit_is_enlarged_to_20_pixels():
    page = np.zeros((60, 60), dtype=np.uint8)
    page[30:40, 20:25] = 200  # 10 x 5 of light ink on black
    digit = digit_to_mnist(page)
    assert ink_box(digit) == (20, 10)
    assert digit.max() == 255


def test_light_on_dark_is_not_inverted(seven_png):
    dark_on_light = load_digit_image(seven_png)
    light_on_dark = digit_to_mnist(np.asarray(ImageOps.invert(draw_seven())))
    np.testing.assert_array_equal(light_on_dark, dark_on_light)


def test_invert_can_be_forced(seven_png):
    gray = np.asarray(draw_seven())
    np.testing.assert_array_equal(
        digit_to_mnist(gray, invert=True), load_digit_image(seven_png)
    )
    # Not inverting dark ink on white leaves no ink brighter than the paper.
    with pytest.raises(ValueError, match="blank"):
        digit_to_mnist(gray, invert=False)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA", "P", "1"])
def test_colour_and_transparent_images(tmp_path, seven_png, mode):
    expected = load_digit_image(seven_png)
    if mode == "RGBA":
        # Black ink on a transparent background: transparency is white paper.
        image = draw_seven(mode="RGBA", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0))
    elif mode == "RGB":
        image = draw_seven(mode="RGB", ink=(20, 20, 120), paper=(250, 250, 240))
    else:
        image = draw_seven().convert(mode)
    path = tmp_path / f"seven-{mode}.png"
    image.save(path)
    digit = load_digit_image(path)
    assert np.corrcoef(digit.ravel(), expected.ravel())[0, 1] > 0.95


def test_noisy_photo_of_a_digit(tmp_path, seven_png):
    rng = np.random.default_rng(0)
    gray = np.asarray(draw_seven(), dtype=np.float64)
    # Gray paper, dark-gray ink, sensor noise, saved as a lossy JPEG.
    photo = 180 - 0.5 * (255 - gray) + rng.normal(0, 6, gray.shape)
    path = tmp_path / "photo.jpg"
    Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)).save(path, quality=75)
    digit = load_digit_image(path)
    expected = load_digit_image(seven_png)
    assert max(ink_box(digit)) == 20
    assert np.corrcoef(digit.ravel(), expected.ravel())[0, 1] > 0.8


def test_off_centre_mass_never_cuts_ink():
    # A heavy top bar and a thin stem: the centre of mass is near the top, so
    # centring it at row 14 would push the bottom of the stem out of the field.
    page = np.zeros((200, 200), dtype=np.uint8)
    page[0:40, :] = 255
    page[40:200, 95:100] = 255
    digit = digit_to_mnist(page)
    assert ink_box(digit) == (20, 20)
    assert digit[:, 4:24].any(axis=1).sum() == 20


# -- real MNIST digits -----------------------------------------------------------------


@pytest.mark.slow
def test_real_mnist_digits_round_trip(tmp_path, sample_test, small_pipeline):
    X, _ = sample_test
    originals = X[:20]
    loaded, loaded_inverted = [], []
    for i, image in enumerate(originals):
        Image.fromarray(image).save(tmp_path / f"{i}.png")
        Image.fromarray(255 - image).save(tmp_path / f"{i}-inverted.png")
        loaded.append(load_digit_image(tmp_path / f"{i}.png"))
        loaded_inverted.append(load_digit_image(tmp_path / f"{i}-inverted.png"))
    loaded, loaded_inverted = np.array(loaded), np.array(loaded_inverted)
    # A digit already in MNIST's format comes back (almost) unchanged, from
    # light-on-dark and from dark-on-light pictures alike.
    np.testing.assert_array_equal(loaded_inverted, loaded)
    for original, image in zip(originals, loaded, strict=True):
        correlation = np.corrcoef(original.ravel(), image.ravel())[0, 1]
        assert correlation > 0.95
    expected = small_pipeline.predict(originals)
    assert (small_pipeline.predict(loaded) == expected).mean() >= 0.95


@pytest.mark.slow
def test_real_mnist_digit_from_a_larger_picture(tmp_path, sample_test, small_pipeline):
    # An MNIST digit scaled up 5x, dark on white, off-centre on a bigger page.
    X, _ = sample_test
    cors, same = [], []
    for i in range(10):
        big = Image.fromarray(255 - X[i]).resize((140, 140), Image.Resampling.BICUBIC)
        page = Image.new("L", (300, 220), 255)
        page.paste(big, (20 + 10 * i, 40))
        path = tmp_path / f"page{i}.png"
        page.save(path)
        digit = load_digit_image(path)
        cors.append(np.corrcoef(digit.ravel(), X[i].ravel())[0, 1])
        same.append(
            small_pipeline.predict(digit[None])[0]
            == small_pipeline.predict(X[i : i + 1])[0]
        )
    assert min(cors) > 0.8
    # The model (about 0.93 accurate) reads most of them as it reads the originals.
    assert np.mean(same) >= 0.7


# -- .npy arrays -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((28, 28), (28, 28)),
        ((784,), (28, 28)),
        ((28, 28, 1), (28, 28)),
        ((3, 28, 28), (3, 28, 28)),
        ((3, 784), (3, 28, 28)),
        ((3, 28, 28, 1), (3, 28, 28)),
    ],
)
def test_npy_shapes(tmp_path, sample_test, shape, expected):
    X, _ = sample_test
    images = X[: int(np.prod(expected)) // 784].reshape(shape)
    path = tmp_path / "digits.npy"
    np.save(path, images)
    digits = load_digit_image(path)
    assert digits.shape == expected
    assert digits.dtype == np.uint8
    np.testing.assert_array_equal(digits.reshape(-1), images.reshape(-1))


def test_npy_values(tmp_path, sample_test):
    X, _ = sample_test
    path = tmp_path / "digits.NPY"  # the extension in any case

    def load(array):
        with open(path, "wb") as file:
            np.save(file, array)
        return load_digit_image(path)

    # Floats in [0, 255]; other integers.
    np.testing.assert_array_equal(load(X[:2].astype(np.float64)), X[:2])
    np.testing.assert_array_equal(load(X[:2].astype(np.int64)), X[:2])
    # A boolean mask: ink is 255.
    np.testing.assert_array_equal(load(X[0] > 127), (X[0] > 127) * 255)
    # Images scaled to [0, 1] would read as almost black: refused, naming the fix.
    with pytest.raises(ValueError, match=r"digits.NPY .* looks scaled to .*by 255"):
        load(X[:2].astype(np.float32) / 255)


@pytest.mark.parametrize(
    "array, match",
    [
        (np.zeros((27, 28), dtype=np.uint8), r"shape \(27, 28\)"),
        (np.zeros((2, 3, 28, 28), dtype=np.uint8), r"shape \(2, 3, 28, 28\)"),
        (np.zeros((0, 28, 28), dtype=np.uint8), "no images"),
        (np.full((28, 28), 256, dtype=np.int64), r"\[0, 255\]"),
        (np.full((28, 28), -1.0), r"\[0, 255\]"),
        (np.full((28, 28), np.nan), "NaN"),
        (np.full((28, 28), "x"), "contains strings"),
    ],
)
def test_npy_errors_name_the_file(tmp_path, array, match):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(ValueError, match=match) as info:
        load_digit_image(path)
    assert "bad.npy" in str(info.value)


def test_npy_never_unpickles(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="objects.npy: not a readable .npy array file"):
        load_digit_image(path)


# -- errors ----------------------------------------------------------------------------


def test_missing_file(tmp_path):
    for name in ("missing.png", "missing.npy"):
        with pytest.raises(FileNotFoundError, match="No such file") as info:
            load_digit_image(tmp_path / name)
        assert info.value.filename.endswith(name)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    with pytest.raises(ValueError, match="notes.png: not an image"):
        load_digit_image(path)


def test_truncated_image(tmp_path, seven_png):
    path = tmp_path / "cut.png"
    path.write_bytes(seven_png.read_bytes()[:200])
    with pytest.raises(ValueError, match="cut.png: the image cannot be decoded"):
        load_digit_image(path)


@pytest.mark.parametrize("size", [8, 10])
def test_an_image_cut_within_its_header_is_called_truncated(tmp_path, seven_png, size):
    data = seven_png.read_bytes()[:size]
    path = tmp_path / "cut.png"
    path.write_bytes(data)
    for source in (path, io.BytesIO(data)):
        with pytest.raises(ValueError, match="the image is truncated") as info:
            load_digit_image(source)
        assert "not an image file" not in str(info.value)


def test_special_files_are_refused_before_they_are_opened(tmp_path):
    # A FIFO is refused the same way (tested in a subprocess with a timeout in
    # test_cli.py: a FIFO without a writer would block open() forever).
    path = tmp_path / "digit.png"
    path.mkdir()
    with pytest.raises(ValueError, match=r"digit.png is a folder, not an image"):
        load_digit_image(path)


@pytest.mark.parametrize("level", [0, 128, 255])
def test_blank_images(tmp_path, level):
    path = tmp_path / "blank.png"
    Image.new("L", (64, 48), level).save(path)
    with pytest.raises(ValueError, match="blank.png: the image is blank"):
        load_digit_image(path)


def test_faint_noise_is_blank():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="blank"):
        digit_to_mnist(rng.normal(240, 3, size=(50, 50)))


def test_bad_arrays_and_options():
    with pytest.raises(ValueError, match="2-D"):
        digit_to_mnist(np.zeros((3, 28, 28)))
    with pytest.raises(ValueError, match="NaN"):
        digit_to_mnist(np.full((5, 5), np.nan))
    with pytest.raises(ValueError, match="invert"):
        digit_to_mnist(np.zeros((5, 5)), invert="yes")


# -- large pictures: shrunk before they become floats ----------------------------------


def draw_seven_scaled(side, mode="L", ink=0, paper=255):
    """A thick '7' on a square page of `side` pixels, in proportion at any size."""
    image = Image.new(mode, (side, side), paper)
    points = [(0.2 * side, 0.1 * side), (0.7 * side, 0.1 * side)]
    points.append((0.4 * side, 0.9 * side))
    ImageDraw.Draw(image).line(points, fill=ink, width=max(1, side // 15))
    return image


@pytest.fixture(scope="module")
def small_seven():
    return digit_to_mnist(np.asarray(draw_seven_scaled(300)))


def test_huge_png_is_read_in_bounded_memory(tmp_path, small_seven):
    # 9000 x 9000 pixels, 0.4 MB on disk: 81 million pixels, 5 GB as floats.
    path = tmp_path / "huge.png"
    draw_seven_scaled(9000).save(path, compress_level=1)
    code = (
        "import resource, sys\n"
        "import numpy as np\n"
        "from skmnist import load_digit_image\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "digit = load_digit_image(sys.argv[1])\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "np.save(sys.argv[2], digit)\n"
        "print(before, after)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, path, tmp_path / "digit.npy"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    before, after = (int(n) for n in result.stdout.split())
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes or KiB
    grown_mib = (after - before) * unit / 2**20
    # The image decoded in 1 byte per pixel is 77 MiB; 5 GB before the fix.
    assert grown_mib < 400, f"reading the image took {grown_mib:.0f} MiB"
    digit = np.load(tmp_path / "digit.npy")
    assert digit.shape == (28, 28) and digit.max() == 255
    assert np.corrcoef(digit.ravel(), small_seven.ravel())[0, 1] > 0.95


def png_header_only(path, width, height):
    """A PNG file that claims `width` x `height` pixels and holds none of them."""

    def chunk(kind, data):
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    "width, height, match",
    [
        (10_000, 9_000, "10000 x 9000 pixels"),  # just above the limit
        (100_000, 100_000, "decompression bomb"),  # Pillow's own refusal
    ],
)
def test_too_large_images_are_refused_before_decoding(tmp_path, width, height, match):
    path = png_header_only(tmp_path / "bomb.png", width, height)
    with pytest.raises(ValueError, match=match) as info:
        load_digit_image(path)
    message = str(info.value)
    assert message.startswith(f"{path}: the image is too large to read")
    assert "89,478,485 pixels" in message and "crop the picture" in message


def test_large_jpeg_photo_is_turned_upright(tmp_path, small_seven):
    # A photo 3000 pixels wide, stored on its side with EXIF orientation 6
    # ("rotate 90 degrees clockwise to view"): decoded at a fraction of its size.
    upright = draw_seven_scaled(
        3000, mode="RGB", ink=(30, 30, 30), paper=(240, 240, 230)
    )
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "photo.jpg"
    stored.save(path, quality=85, exif=exif)
    digit = load_digit_image(path)
    assert np.corrcoef(digit.ravel(), small_seven.ravel())[0, 1] > 0.9


@pytest.mark.parametrize("mode", ["I;16", "RGBA", "1", "P"])
def test_large_images_of_every_mode(tmp_path, small_seven, mode):
    side = 2500  # shrunk by 3 to 834 pixels
    gray = draw_seven_scaled(side)
    if mode == "I;16":
        image = Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)
        assert image.mode == "I;16"
    elif mode == "RGBA":
        image = draw_seven_scaled(
            side, mode="RGBA", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0)
        )
    else:
        image = gray.convert(mode)
    path = tmp_path / f"seven-{mode.replace(';', '')}.png"
    image.save(path)
    digit = load_digit_image(path)
    assert np.corrcoef(digit.ravel(), small_seven.ravel())[0, 1] > 0.95


def test_docstring_examples_run():
    result = doctest.testmod(skmnist.images._photos)
    assert result.attempted > 0
    assert result.failed == 0
