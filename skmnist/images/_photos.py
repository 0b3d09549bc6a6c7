"""Turn pictures of digits into MNIST images: 28 x 28 ``uint8``, light ink on black.

MNIST was made from scans of black-on-white digits: each one was fitted into a
20 x 20 box, keeping its aspect ratio, with anti-aliasing (hence gray levels),
then placed in a 28 x 28 field so that its centre of mass lies at the field's
centre. :func:`digit_to_mnist` does the same to any grayscale picture of one
digit, and :func:`load_digit_image` reads one from a file (an image Pillow can
open, or a ``.npy`` array already in MNIST's format).

This module needs NumPy and SciPy; Pillow is imported only to read image files
and to resize, so that ``.npy`` arrays need nothing more.

Image files are shrunk by Pillow, in their own 1 to 4 bytes per pixel, to at
most `WORK_SIDE` pixels on a side before they become floating-point arrays, and
images of more than `MAX_PIXELS` are refused before they are decoded: reading a
file takes at most about 4 bytes per pixel of the image it holds, and a few MB.
"""

import math
import os

import numpy as np

from .._errors import MissingExtra
from ._arrays import mnist_images

__all__ = ["digit_to_mnist", "load_digit_image"]

MNIST_SIDE = 28
BOX_SIDE = 20
# MNIST's centres of mass average (14.0, 14.0) in (row, column) pixel indices.
MNIST_CENTER = (14.0, 14.0)
# Ink must stand this far (in gray levels) above the background's noise to count.
MIN_CONTRAST = 16.0
# Background pixels spread more than this (in robust standard deviations) are ink.
NOISE_SIGMAS = 5.0
# On a noisy background, groups of ink pixels holding less than this fraction of
# all the ink are specks of noise, not parts of the digit.
SPECK_FRACTION = 0.01

# Image files are shrunk (by whole factors, averaging) to at most this many
# pixels on their longer side before anything else: enough for a digit that
# fills a tenth of the picture's width to keep 100 pixels, more than the 20 it
# ends up with.
WORK_SIDE = 1024
# Larger images are refused before they are decoded (Pillow's own threshold
# for a possible decompression bomb, about 89 megapixels: 358 MB in RGB).
MAX_PIXELS = 89_478_485

_INVERT_OPTIONS = ("auto", True, False)


def digit_to_mnist(image, *, invert="auto", name="image"):
    """Convert a grayscale picture of one digit into an MNIST image.

    The steps are those that made MNIST: the picture is inverted if its
    background is light, so that the ink is bright on a black background; the
    background (a plane fitted to the picture's border, which follows uneven
    lighting) is subtracted and the contrast stretched so that the strongest
    ink is 255; the picture is
    cropped to the bounding box of its ink, resized with anti-aliasing so that
    its longer side is 20 pixels (keeping the aspect ratio), and pasted into a
    black 28 x 28 field, shifted by whole pixels so that its centre of mass is
    at (14, 14) (row, column), where MNIST's digits have theirs. A digit whose
    centre of mass is far off-centre is shifted less, so that no ink is cut off.

    Parameters
    ----------
    image : array-like of shape (height, width)
        A grayscale picture of a single digit, any size, with gray levels from
        0 (black) to 255 (white); floating-point pictures whose values are all
        in [0, 1] are scaled by 255 first. Pixels that differ from the
        background by no more than five times the border's noise (its robust
        standard deviation) are background. Noisy pictures larger than 56
        pixels are first smoothed at a scale finer than one pixel of the
        result, and specks holding less than 1% of their ink are erased.

    invert : {"auto", True, False}, default="auto"
        Whether to invert the gray levels (for dark ink on a light
        background). "auto" inverts when the median of the border pixels is
        closer to the picture's maximum than to its minimum.

    name : str, default="image"
        What to call the picture in error messages, e.g. its file name.

    Returns
    -------
    digit : ndarray of shape (28, 28), dtype uint8
        The digit in MNIST's format: background 0, ink up to 255.

    Raises
    ------
    ValueError
        If `image` is not a 2-D array of finite numbers, or holds no ink (a
        blank or uniform picture).

    See Also
    --------
    load_digit_image : Read a digit from an image or ``.npy`` file.

    Examples
    --------
    >>> import numpy as np
    >>> from skmnist import digit_to_mnist
    >>> page = np.full((100, 60), 255, dtype=np.uint8)  # white paper
    >>> page[10:90, 5:25] = 0                             # a thick black "1"
    >>> digit = digit_to_mnist(page)
    >>> digit.shape, digit.dtype
    ((28, 28), dtype('uint8'))
    >>> int(digit[0, 0]), int(digit.max())                # inverted: ink is bright
    (0, 255)
    >>> rows, cols = np.nonzero(digit)
    >>> int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
    (20, 5)
    """
    if invert not in _INVERT_OPTIONS:
        raise ValueError(f"invert must be 'auto', True or False; got {invert!r}.")
    try:
        gray = np.asarray(image, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a 2-D array of numbers: {exc}") from exc
    if gray.ndim != 2 or min(gray.shape) < 1:
        raise ValueError(
            f"{name}: expected a 2-D grayscale image (height, width); got an "
            f"array of shape {gray.shape}."
        )
    if not np.isfinite(gray).all():
        raise ValueError(f"{name}: the image holds NaN or infinite values.")
    if gray.max() <= 1.0 and not np.issubdtype(np.asarray(image).dtype, np.integer):
        gray = gray * 255.0  # intensities in [0, 1]

    low, high = gray.min(), gray.max()
    if invert == "auto":
        paper = np.median(_border(gray))
        invert = paper - low > high - paper
    if invert:
        gray = high + low - gray

    # The background: a plane fitted to the border (paper under uneven light),
    # and its noise: the robust spread of the border around that plane.
    background, noise = _background(gray)
    if noise > 0 and max(gray.shape) > 2 * MNIST_SIDE:
        # A noisy picture (a photo, a scan) far larger than MNIST's: smooth it
        # at a scale below one pixel of the result, which the resizing would
        # average away anyway, so that noise no longer passes for ink.
        from scipy import ndimage

        sigma = max(gray.shape) / (4 * MNIST_SIDE)
        gray = ndimage.gaussian_filter(gray, sigma=sigma, mode="nearest")
        background, noise = _background(gray)
    # (The margin of 1e-3 gray levels keeps the plane's rounding errors out.)
    ink = gray - (background + NOISE_SIGMAS * noise + 1e-3)
    peak = ink.max()
    if peak < MIN_CONTRAST:
        raise _blank(name)
    ink = np.clip(ink * (255.0 / peak), 0.0, 255.0)
    if noise > 0:
        ink = _drop_specks(ink)

    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    box = _fit_into_box(ink, BOX_SIDE)
    if box.max() <= 0:  # specks of ink too faint to survive the resizing
        raise _blank(name)
    # Resizing averages thin strokes into grays: the strongest ink is 255 again.
    box *= 255.0 / box.max()
    return _paste_centered(box, MNIST_SIDE, MNIST_CENTER)


def load_digit_image(path, *, invert="auto"):
    """Read a digit from a file, in MNIST's format.

    Two kinds of files are read:

    - images that Pillow can open (PNG, JPEG, BMP, GIF, TIFF, ...), of a
      single digit, in colour or not, of up to about 89 megapixels
      (`MAX_PIXELS`, checked before decoding): they are shrunk to at most
      1024 pixels on their longer side (averaging whole blocks of pixels),
      converted to grayscale (transparent parts count as white paper, photos
      are turned upright by their EXIF orientation) and then to MNIST's format
      by :func:`digit_to_mnist`;
    - NumPy ``.npy`` files of images already in MNIST's format, light ink on a
      black background: one image of shape (28, 28) or (784,), or a stack of
      shape (n, 28, 28), (n, 784) or (n, 28, 28, 1). Values must be pixel
      values in [0, 255] (floats are rounded; booleans are masks, True full
      ink); floats all within [0, 1] are refused as images scaled to [0, 1]
      (multiply them by 255), as everywhere 0-255 images are read (see
      ``skmnist.images._arrays.mnist_images``). They are not re-centred or
      resized.

    Parameters
    ----------
    path : str, path-like or binary file object
        The file. A name ending in ``.npy`` (any case) is read as a NumPy
        array (never unpickling), anything else as an image. A file object
        open for binary reading (such as ``io.BytesIO(png_bytes)``) is read as
        an image, and named in messages by its ``name`` attribute, if any.

    invert : {"auto", True, False}, default="auto"
        For images: whether to invert the gray levels; see
        :func:`digit_to_mnist`. Ignored for ``.npy`` arrays.

    Returns
    -------
    digits : ndarray of shape (28, 28) or (n, 28, 28), dtype uint8
        One image, or for a ``.npy`` stack one image per entry: background 0,
        ink up to 255, ready for :func:`skmnist.make_mnist_pipeline`'s
        ``predict`` (add a first axis to a single image: ``digits[None]``).

    Raises
    ------
    OSError
        If the file cannot be opened (FileNotFoundError for a missing file);
        the exception's ``filename`` is the path.
    ValueError
        If the path is not a regular file (a folder, FIFO, socket or device,
        refused before it is opened), if the file is not an image Pillow can
        read or not a valid ``.npy``
        file, if the image has more than `MAX_PIXELS` pixels, if the image is
        blank (no ink), or if an array has a shape or values that are not
        MNIST's. The message names the file.
    ImportError
        If an image is given and Pillow is not installed.

    See Also
    --------
    digit_to_mnist : The conversion, for arrays already in memory.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skmnist import load_digit_image
    >>> from skmnist import load_mnist_sample
    >>> X, y = load_mnist_sample(subset="test", return_X_y=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.npy")
    >>> np.save(path, X[:3])
    >>> load_digit_image(path).shape
    (3, 28, 28)
    """
    if hasattr(path, "read"):
        name = str(getattr(path, "name", "image"))
        return digit_to_mnist(_read_gray(path, name), invert=invert, name=name)
    path = os.fspath(path)
    _check_regular_file(path)
    if str(path).lower().endswith(".npy"):
        return _load_npy(path)
    return digit_to_mnist(_read_gray(path, str(path)), invert=invert, name=str(path))


def _check_regular_file(path):
    """Refuse, before opening it, a path that is not a regular file: a FIFO
    would block the reader and a device would be read without end."""
    import stat

    mode = os.stat(path).st_mode  # FileNotFoundError names the path
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        kind = "a folder"
    elif stat.S_ISFIFO(mode):
        kind = "a named pipe (FIFO)"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    else:
        kind = "not a regular file"
    raise ValueError(
        f"{path} is {kind}, not an image or .npy file: give the path of a regular file."
    )


def _blank(name):
    return ValueError(
        f"{name}: the image is blank: no ink stands out from its background "
        "(a digit must be darker or lighter than the paper around it)."
    )


def _drop_specks(ink):
    """Erase the specks of noise that stand out from a noisy background.

    Connected groups of ink pixels (8-connected) that hold less than
    `SPECK_FRACTION` of all the ink are noise (dust, grain, compression
    artefacts), which would otherwise stretch the digit's bounding box.
    """
    from scipy import ndimage

    groups, count = ndimage.label(ink > 0, structure=np.ones((3, 3)))
    if count <= 1:
        return ink
    mass = ndimage.sum_labels(ink, groups, index=np.arange(1, count + 1))
    keep = np.concatenate([[False], mass >= SPECK_FRACTION * mass.sum()])
    return np.where(keep[groups], ink, 0.0)


def _background(gray):
    """The background of a picture, and the noise around it.

    A plane ``a + b * row + c * col`` is fitted by least squares to the border
    pixels near their median, then again to those near the first plane, so
    that ink touching the border is left out. Returns the plane, as an array
    the shape of `gray`, and the robust standard deviation of the border
    around it; noise below half a gray level (a clean digital picture) counts
    as none.
    """
    rows = np.arange(gray.shape[0], dtype=np.float64)[:, np.newaxis]
    cols = np.arange(gray.shape[1], dtype=np.float64)[np.newaxis, :]
    border_rows = _border(np.broadcast_to(rows, gray.shape))
    border_cols = _border(np.broadcast_to(cols, gray.shape))
    design = np.column_stack([np.ones(len(border_rows)), border_rows, border_cols])
    values = _border(gray)
    # Start from the median, which ink covering less than half the border
    # cannot move, then fit the plane to the pixels near it.
    residuals = values - np.median(values)
    spread = 1.4826 * np.median(np.abs(residuals))
    keep = np.abs(residuals) <= 3 * max(spread, 1.0)
    for _ in range(2):
        coef = np.linalg.lstsq(design[keep], values[keep], rcond=None)[0]
        residuals = values - design @ coef
        spread = 1.4826 * np.median(np.abs(residuals[keep]))
        keep = np.abs(residuals) <= 3 * max(spread, 1.0)
    noise = spread if spread >= 0.5 else 0.0
    # The plane, built by broadcasting: no (height, width, 3) array of points.
    return coef[0] + coef[1] * rows + coef[2] * cols, noise


def _border(gray):
    """The pixels of the outermost rows and columns (along the first 2 axes)."""
    if min(gray.shape[:2]) <= 2:
        return gray.reshape(-1, *gray.shape[2:])
    return np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])


def _fit_into_box(ink, side):
    """Resize `ink` (anti-aliased) so that its longer side is `side` pixels."""
    from PIL import Image

    height, width = ink.shape
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == (width, height):
        return ink
    resized = Image.fromarray(ink.astype(np.float32)).resize(
        size, Image.Resampling.LANCZOS
    )
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, 255.0)


def _paste_centered(box, side, center):
    """Paste `box` into a black square so that its centre of mass is at `center`.

    The shift is rounded to whole pixels, as MNIST's were, and clamped so that
    the box stays inside the square.
    """
    height, width = box.shape
    mass = box.sum()
    center_row = (box.sum(axis=1) @ np.arange(height)) / mass
    center_col = (box.sum(axis=0) @ np.arange(width)) / mass
    top = int(np.clip(np.floor(center[0] - center_row + 0.5), 0, side - height))
    left = int(np.clip(np.floor(center[1] - center_col + 0.5), 0, side - width))
    field = np.zeros((side, side), dtype=np.uint8)
    field[top : top + height, left : left + width] = np.rint(box).astype(np.uint8)
    return field


class _TooLarge(ValueError):
    """An image with more pixels than MAX_PIXELS."""


def _read_gray(path, name):
    """Read an image file (a path or a binary file object, called `name` in
    messages) as a 2-D float array of gray levels 0-255.

    Pictures larger than `WORK_SIDE` are shrunk before they become floats.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:  # pragma: no cover - Pillow is in the test extra
        raise MissingExtra(
            "Reading digit images needs Pillow: pip install 'skmnist[plot]' "
            "(or pip install pillow)."
        ) from exc

    try:
        with Image.open(path) as image:
            return _decode_gray(image, name)
    except _TooLarge:
        raise
    except Image.DecompressionBombError as exc:
        raise _too_large(name, exc) from exc
    except UnidentifiedImageError as exc:
        if _starts_as_an_image(path):
            raise ValueError(
                f"{name}: the image is truncated: the file starts as a PNG or "
                "JPEG image but ends before its header does."
            ) from exc
        raise ValueError(
            f"{name}: not an image file that Pillow can read (PNG, JPEG, BMP, "
            "GIF, TIFF, ...); digit arrays must be saved as .npy."
        ) from exc
    except OSError as exc:
        if getattr(exc, "filename", None) is not None or exc.errno is not None:
            raise  # the file cannot be opened at all (permissions, a folder, ...)
        raise ValueError(f"{name}: the image cannot be decoded: {exc}") from exc
    except (ValueError, SyntaxError) as exc:
        raise ValueError(f"{name}: the image cannot be decoded: {exc}") from exc


def _starts_as_an_image(path):
    """Whether a file Pillow could not identify starts with PNG's or JPEG's
    first bytes (a download cut short)."""
    try:
        if hasattr(path, "read"):
            path.seek(0)
            head = path.read(8)
        else:
            with open(path, "rb") as file:
                head = file.read(8)
    except (OSError, ValueError):
        return False
    return head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"))


def _too_large(name, detail):
    return _TooLarge(
        f"{name}: the image is too large to read: {detail}. Digit images of up "
        f"to {MAX_PIXELS:,} pixels (about {MAX_PIXELS / 1e6:.0f} megapixels) are "
        "read; crop the picture to the digit, or shrink it, first."
    )


def _decode_gray(image, name):
    """Gray levels 0-255 of an opened, not yet decoded, Pillow image."""
    from PIL import Image, ImageOps

    # A JPEG can be decoded at 1/2, 1/4 or 1/8 of its size, straight to gray.
    image.draft("L", (WORK_SIDE, WORK_SIDE))
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise _too_large(name, f"{width} x {height} pixels")

    # Decode in the image's own 1 to 4 bytes per pixel, then shrink by a whole
    # factor, averaging blocks of pixels (anti-aliased, unlike "1" and "P"
    # resizing); only the shrunk picture becomes an array of floats.
    transparent = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        "transparency" in image.info
    )
    if transparent:
        if image.mode not in ("RGBA", "LA"):
            image = image.convert("RGBA")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    elif image.mode not in ("L", "I", "F"):
        image = image.convert("L")
    factor = math.ceil(max(width, height) / WORK_SIDE)
    if factor > 1:
        image = image.reduce(factor)
    image = ImageOps.exif_transpose(image)  # photos upright (EXIF orientation)
    if transparent:
        # Transparent parts are paper: lay the picture on white.
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba).convert("L")
    gray = np.asarray(image, dtype=np.float64)
    if image.mode == "I":
        gray /= 257.0  # 16-bit gray levels
    return gray


def _load_npy(path):
    """Read MNIST images from a ``.npy`` file: (28, 28) or (n, 28, 28) uint8."""
    try:
        array = np.load(path, allow_pickle=False)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npy array file: {exc}") from exc
    if not isinstance(array, np.ndarray):  # pragma: no cover - np.load of .npy
        raise ValueError(f"{path}: not a .npy array file.")

    shape = array.shape
    single = shape in ((28, 28), (784,), (28, 28, 1))
    if single:
        array = array.reshape(1, 28, 28)
    elif array.ndim in (2, 3, 4) and shape[1:] in ((784,), (28, 28), (28, 28, 1)):
        array = array.reshape(len(array), 28, 28)
    else:
        raise ValueError(
            f"{path}: expected MNIST images of shape (28, 28), (784,), "
            f"(n, 28, 28) or (n, 784); got an array of shape {shape}."
        )
    if not len(array):
        raise ValueError(f"{path}: the array holds no images (shape {shape}).")
    array = mnist_images(array, path)
    return array[0] if single else array
