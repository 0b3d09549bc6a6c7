"""Tests of the web service (skmnist.serve) and of ``skmnist serve``.

The API is driven through Starlette's test client (in-process) and through real
uvicorn servers on 127.0.0.1 with a free port, all requests bounded and timed
out; the model is a small network trained on the packaged sample
(``serve_model_path`` in conftest.py).
"""

import concurrent.futures
import io
import json
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import httpx2
import joblib
import numpy as np
import pytest
from _serve_server import live_server, serve_command
from PIL import Image
from sklearn.base import BaseEstimator, ClassifierMixin
from starlette.testclient import TestClient

from skmnist import (
    ModelFileError,
    cli,
    load_digit_image,
    load_mnist_sample,
    load_model,
    make_mnist_pipeline,
    save_model,
)
from skmnist.serve import make_app

ROOT = Path(__file__).resolve().parent.parent
# Pillow warns about the 10,000 x 10,000 picture on opening it; the service
# then refuses it from its header, before decoding it.
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
TIMEOUT = httpx2.Timeout(30.0)
BASE = "http://localhost"  # a Host that the service answers to


# -- fixtures and helpers ------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_mnist_sample(subset="test", return_X_y=True)


@pytest.fixture(scope="module")
def pipe(serve_model_path):
    return load_model(serve_model_path)


@pytest.fixture(scope="module")
def client(serve_model_path):
    with TestClient(
        make_app(serve_model_path), raise_server_exceptions=False, base_url=BASE
    ) as c:
        yield c


def png_bytes(image, fmt="PNG"):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, fmt)
    return buffer.getvalue()


def paper(digit, scale=4):
    """A test digit as a photo of paper would show it: dark ink on white, larger."""
    side = 28 * scale
    return np.asarray(
        Image.fromarray(255 - digit).resize((side, side), Image.Resampling.BILINEAR)
    )


def png_header_bomb(width, height):
    """A valid 1-bit PNG of `width` x `height` black pixels: a few kB that decode
    to width x height pixels (a decompression bomb)."""

    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def post_json(client, doc, **kwargs):
    return client.post(
        "/predict",
        content=json.dumps(doc, separators=(",", ":")),
        headers={"content-type": "application/json"},
        **kwargs,
    )


def assert_error(response, status, *fragments):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    for fragment in fragments:
        assert fragment in message, message
    return message


class GatedModel(ClassifierMixin, BaseEstimator):
    """Wraps a fitted pipeline; once armed, its next predict_proba waits at a
    gate until released, and every call's batch size is recorded."""

    def __init__(self, model=None):
        self.model = model

    def fit(self, X=None, y=None):
        self.classes_ = self.model.classes_
        self.batch_sizes = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.armed = False
        self.fail_next = False
        return self

    def predict_proba(self, X):
        if self.armed:
            self.armed = False
            self.entered.set()
            assert self.release.wait(30), "the test never released the gate"
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the model broke")
        self.batch_sizes.append(len(X))
        return self.model.predict_proba(X)


# -- the page ------------------------------------------------------------------


def test_page_is_served_with_its_scripts_and_nothing_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    for marker in ('id="pad"', 'id="clear"', 'type="file"', 'id="bars"', 'id="seen"'):
        assert marker in html, marker
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(assets) == ["favicon.ico", "static/app.js", "static/style.css"]
    for marker in ('id="undo"', 'id="pen"', 'id="file-name"'):
        assert marker in html, marker
    texts = [html]
    assets = (
        ("static/app.js", "javascript"),
        ("static/style.css", "css"),
        ("favicon.ico", "image/svg+xml"),
    )
    for asset, kind in assets:
        answer = client.get("/" + asset)
        assert answer.status_code == 200 and kind in answer.headers["content-type"]
        if kind != "image/svg+xml":  # the icon names SVG's XML namespace only
            texts.append(answer.text)
    for text in texts:  # no CDN, no fonts or scripts from elsewhere: works offline
        assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}/", text)


# -- predictions ---------------------------------------------------------------


def test_answers_say_when_they_are_not_sure_or_not_of_a_digit(client, digits):
    X, y = digits
    answer = post_json(client, {"images": X[:50].tolist()}).json()
    assert len(answer["not_sure"]) == len(answer["maybe_not_a_digit"]) == 50
    assert all(isinstance(v, bool) for v in answer["not_sure"])
    right = np.array(answer["labels"]) == y[:50]
    unsure = np.array(answer["not_sure"])
    top = np.array(answer["probabilities"]).max(axis=1)
    # "Not sure" is a threshold on the top probability, and most digits pass.
    assert top[unsure].max(initial=0) < top[~unsure].min()
    assert unsure.mean() < 0.5 and not np.any(answer["maybe_not_a_digit"][:1])
    assert right[~unsure].mean() >= right.mean()
    # A filled square, a dot and a scribble of stripes are no digits' ink.
    odd = np.zeros((3, 28, 28), np.uint8)
    odd[0, 4:24, 4:24] = 255
    odd[1, 13:15, 13:15] = 255
    odd[2, 4:24:3, 4:24] = 255
    answer = post_json(client, {"images": odd.tolist()}).json()
    assert answer["maybe_not_a_digit"] == [True, True, True]


def test_png_of_a_test_digit_returns_its_label(client, pipe, digits, tmp_path):
    X, y = digits
    # A digit that the model reads right, once converted as `skmnist predict`
    # converts photos (chosen by the model, not by hand).
    for i in range(100):
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(paper(X[i])).save(path)
        seen = load_digit_image(path)
        proba = pipe.predict_proba(seen[np.newaxis])[0]
        if pipe.classes_[proba.argmax()] == y[i] and proba.max() > 0.9:
            break
    else:
        pytest.fail("the model reads none of the first 100 test digits surely")

    answer = client.post(
        "/predict", content=path.read_bytes(), headers={"content-type": "image/png"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["labels"] == [int(y[i])]
    assert body["classes"] == list(range(10))
    # The 28x28 image the model saw is exactly what `skmnist predict` reads.
    np.testing.assert_array_equal(np.array(body["images"][0]), seen)
    np.testing.assert_allclose(body["probabilities"][0], proba, atol=1e-5)
    assert sum(body["probabilities"][0]) == pytest.approx(1, abs=1e-5)


def test_jpeg_photo_is_read_as_the_cli_reads_it(client, digits, tmp_path):
    X, _ = digits
    path = tmp_path / "digit.jpg"
    Image.fromarray(paper(X[3])).save(path, quality=90)
    answer = client.post(
        "/predict", content=path.read_bytes(), headers={"content-type": "image/jpeg"}
    )
    assert answer.status_code == 200, answer.text
    np.testing.assert_array_equal(
        np.array(answer.json()["images"][0]), load_digit_image(path)
    )


def test_json_image_and_batch(client, pipe, digits):
    X, _ = digits
    one = post_json(client, {"image": X[0].tolist()}).json()
    np.testing.assert_allclose(
        one["probabilities"], pipe.predict_proba(X[:1]), atol=1e-5
    )
    assert one["labels"] == pipe.predict(X[:1]).tolist()
    np.testing.assert_array_equal(one["images"][0], X[0])

    batch = post_json(client, {"images": X[:7].tolist()}).json()
    np.testing.assert_allclose(
        batch["probabilities"], pipe.predict_proba(X[:7]), atol=1e-5
    )
    assert batch["labels"] == pipe.predict(X[:7]).tolist()
    # Fractional values are rounded; floats and ints are both accepted.
    fractional = post_json(client, {"image": (X[0] * 0.999 + 0.2).tolist()}).json()
    np.testing.assert_array_equal(fractional["images"][0], X[0])


def test_a_bare_classifier_is_served_with_its_flattening_step(pipe, digits):
    X, _ = digits
    with TestClient(make_app(pipe[-1]), base_url=BASE) as c:
        answer = post_json(c, {"images": X[:5].tolist()}).json()
    np.testing.assert_allclose(
        answer["probabilities"], pipe.predict_proba(X[:5]), atol=1e-5
    )


def test_health_and_model(client, serve_model_path):
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    info = client.get("/model").json()
    assert info["file"] == serve_model_path.name
    assert info["classes"] == list(range(10))
    assert info["params"]["hidden_size"] == 64 and info["params"]["epochs"] == 3
    assert 0 < info["validation_accuracy"] <= 1
    assert info["estimator"] == "Pipeline(flatten=FlattenScaler, mlp=MNISTClassifier)"
    assert info["limits"]["max_body_bytes"] == 2 * 1024 * 1024


# -- bad requests ----------------------------------------------------------------

_IMAGE = np.zeros((28, 28), dtype=int)
_GOOD_PNG = png_bytes(paper(load_mnist_sample(subset="test", return_X_y=True)[0][0]))


def _doc(doc):
    return json.dumps(doc, separators=(",", ":")).encode()


def _png_bytes():
    buffer = io.BytesIO()
    Image.new("L", (28, 28)).save(buffer, format="PNG")
    return buffer.getvalue()


BAD_REQUESTS = {
    # name: (body, content type, status, fragment of the message)
    "not an image": (b"hello, this is text", "image/png", 400, "not a PNG image"),
    "PNG sent as JPEG": (_GOOD_PNG, "image/jpeg", 400, "not a JPEG image"),
    "truncated PNG": (_GOOD_PNG[: len(_GOOD_PNG) // 2], "image/png", 400, "truncated"),
    "10,000 x 10,000 image": (
        png_header_bomb(10_000, 10_000),
        "image/png",
        413,
        "10000x10000 pixels",
    ),
    "blank picture": (
        png_bytes(np.full((50, 50), 255, np.uint8)),
        "image/png",
        422,
        "blank",
    ),
    "empty body": (b"", "image/png", 400, "body is empty"),
    "wrong content type": (
        b"1234",
        "text/plain",
        415,
        "unsupported Content-Type 'text/plain'",
    ),
    "no content type": (b"1234", None, 415, "no Content-Type"),
    "a form upload": (b"--x--", "multipart/form-data; boundary=x", 415, "not a form"),
    "GIF": (b"GIF89a", "image/gif", 415, "convert the picture to PNG or JPEG"),
    "too large body": (
        b"\x00" * (2 * 1024 * 1024 + 1),
        "image/png",
        413,
        "larger than 2,097,152 bytes",
    ),
    "invalid JSON": (b'{"image": [[1, 2]', "application/json", 400, "not valid JSON"),
    "JSON not UTF-8": (b'{"image": "\xff"}', "application/json", 400, "not UTF-8"),
    "JSON array, not object": (
        b"[[1, 2], [3, 4]]",
        "application/json",
        400,
        "got a JSON array",
    ),
    "unknown key": (
        _doc({"pixels": _IMAGE.tolist()}),
        "application/json",
        400,
        "['pixels']",
    ),
    "both keys": (
        _doc({"image": _IMAGE.tolist(), "images": [_IMAGE.tolist()]}),
        "application/json",
        400,
        'both "image" and "images"',
    ),
    "wrong shape": (
        _doc({"image": _IMAGE[:27].tolist()}),
        "application/json",
        400,
        "got shape (27, 28)",
    ),
    "batch of wrong shape": (
        _doc({"images": _IMAGE.tolist()}),
        "application/json",
        400,
        "(n, 28, 28)",
    ),
    "ragged rows": (
        _doc({"image": [[0] * 28] * 27 + [[0] * 27]}),
        "application/json",
        400,
        "not a rectangular array",
    ),
    "value above 255": (
        _doc({"image": (_IMAGE + 256).tolist()}),
        "application/json",
        400,
        "[0, 255]",
    ),
    "negative value": (
        _doc({"image": (_IMAGE - 1).tolist()}),
        "application/json",
        400,
        "from -1 to -1",
    ),
    "NaN": (
        _doc({"image": [[0] * 28] * 27 + [[0] * 27 + ["X"]]}).replace(b'"X"', b"NaN"),
        "application/json",
        400,
        "NaN",
    ),
    "infinity": (
        _doc({"image": [[0] * 28] * 27 + [[0] * 27 + ["X"]]}).replace(b'"X"', b"1e999"),
        "application/json",
        400,
        "contains infinity",
    ),
    "strings": (
        _doc({"image": [["1"] * 28] * 28}),
        "application/json",
        400,
        "contains strings",
    ),
    "image scaled to [0, 1]": (
        _doc({"image": ((_IMAGE + 128) / 255).tolist()}),
        "application/json",
        400,
        "looks scaled to [0, 1]",
    ),
    "one true among numbers": (
        _doc({"image": [[0] * 27 + [True]] + [[0] * 28] * 27}),
        "application/json",
        400,
        "true/false values among its numbers",
    ),
    "one false in a batch": (
        _doc({"images": [[[0] * 27 + [False]] + [[0] * 28] * 27]}),
        "application/json",
        400,
        "true/false values among its numbers",
    ),
    "nulls": (
        _doc({"image": [[None] * 28] * 28}),
        "application/json",
        400,
        "contains NaN",
    ),
    "empty batch": (_doc({"images": []}), "application/json", 400, "no images"),
    "too many images": (
        _doc({"images": [_IMAGE.tolist()] * 1001}),
        "application/json",
        413,
        "1,001 images",
    ),
    "an image nested 70 levels deep": (
        b'{"image": ' + b"[" * 70 + b"0" + b"]" * 70 + b"}",
        "application/json",
        400,
        "nested 70 levels deep, not an image of numbers",
    ),
    "huge pixel values": (
        _doc({"image": [[1e308] * 28] * 28}),
        "application/json",
        400,
        "from 1e+308 to 1e+308",
    ),
    "a PNG cut to 10 bytes": (
        _png_bytes()[:10],
        "image/png",
        400,
        "the PNG image is truncated",
    ),
    "deeply nested JSON": (
        b"[" * 200_000,
        "application/json",
        400,
        "nested too deeply",
    ),
}


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_bad_request_gets_a_4xx_json_error_naming_the_problem(client, name):
    body, content_type, status, fragment = BAD_REQUESTS[name]
    headers = {} if content_type is None else {"content-type": content_type}
    answer = client.post("/predict", content=body, headers=headers)
    assert_error(answer, status, fragment)


def test_wrong_method_and_unknown_path_get_json_errors(client):
    assert_error(client.get("/predict"), 405, "GET is not allowed on /predict", "POST")
    assert client.get("/predict").headers["allow"] == "POST"
    assert_error(client.post("/health"), 405, "use GET")
    assert_error(client.get("/nothing/here"), 404, "no such page: /nothing/here")


def test_health_still_answers_after_a_burst_of_bad_requests(client, digits):
    X, y = digits
    names = list(BAD_REQUESTS)
    for k in range(60):
        body, content_type, status, _ = BAD_REQUESTS[names[k % len(names)]]
        headers = {} if content_type is None else {"content-type": content_type}
        assert (
            client.post("/predict", content=body, headers=headers).status_code == status
        )
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert post_json(client, {"image": X[0].tolist()}).status_code == 200


def test_limits_are_configurable(pipe):
    app = make_app(pipe, max_image_pixels=900, max_images=2, max_body_bytes=50_000)
    with TestClient(app, base_url=BASE) as c:
        small = png_bytes(np.full((31, 31), 255, np.uint8))
        assert_error(
            c.post("/predict", content=small, headers={"content-type": "image/png"}),
            413,
            "31x31 pixels",
            "at most 900",
        )
        three = {"images": [_IMAGE.tolist()] * 3}
        assert_error(post_json(c, three), 413, "3 images", "1 to 2 images")
        assert_error(
            c.post(
                "/predict", content=b"x" * 50_001, headers={"content-type": "image/png"}
            ),
            413,
            "larger than 50,000 bytes",
        )


# -- the model --------------------------------------------------------------------


def test_joblib_and_pickle_files_are_never_loaded(tmp_path, monkeypatch):
    path = tmp_path / "model.joblib"
    joblib.dump({"harmless": True}, path)
    loads = []
    monkeypatch.setattr(joblib, "load", lambda *a, **k: loads.append(a))
    for name in ("model.joblib", "model.pkl", "MODEL.PICKLE"):
        with pytest.raises(ValueError, match="never a joblib or pickle file"):
            make_app(tmp_path / name)
    assert not loads
    # A pickle under another name is refused by load_model, which unpickles nothing.
    renamed = tmp_path / "model.skmnist"
    shutil.copy(path, renamed)
    with pytest.raises(ModelFileError, match="looks like a pickle or joblib file"):
        make_app(renamed)


def test_make_app_refuses_what_it_cannot_serve(pipe, tmp_path):
    with pytest.raises(FileNotFoundError):
        make_app(tmp_path / "missing.skmnist")
    with pytest.raises(TypeError, match="not a fitted skmnist model"):
        make_app(object())
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        make_app(make_mnist_pipeline())
    with pytest.raises(ValueError, match="max_body_bytes must be a positive integer"):
        make_app(pipe, max_body_bytes=0)


# -- trusted hosts -----------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8000", "[::1]:8000"])
def test_loopback_host_names_are_answered(client, host):
    assert client.get("/health", headers={"host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example:1234", "evil.example", "localhost.evil"]
)
def test_another_host_name_gets_a_json_400_naming_the_fix(client, host):
    """A page whose name is rebound to 127.0.0.1 (DNS rebinding) is refused."""
    for path in ("/model", "/", "/health"):
        answer = client.get(path, headers={"host": host})
        assert_error(answer, 400, repr(host), "--allow-host NAME")
        assert answer.headers["x-content-type-options"] == "nosniff"
    answer = client.post(
        "/predict", json={"image": _IMAGE.tolist()}, headers={"host": host}
    )
    assert_error(answer, 400, "does not answer to the Host")


def test_allowed_hosts_adds_names(pipe):
    app = make_app(pipe, allowed_hosts=["digits.lan", "*.example.org"])
    with TestClient(app, base_url="http://digits.lan") as c:
        assert c.get("/health").status_code == 200
        assert c.get("/health", headers={"host": "a.example.org"}).status_code == 200
        assert_error(c.get("/health", headers={"host": "localhost"}), 400, "Host")
    with pytest.raises(ValueError, match="allowed_hosts must be a list of host"):
        make_app(pipe, allowed_hosts="localhost")


# -- the self-test ---------------------------------------------------------------


@pytest.fixture(scope="module")
def inverted_model_path(tmp_path_factory):
    """A model trained on negatives of the digits (dark ink on light): it
    predicts well-formed probabilities but cannot read MNIST digits."""
    X, y = load_mnist_sample(return_X_y=True)
    pipe = make_mnist_pipeline(hidden_size=64, epochs=3, random_state=0)
    path = tmp_path_factory.mktemp("inverted") / "negatives.skmnist"
    save_model(pipe.fit(255 - X, y), path)
    return path


def test_a_model_that_cannot_read_the_sample_digits_is_refused(inverted_model_path):
    with pytest.raises(ValueError, match="reads only") as caught:
        make_app(inverted_model_path)
    message = str(caught.value)
    assert "\n" not in message and "of the 500 test digits" in message
    assert "chance is 10%" in message


def test_cli_serve_refuses_an_unreadable_model_in_one_line(capsys, inverted_model_path):
    status = cli.main(["serve", str(inverted_model_path), "--port", "0"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert err.startswith("skmnist: error: negatives.skmnist reads only")


def test_a_pipeline_on_pixels_over_255_reads_png_digits_as_the_default_one(
    pipe, digits
):
    """FlattenScaler(scale=1.0): trained on pixels/255, it gets the same images
    through the service, so it reads drawn digits as well as the default one."""
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline

    from skmnist import FlattenScaler, MNISTClassifier

    X, y = load_mnist_sample(return_X_y=True)
    final = clone(pipe[-1])
    default = make_pipeline(FlattenScaler(), clone(final)).fit(X, y)
    unit = make_pipeline(FlattenScaler(scale=1.0), clone(final)).fit(X / 255.0, y)
    assert isinstance(unit[-1], MNISTClassifier)
    Xt, yt = digits
    pngs = [png_bytes(paper(image)) for image in Xt[:100]]
    right = {}
    for name, model in (("default", default), ("unit", unit)):
        with TestClient(make_app(model), base_url=BASE) as c:
            answers = [
                c.post("/predict", content=b, headers={"content-type": "image/png"})
                for b in pngs
            ]
        assert all(a.status_code == 200 for a in answers), answers[0].text
        labels = np.array([a.json()["labels"][0] for a in answers])
        right[name] = np.mean(labels == yt[:100])
    assert right["unit"] >= 0.5
    assert abs(right["unit"] - right["default"]) <= 0.1, right


# -- concurrency -------------------------------------------------------------------


def test_concurrent_requests_are_predicted_together_off_the_event_loop(pipe, digits):
    """While the model works on one request, /health answers and the requests
    that arrive meanwhile wait; they then go to the model in one call."""
    X, _ = digits
    model = GatedModel(pipe).fit()
    with TestClient(make_app(model), base_url=BASE) as c:
        model.armed = True
        first = threading.Thread(target=post_json, args=(c, {"image": X[0].tolist()}))
        first.start()
        assert model.entered.wait(30)
        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            answers = [
                pool.submit(post_json, c, {"image": X[i].tolist()}) for i in range(1, 6)
            ]
            deadline = time.monotonic() + 30
            while c.get("/health").json()["pending"] < 6:  # /health is not blocked
                assert time.monotonic() < deadline, "the requests never queued"
                time.sleep(0.01)
            model.release.set()
            results = [a.result(timeout=30).json() for a in answers]
        first.join(30)
    assert model.batch_sizes[-2:] == [1, 5]
    for i, result in enumerate(results, start=1):
        np.testing.assert_allclose(
            result["probabilities"][0], pipe.predict_proba(X[i : i + 1])[0], atol=1e-5
        )


def test_a_failing_model_call_is_a_json_500_and_the_service_survives(pipe, digits):
    X, _ = digits
    model = GatedModel(pipe).fit()
    with TestClient(make_app(model), raise_server_exceptions=False, base_url=BASE) as c:
        model.fail_next = True
        answer = post_json(c, {"image": X[0].tolist()})
        assert_error(answer, 500, "RuntimeError: the model broke")
        assert post_json(c, {"image": X[0].tolist()}).status_code == 200


# -- a real server ----------------------------------------------------------------


def test_real_server_answers_concurrent_clients_correctly(
    serve_model_path, pipe, digits
):
    X, _ = digits
    with (
        live_server(make_app(serve_model_path)) as url,
        httpx2.Client(base_url=url, timeout=TIMEOUT) as http,
    ):

        def ask(i):
            if i % 2:
                return http.post("/predict", json={"image": X[i].tolist()})
            return http.post(
                "/predict",
                content=png_bytes(paper(X[i])),
                headers={"content-type": "image/png"},
            )

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(ask, range(60)))
        for i, answer in enumerate(answers):
            assert answer.status_code == 200, answer.text
            body = answer.json()
            seen = np.array(body["images"], dtype=np.uint8)
            if i % 2:
                np.testing.assert_array_equal(seen[0], X[i])
            expected = pipe.predict_proba(seen)
            np.testing.assert_allclose(body["probabilities"], expected, atol=1e-5)
            assert body["labels"] == pipe.classes_[expected.argmax(axis=1)].tolist()

        # A body over the limit, announced or streamed, is refused with JSON.
        big = b"\x00" * (3 * 1024 * 1024)
        answer = http.post(
            "/predict", content=big, headers={"content-type": "image/png"}
        )
        assert_error(answer, 413, "larger than")

        def chunks():
            for _ in range(48):
                yield b"\x00" * 65536

        answer = http.post(
            "/predict", content=chunks(), headers={"content-type": "image/png"}
        )
        assert_error(answer, 413, "larger than")
        assert http.get("/health").json()["status"] == "ok"


@pytest.mark.slow
def test_skmnist_serve_command(serve_model_path, digits, skmnist_command):
    X, y = digits
    command = [*skmnist_command, "serve", str(serve_model_path), "--port", "0"]
    env = {"PYTHONPATH": str(ROOT)}  # this checkout's skmnist, installed or not
    with serve_command(command, env=env) as served:
        assert served.stdout[0].startswith(f"skmnist serve: {serve_model_path} at ")
        with httpx2.Client(base_url=served.url, timeout=TIMEOUT) as http:
            assert "<canvas" in http.get("/").text
            assert http.get("/health").json()["status"] == "ok"
            answer = http.post("/predict", json={"images": X[:20].tolist()})
            assert answer.status_code == 200
            labels = answer.json()["labels"]
            assert np.mean(np.array(labels) == y[:20]) >= 0.5
            assert_error(
                http.post(
                    "/predict", content=b"nope", headers={"content-type": "image/png"}
                ),
                400,
                "not a PNG image",
            )
        status, out, err = served.stop()
    assert status == 0, err
    assert out.rstrip().endswith("skmnist serve: stopped")
    assert "Traceback" not in err


def test_cli_serve_refuses_a_pickle_and_a_busy_port(capsys, serve_model_path, tmp_path):
    status = cli.main(["serve", str(tmp_path / "model.joblib")])
    err = capsys.readouterr().err
    assert status == 2 and "never a joblib or pickle file" in err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        status = cli.main(["serve", str(serve_model_path), "--port", str(port)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"skmnist: error: cannot listen on 127.0.0.1:{port}" in err


# -- misbehaving clients ---------------------------------------------------------

HALF_HEADERS = b"GET /health HTTP/1.1\r\nHost: 127.0"
HALF_BODY = (
    b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
    b'{"image": [[0, 0'
)
STALLS = (b"", HALF_HEADERS, HALF_BODY)  # nothing sent, half headers, half body


def connect(url, sent=b"", timeout=30):
    """A raw connection to the server at `url` that has sent `sent`."""
    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    sock.sendall(sent)
    return sock


def closed_by_server(sock):
    """Whether the server closed `sock` (waits up to the socket's timeout)."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def health(url):
    with httpx2.Client(timeout=httpx2.Timeout(10.0)) as http:
        return http.get(f"{url}/health")


def test_a_request_that_does_not_arrive_in_time_is_closed(pipe):
    """Connections that send nothing, half their headers or half their body are
    closed at the deadline; the others are served meanwhile."""
    with live_server(make_app(pipe), timeout_request=1) as url:
        stalled = [connect(url, sent) for sent in STALLS]
        try:
            assert health(url).status_code == 200
            for sock in stalled:  # closed within the socket's 30 s timeout
                assert closed_by_server(sock)
        finally:
            for sock in stalled:
                sock.close()
        assert health(url).status_code == 200


def test_at_the_connection_limit_the_oldest_stalled_one_makes_room(pipe):
    with live_server(make_app(pipe), max_connections=4) as url:
        stalled = [connect(url, STALLS[i % 3]) for i in range(12)]
        try:
            # One keep-alive client: each new connection evicts one stalled
            # one, so which are evicted must not depend on when the server
            # notices that a previous client left.
            with httpx2.Client(base_url=url, timeout=httpx2.Timeout(10.0)) as http:
                for _ in range(3):
                    assert http.get("/health").status_code == 200
            # The first ones made room for the later ones and /health.
            assert all(closed_by_server(sock) for sock in stalled[:6])
            stalled[-1].settimeout(0.5)
            assert not closed_by_server(stalled[-1])  # the newest one is kept
        finally:
            for sock in stalled:
                sock.close()


def predict_request(image):
    """The bytes of a POST /predict request of one image (JSON)."""
    body = json.dumps({"image": image.tolist()}).encode()
    return (
        b"POST /predict HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def test_when_every_connection_is_busy_a_new_request_gets_a_fast_503(pipe, digits):
    """At the limit (3) with two requests being answered, a third client gets
    503 at once, and the two are answered."""
    X, _ = digits
    model = GatedModel(pipe).fit()
    with (
        live_server(make_app(model), max_connections=3) as url,
        httpx2.Client(base_url=url, timeout=TIMEOUT) as http,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        model.armed = True
        first = pool.submit(http.post, "/predict", json={"image": X[0].tolist()})
        assert model.entered.wait(30)
        deadline = time.monotonic() + 30
        while True:
            second = connect(url, predict_request(X[1]))
            probe = connect(url, b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            answer = probe.recv(65536)
            probe.close()
            if answer.startswith(b"HTTP/1.1 503"):
                break
            # The probe arrived before the second request's bytes were read,
            # and made room by closing it: try again.
            second.close()
            assert time.monotonic() < deadline, answer
        model.release.set()
        assert first.result(30).status_code == 200
        assert second.recv(65536).startswith(b"HTTP/1.1 200 OK")
        second.close()
        assert health(url).status_code == 200


def test_a_request_whose_client_left_is_dropped_from_its_batch(pipe, digits):
    X, _ = digits
    model = GatedModel(pipe).fit()
    request = predict_request(X[1])
    with (
        live_server(make_app(model)) as url,
        httpx2.Client(base_url=url, timeout=TIMEOUT) as http,
        concurrent.futures.ThreadPoolExecutor(2) as pool,
    ):
        model.armed = True
        first = pool.submit(http.post, "/predict", json={"image": X[0].tolist()})
        assert model.entered.wait(30)
        leaving = [connect(url, request) for _ in range(3)]

        def wait_for(key, value):
            deadline = time.monotonic() + 30
            while http.get("/health").json()[key] != value:
                assert time.monotonic() < deadline, f"{key} never reached {value}"
                time.sleep(0.02)

        wait_for("pending", 4)  # the three wait for the model's next call
        for sock in leaving:
            sock.close()
        wait_for("abandoned", 3)
        model.release.set()
        assert first.result(30).status_code == 200
        assert http.post("/predict", json={"image": X[2].tolist()}).status_code == 200
    assert model.batch_sizes[-2:] == [1, 1]  # nobody's images for the three


# -- ``skmnist serve`` against misbehaving clients (child processes) ------------

SERVE_CHILD = """
import resource, sys
from skmnist.serve import run
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min({nofile}, hard), hard))
run(sys.argv[1], port=0)
"""


@pytest.mark.slow
def test_400_stalled_connections_under_ulimit_256_leave_health_answering(
    serve_model_path,
):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1024:  # this process holds the 400 client sockets
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
    command = [sys.executable, "-c", SERVE_CHILD.format(nofile=256)]
    command.append(str(serve_model_path))
    sockets = []
    with serve_command(command, env={"PYTHONPATH": str(ROOT)}) as served:
        try:
            for i in range(400):
                try:
                    sockets.append(connect(served.url, STALLS[i % 3], timeout=10))
                except OSError:  # closed to make room before all was sent
                    pass
                if i % 25 == 24:  # another client, throughout
                    started = time.monotonic()
                    with httpx2.Client(timeout=httpx2.Timeout(10.0)) as http:
                        answer = http.get(f"{served.url}/health")
                    assert answer.status_code == 200, answer.text
                    waited = time.monotonic() - started
                    # Without the guards it never answers; the target (2 s) is
                    # measured in benchmarks/serve_guards.py.
                    assert waited < 5, f"/health took {waited:.1f} s at {i + 1}"
        finally:
            for sock in sockets:
                sock.close()
        status, out, err = served.stop()
    assert status == 0, err
    assert "Traceback" not in err and "Too many open files" not in err
    assert len(err.splitlines()) <= 5, err[-3000:]


def serve_and_stall(serve_model_path, skmnist_command, *options):
    command = [*skmnist_command, "serve", str(serve_model_path), "--port", "0"]
    return serve_command([*command, *options], env={"PYTHONPATH": str(ROOT)})


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_with_a_half_sent_request_exits_at_once_with_status_0(
    serve_model_path, skmnist_command, stop
):
    with serve_and_stall(serve_model_path, skmnist_command) as served:
        half = [connect(served.url, sent) for sent in STALLS]
        assert health(served.url).status_code == 200
        served.process.send_signal(stop)
        started = time.monotonic()
        served.process.wait(30)  # one signal only: stop() adds none to an exited one
        took = time.monotonic() - started
        status, out, err = served.stop()
        for sock in half:
            sock.close()
    assert status == 0, err
    assert took < 10  # the target (3 s) is measured in benchmarks/serve_guards.py
    assert out.rstrip().endswith("skmnist serve: stopped")
    assert "Traceback" not in err and "graceful shutdown" not in err, err
    assert err == "", err


@pytest.mark.slow
def test_a_header_trickle_is_closed_within_40_s_and_evil_hosts_are_refused(
    serve_model_path, skmnist_command
):
    with serve_and_stall(serve_model_path, skmnist_command, "--access-log") as served:
        evil = connect(
            served.url, b"GET /model HTTP/1.1\r\nHost: evil.example:1234\r\n\r\n"
        )
        assert evil.recv(65536).startswith(b"HTTP/1.1 400 Bad Request")
        evil.close()
        sock = connect(served.url, timeout=1)
        started = time.monotonic()
        request = b"GET /health HTTP/1.1\r\nHost: localhost\r\n" + b"X: y" * 100
        closed = False
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                try:
                    closed = sock.recv(1) == b""  # waits 1 s: the trickle's pace
                    break  # closed, or (wrongly) answered
                except TimeoutError:
                    if time.monotonic() - started > 45:
                        break
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        finally:
            sock.close()
        took = time.monotonic() - started
        assert closed and took < 40, took
        assert health(served.url).status_code == 200
        status, out, err = served.stop()
    assert status == 0
    assert re.search(r'"GET /model HTTP/1\.1" 400', out), out
    assert re.search(r'"GET /health HTTP/1\.1" 200', out), out
    assert "did not send its request within 30s" in err
    assert "Traceback" not in err


# -- the load test --------------------------------------------------------------


@pytest.mark.slow
def test_load_benchmark_runs_in_small_mode(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "serve_load.py"),
            "--small",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "serve_load_small.json").read_text())
    assert report["runs"], report
    for run in report["runs"]:
        assert run["requests"] == report["settings"]["requests"]
        assert run["errors"] == 0 and run["wrong_predictions"] == 0
        assert run["throughput_rps"] > 0 and run["p50_ms"] <= run["p99_ms"]
    assert report["server"]["crashed"] is False
    assert report["machine"]["cpu_model"]
    markdown = (tmp_path / "serve_load_small.md").read_text()
    assert "| body |" in markdown and "p99" in markdown


@pytest.mark.slow
def test_confidence_benchmark_runs_in_small_mode(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "serve_confidence.py"),
            "--small",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "serve_confidence_small.json").read_text())
    assert report["test_digits"]["n"] == 500
    assert report["scribbles"]["n"] == 20 and report["letters"]["n"] > 20
    for key in ("test_digits", "scribbles", "letters", "non_digits"):
        assert 0 <= report[key]["flagged"] <= 1
        assert report[key]["flagged"] >= max(
            report[key]["not_sure"], report[key]["unlike_digits"]
        )
    assert set(report["ink_ranges"]) == {"mass", "spread", "stroke"}
    markdown = (tmp_path / "serve_confidence_small.md").read_text()
    assert "| test digits | 500 |" in markdown


def test_cli_serve_help(capsys):
    status = cli.main(["serve", "--help"])
    out = capsys.readouterr().out
    assert status == 0
    text = " ".join(out.split())
    assert text.startswith(
        "usage: skmnist serve [-h] [--host HOST] [--port PORT] [--allow-host NAME] "
        "[--access-log] MODEL"
    )
    assert "--allow-host NAME another name the service answers to" in text
    assert "(repeatable)" in text and "--access-log print one line per request" in text
    assert "--host HOST default: 127.0.0.1" in text
    assert "--port PORT default: 8000; 0: any free one" in text
    assert "pip install 'skmnist[serve]'" in text
