"""Request bodies to MNIST images: PNG/JPEG photos of a digit, or JSON arrays.

Every way a body can be wrong raises :class:`BadRequest`, with the HTTP status
to answer and a message that names what was wrong and what is expected. Nothing
here knows about HTTP frameworks, so it is tested on plain bytes.
"""

import io
import json

import numpy as np

from skmnist._frontend import InputError, mnist_images

from .. import load_digit_image

# Media type of an image body -> Pillow's format name.
IMAGE_TYPES = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",  # not registered, but sent by some clients
}
JSON_TYPE = "application/json"
ACCEPTED = "image/png, image/jpeg or application/json"
SIDE = 28


class BadRequest(Exception):
    """A request the service refuses: `status` (4xx) and a message for the client."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def media_type(content_type):
    """The media type of a Content-Type header, lower case, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_media_type(content_type):
    """Refuse (415) a body that is neither a PNG or JPEG image nor JSON."""
    kind = media_type(content_type)
    if kind in IMAGE_TYPES or kind == JSON_TYPE:
        return kind
    if not kind:
        raise BadRequest(
            415, f"the request has no Content-Type header: send {ACCEPTED}."
        )
    hint = ""
    if kind == "multipart/form-data":
        hint = " (send the image file itself as the body, not a form)"
    elif kind.startswith("image/"):
        hint = " (convert the picture to PNG or JPEG)"
    raise BadRequest(415, f"unsupported Content-Type {kind!r}: send {ACCEPTED}{hint}.")


def images_from_body(body, content_type, *, max_pixels, max_images):
    """Decode a request body into MNIST images.

    Parameters
    ----------
    body : bytes
        The request body.
    content_type : str
        Its media type, as returned by :func:`check_media_type`.
    max_pixels : int
        The most pixels (width x height) an image may have. Checked from the
        image's header, before its pixels are decoded.
    max_images : int
        The most images a JSON batch may hold.

    Returns
    -------
    images : ndarray of shape (n, 28, 28), dtype uint8
        Light ink on black, as MNIST's.

    Raises
    ------
    BadRequest
        With status 400 for a malformed body, 413 for an image or batch over
        the limits, 422 for a picture with no digit in it (blank).
    """
    if not body:
        raise BadRequest(400, f"the request body is empty: send a digit as {ACCEPTED}.")
    kind = media_type(content_type)
    if kind == JSON_TYPE:
        return _images_from_json(body, max_images=max_images)
    return _image_from_picture(body, kind, max_pixels=max_pixels)[np.newaxis]


def picture_pixels(body, kind):
    """Width x height of a PNG or JPEG body, from its header; None if unreadable."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(body), formats=[IMAGE_TYPES[kind]]) as image:
            width, height = image.size
    except Exception:  # images_from_body says what is wrong
        return None
    return width * height


def _image_from_picture(body, kind, *, max_pixels):
    """One MNIST image from a PNG or JPEG body, as ``skmnist predict`` reads it."""
    from PIL import Image, UnidentifiedImageError

    pil_format = IMAGE_TYPES[kind]
    name = f"the {pil_format} image"
    # Image.open reads only the header: the size is known before any decoding.
    try:
        with Image.open(io.BytesIO(body), formats=[pil_format]) as image:
            width, height = image.size
    except UnidentifiedImageError as exc:
        if body.startswith(_MAGIC.get(pil_format, b"\0")):
            raise BadRequest(
                400,
                f"{name} is truncated: its {len(body):,} bytes start as a "
                f"{pil_format} file but end before its header does.",
            ) from exc
        raise BadRequest(
            400,
            f"the body is not a {pil_format} image (Content-Type: {kind}): "
            f"its first bytes are {body[:8]!r}.",
        ) from exc
    except Image.DecompressionBombError as exc:
        raise BadRequest(413, f"{name} is too large: {exc}") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise BadRequest(400, f"{name} cannot be decoded: {exc}") from exc
    if width * height > max_pixels:
        raise BadRequest(
            413,
            f"{name} is {width}x{height} pixels ({width * height:,}); at most "
            f"{max_pixels:,} pixels are accepted: scale it down (a digit is "
            "read at 28x28).",
        )
    # The same conversion as `skmnist predict`, from the body in memory.
    picture = io.BytesIO(body)
    picture.name = name
    try:
        return load_digit_image(picture)
    except ValueError as exc:
        message = str(exc).removeprefix(f"{name}: ")
        status = 422 if "blank" in message else 400
        raise BadRequest(status, message) from exc


def _reject_constant(name):
    raise _NonFinite(name)


class _NonFinite(ValueError):
    pass


def _images_from_json(body, *, max_images):
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, f"the JSON body is not UTF-8 text: {exc}.") from exc
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except _NonFinite as exc:
        raise BadRequest(
            400, f"the JSON holds {exc}: pixel values must be numbers 0-255."
        ) from exc
    except json.JSONDecodeError as exc:
        raise BadRequest(400, f"the body is not valid JSON: {exc}.") from exc
    except RecursionError as exc:
        raise BadRequest(400, "the JSON is nested too deeply.") from exc

    expected = (
        'expected a JSON object {"image": <28x28 array>} or '
        '{"images": [<28x28 array>, ...]} of pixel values 0-255 '
        "(light ink on black, as MNIST)"
    )
    if not isinstance(doc, dict):
        raise BadRequest(400, f"{expected}; got a JSON {_json_kind(doc)}.")
    keys = set(doc)
    if keys not in ({"image"}, {"images"}):
        if keys <= {"image", "images"} and keys:
            problem = 'both "image" and "images"'
        else:
            problem = f"the keys {sorted(keys)}"
        raise BadRequest(400, f"{expected}; got an object with {problem}.")
    key = keys.pop()
    try:
        array = np.array(doc[key])
    except (ValueError, TypeError) as exc:  # ragged, or too deep for NumPy
        depth = _depth(doc[key])
        problem = (
            f"is nested {depth} levels deep, not an image of numbers"
            if depth > 4
            else "is not a rectangular array (its rows have different lengths)"
        )
        raise BadRequest(400, f'"{key}" {problem}; {expected}.') from exc
    if array.dtype.kind in "iuf" and (b"true" in body or b"false" in body):
        # NumPy reads a true among numbers as 1. The only keys are "image" and
        # "images", and a string anywhere makes an array of strings, so these
        # words in the body can only be JSON's booleans.
        raise BadRequest(
            400,
            f'"{key}" holds true/false values among its numbers: pixel values '
            "must be numbers 0-255.",
        )
    single = key == "image"
    if not single and array.shape == (0,):
        raise BadRequest(
            400, f'"images" holds no images: send 1 to {max_images:,} images a request.'
        )
    shape_ok = (
        array.shape == (SIDE, SIDE)
        if single
        else (array.ndim == 3 and array.shape[1:] == (SIDE, SIDE))
    )
    if not shape_ok:
        want = "(28, 28)" if single else "(n, 28, 28)"
        raise BadRequest(
            400,
            f'"{key}" must be an array of shape {want}; got shape '
            f"{array.shape}. {expected[0].upper() + expected[1:]}.",
        )
    if not single and len(array) > max_images:
        raise BadRequest(
            413,
            f'"images" holds {len(array):,} images: send 1 to {max_images:,} '
            "images a request.",
        )
    # What the values mean is decided where every source of images is read.
    try:
        images = mnist_images(array, f'"{key}"')
    except InputError as exc:
        raise BadRequest(400, str(exc)) from exc
    return images[np.newaxis] if single else images


def _json_kind(value):
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "null"


def _depth(value):
    """How deep lists nest in `value`, counted along first items (no recursion)."""
    depth = 0
    while isinstance(value, list) and value:
        depth, value = depth + 1, value[0]
    return depth


# The first bytes of the picture formats the service reads.
_MAGIC = {"PNG": b"\x89PNG\r\n\x1a\n", "JPEG": b"\xff\xd8\xff"}
