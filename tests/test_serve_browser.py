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
