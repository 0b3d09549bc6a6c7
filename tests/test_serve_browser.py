"""The page of ``skmnist serve`` in a real browser: headless Chromium.

Debian's ``chromium`` and ``chromium-driver`` packages (``/usr/bin/chromium``,
``/usr/bin/chromedriver``) drive the page served by a real uvicorn server on
127.0.0.1: a 7 is drawn stroke by stroke, a photo is uploaded, and screenshots
are saved under the tests' temporary folders. Without the browser these tests
fail (``.ci/run`` installs it); nothing is ever downloaded: Selenium is given
the driver's path, and its driver manager is made to fail if it is asked.
The helpers come from scripts/serve_screenshot.py, which makes the docs'
screenshot and which the last test runs again.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _serve_server import live_server
from PIL import Image

from skmnist import load_digit_image, load_mnist_sample
from skmnist.serve import make_app

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import serve_screenshot as browser  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    missing = browser.missing_browser()
    if missing:
        pytest.fail(
            f"the browser tests need {', '.join(missing)}: {browser.INSTALL_HINT} "
            "(.ci/run installs them)"
        )
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    def no_download(self, *args, **kwargs):
        raise AssertionError("Selenium tried to find or download a browser driver")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SeleniumManager, "binary_paths", no_download)
        chromium = browser.start_chromium(tmp_path_factory.mktemp("chromium-profile"))
        try:
            yield chromium
        finally:
            chromium.quit()


@pytest.fixture(scope="module")
def url(serve_model_path):
    with live_server(make_app(serve_model_path)) as base:
        yield base + "/"


def _predict_json(url, image):
    import httpx2

    answer = httpx2.post(url + "predict", json={"image": image}, timeout=30)
    answer.raise_for_status()
    return answer.json()


def _check_bars(state):
    bars = state["bars"]
    assert len(bars) == 10
    assert [bar["label"] for bar in bars] == [str(k) for k in range(10)]
    probabilities = np.array([bar["probability"] for bar in bars])
    assert np.all((0 <= probabilities) & (probabilities <= 1))
    assert probabilities.sum() == pytest.approx(1, abs=1e-4)
    best = int(probabilities.argmax())
    assert state["prediction"] == bars[best]["label"]
    assert [bar["best"] for bar in bars] == [k == best for k in range(10)]
    # The bars are drawn: the longest is the predicted class's.
    widths = [bar["width"] for bar in bars]
    assert widths[best] == max(widths) > 0
    return probabilities


def test_drawing_a_seven_shows_a_prediction_and_ten_bars(driver, url, tmp_path):
    browser.open_page(driver, url)
    before = browser.page_state(driver)
    assert len(before["bars"]) == 10 and before["predictions"] == 0

    browser.draw(driver, browser.SEVEN[:1])  # the bar of the 7 ...
    browser.wait_until_idle(driver, 1)
    first = browser.page_state(driver)["predictions"]
    browser.draw(driver, browser.SEVEN[1:])  # ... then its stem
    browser.wait_until_idle(driver, first + 1)
    state = browser.page_state(driver)
    probabilities = _check_bars(state)

    # The panel shows the 28x28 image the model read, and the bars are the
    # service's answer for exactly that image.
    seen = np.array(state["seen"]).reshape(28, 28)
    assert seen.max() == 255 and seen[0].max() == 0 and seen[:, 0].max() == 0
    rows, cols = np.nonzero(seen)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 == 20  # fitted into 20x20
    answer = _predict_json(url, seen.tolist())
    np.testing.assert_allclose(answer["probabilities"][0], probabilities, atol=1e-5)
    print(f"the drawn 7 is read as {state['prediction']} (p={probabilities.max():.2f})")

    shot = tmp_path / "drawn_seven.png"
    assert driver.save_screenshot(str(shot))
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.width >= 800

    driver.find_element("id", "clear").click()
    cleared = browser.page_state(driver)
    assert cleared["prediction"] == "\u2013" and max(cleared["seen"]) == 0


def test_uploading_a_photo_shows_what_the_model_read(driver, url, tmp_path):
    X, _ = load_mnist_sample(subset="test", return_X_y=True)
    photo = tmp_path / "digit.png"
    Image.fromarray(255 - X[0]).resize((112, 112)).save(photo)
    browser.open_page(driver, url)
    driver.find_element("id", "upload").send_keys(str(photo))
    browser.wait_until_idle(driver, 1)
    state = browser.page_state(driver)
    _check_bars(state)
    # The file itself was sent: the model saw what `skmnist predict` reads.
    np.testing.assert_array_equal(
        np.array(state["seen"]).reshape(28, 28), load_digit_image(photo)
    )
    assert state["status"] == ""
    assert driver.save_screenshot(str(tmp_path / "upload.png"))


def test_a_picture_the_service_does_not_take_is_converted_by_the_page(
    driver, url, tmp_path
):
    X, _ = load_mnist_sample(subset="test", return_X_y=True)
    photo = tmp_path / "digit.bmp"  # not PNG or JPEG: sent as a PNG
    Image.fromarray(255 - X[1]).resize((84, 84)).save(photo)
    browser.open_page(driver, url)
    driver.find_element("id", "upload").send_keys(str(photo))
    browser.wait_until_idle(driver, 1)
    state = browser.page_state(driver)
    _check_bars(state)
    assert max(state["seen"]) == 255


def test_the_page_shows_the_services_error(driver, url, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("not a picture")
    browser.open_page(driver, url)
    driver.find_element("id", "upload").send_keys(str(fake))
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: "not a PNG image" in browser.page_state(d)["status"]
    )
    assert driver.find_element("id", "status").get_attribute("class") == "status error"


def _pad_ink(driver):
    """How many of the pad's pixels are inked (dark)."""
    return driver.execute_script(
        """
        const pad = document.getElementById('pad');
        const data = pad.getContext('2d')
            .getImageData(0, 0, pad.width, pad.height).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] < 128) n += 1;
        return n;
        """
    )


def _set_pen(driver, width):
    driver.execute_script(
        "const pen = document.getElementById('pen'); pen.value = arguments[0];"
        "pen.dispatchEvent(new Event('input'));",
        width,
    )


BAR = (((60, 140), (220, 140)),)  # one horizontal stroke across the pad


def test_the_pen_width_sets_the_strokes_width(driver, url):
    inked = {}
    for width in (10, 40):
        browser.open_page(driver, url)
        _set_pen(driver, width)
        assert driver.find_element("id", "pen-width").text == f"{width} px"
        browser.draw(driver, BAR)
        browser.wait_until_idle(driver, 1)
        inked[width] = _pad_ink(driver)
    # A 160 px stroke with round caps: about (160 + w) * w pixels.
    assert inked[40] > 3 * inked[10] > 0, inked


def test_undo_takes_back_one_stroke_at_a_time(driver, url):
    browser.open_page(driver, url)
    assert browser.page_state(driver)["undoDisabled"]
    browser.draw(driver, browser.SEVEN[:1])
    browser.wait_until_idle(driver, 1)
    after_bar = _pad_ink(driver)
    browser.draw(driver, browser.SEVEN[1:])
    browser.wait_until_idle(driver, 2)
    assert _pad_ink(driver) > after_bar
    shown = browser.page_state(driver)["predictions"]
    driver.find_element("id", "undo").click()  # the stem goes ...
    assert _pad_ink(driver) == after_bar
    browser.wait_until_idle(driver, shown + 1)  # ... and the bar is read again
    assert not browser.page_state(driver)["undoDisabled"]
    driver.find_element("id", "undo").click()  # then the bar
    state = browser.page_state(driver)
    assert _pad_ink(driver) == 0 and state["undoDisabled"]
    assert state["prediction"] == "\u2013" and max(state["seen"]) == 0


def test_a_scribble_is_shown_as_not_sure(driver, url):
    browser.open_page(driver, url)
    _set_pen(driver, 40)
    zigzag = [(30, 30 + 30 * k) if k % 2 else (250, 30 + 30 * k) for k in range(8)]
    browser.draw(driver, [zigzag, [(30, 30), (250, 250)], [(250, 30), (30, 250)]])
    browser.wait_until_idle(driver, 1)
    state = browser.page_state(driver)
    assert state["confidence"].startswith("not sure: "), state["confidence"]
    assert " or " in state["confidence"] and "sure" not in state["confidence"][8:]
    classes = [bar["label"] for bar in state["bars"]]
    top_two = np.argsort([-bar["probability"] for bar in state["bars"]])[:2]
    first, second = (classes[k] for k in top_two)
    assert state["confidence"].startswith(f"not sure: {first} (")
    assert f" or {second} (" in state["confidence"]


def test_an_upload_shows_its_file_name_until_the_next_drawing(driver, url, tmp_path):
    X, _ = load_mnist_sample(subset="test", return_X_y=True)
    photo = tmp_path / "my seven.png"
    Image.fromarray(255 - X[0]).resize((112, 112)).save(photo)
    browser.open_page(driver, url)
    assert browser.page_state(driver)["drawTitle"] == "Draw a digit"
    driver.find_element("id", "upload").send_keys(str(photo))
    browser.wait_until_idle(driver, 1)
    state = browser.page_state(driver)
    assert state["fileName"] == "Uploaded: my seven.png"
    assert state["drawTitle"] == "Your picture"
    browser.draw(driver, browser.SEVEN)  # drawing replaces the picture
    browser.wait_until_idle(driver, 2)
    state = browser.page_state(driver)
    assert state["fileName"] == "" and state["drawTitle"] == "Draw a digit"


@pytest.mark.parametrize("size", [(1200, 900), (390, 844)])
def test_the_page_fits_without_scrolling_to_the_bars(driver, url, size):
    try:
        driver.set_window_size(*size)
        browser.open_page(driver, url)
        browser.draw(driver, browser.SEVEN)
        browser.wait_until_idle(driver, 1)
        box = driver.execute_script(
            """
            const bars = document.getElementById('bars').getBoundingClientRect();
            const main = document.querySelector('main').getBoundingClientRect();
            const panels = Array.from(document.querySelectorAll('.panel'))
                .map(p => p.getBoundingClientRect());
            return {
              width: window.innerWidth, height: window.innerHeight,
              scroll: document.documentElement.scrollHeight,
              scrollWidth: document.documentElement.scrollWidth,
              barsBottom: bars.bottom,
              left: Math.min(...panels.map(p => p.left)) - main.left,
              right: main.right - Math.max(...panels.map(p => p.right)),
            };
            """
        )
        assert box["barsBottom"] <= box["height"], box  # the bars are in view
        assert box["scrollWidth"] <= box["width"], box  # no sideways scrolling
        assert abs(box["left"] - box["right"]) <= 2, box  # centred
        if size == (1200, 900):
            assert box["scroll"] <= box["height"], box  # nothing to scroll
    finally:
        driver.set_window_size(1000, 900)


def test_the_docs_screenshot_script_runs(serve_model_path, tmp_path):
    out = tmp_path / "serve_page.png"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "serve_screenshot.py"),
            "--model",
            str(serve_model_path),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "the page reads the drawn 7 as" in result.stdout
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size[0] >= 800
        size = image.size
    # The user guide's screenshot is one this script made (same page size).
    with Image.open(browser.DEFAULT_OUT) as committed:
        assert committed.format == "PNG" and committed.size == size
