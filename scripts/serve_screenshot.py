"""Screenshot of the ``skmnist serve`` page for the docs, by a real browser.

Usage::

    python scripts/serve_screenshot.py                      # trains a model first
    python scripts/serve_screenshot.py --model m.skmnist --out page.png

Trains a model on the packaged sample (``skmnist train --sample``, unless
``--model`` names one), starts ``skmnist serve`` on 127.0.0.1 (a free port),
opens the page in headless Chromium (Debian's ``chromium`` and
``chromium-driver`` packages: ``/usr/bin/chromium``, ``/usr/bin/chromedriver``;
nothing is downloaded), draws a 7 stroke by stroke, waits for the prediction
and saves a screenshot of the page, by default to
``docs/user_guide/images/serve_page.png``, which the user guide shows. The test
suite runs this script again (tests/test_serve_browser.py), into a temporary
folder.

The browser helpers here (:func:`start_chromium`, :func:`draw`,
:func:`wait_until_idle`, :func:`page_state`) are also those of the browser tests.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(REPO, "docs", "user_guide", "images", "serve_page.png")

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1000,900",
)
INSTALL_HINT = "apt-get install -y chromium chromium-driver (Debian)"

# A 7 as a hand draws it on the 280 x 280 pad: the bar, then the stem.
SEVEN = (
    ((70, 62), (125, 58), (180, 56), (212, 58)),
    ((212, 58), (190, 110), (165, 165), (145, 222)),
)


def missing_browser():
    """The paths of Chromium and its driver that are not installed."""
    return [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]


def start_chromium(user_data_dir):
    """Headless Chromium driven by Debian's chromedriver; never downloads one.

    Selenium looks for (and may download) a driver only when the Service has
    no path; here it always has one.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = missing_browser()
    if missing:
        raise FileNotFoundError(f"not installed: {', '.join(missing)}; {INSTALL_HINT}")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        service=Service(executable_path=CHROMEDRIVER), options=options
    )
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


def open_page(driver, url, timeout=30):
    """Load the page and wait until it shows a bar for each class."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, timeout).until(
        lambda d: (
            d.execute_script("return document.querySelectorAll('#bars li').length") > 0
        )
    )


def draw(driver, strokes, step=6):
    """Draw `strokes` (lists of (x, y) points on the pad) with the mouse, one
    stroke at a time, moving `step` pixels at a time."""
    from selenium.webdriver.common.action_chains import ActionChains

    pad = driver.find_element("id", "pad")
    width, height = pad.size["width"], pad.size["height"]
    for stroke in strokes:
        actions = ActionChains(driver, duration=10)
        x, y = stroke[0]
        # Selenium's offsets are from the element's centre.
        actions.move_to_element_with_offset(pad, x - width // 2, y - height // 2)
        actions.click_and_hold()
        for (x0, y0), (x1, y1) in zip(stroke[:-1], stroke[1:], strict=True):
            n = max(1, int(max(abs(x1 - x0), abs(y1 - y0)) // step))
            dx, dy = (x1 - x0) / n, (y1 - y0) / n
            moved_x = moved_y = 0.0
            for i in range(1, n + 1):
                target_x, target_y = round(dx * i), round(dy * i)
                actions.move_by_offset(target_x - moved_x, target_y - moved_y)
                moved_x, moved_y = target_x, target_y
        actions.release()
        actions.perform()


def wait_until_idle(driver, predictions, timeout=30):
    """Wait until the page has shown at least `predictions` predictions, has no
    request in flight, and has finished moving its bars (a CSS transition of
    0.15 s follows each prediction: read or photographed before it ends, the
    bars are still growing)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script(
            "const b = document.body.dataset;"
            "return Number(b.predictions || 0) >= arguments[0] && b.busy === 'no'"
            " && document.getAnimations().length === 0;",
            predictions,
        )
    )


def page_state(driver):
    """What the page shows: prediction, confidence, bars, the 28x28 image seen,
    status, the drawing panel's title and file name, and whether Undo is on."""
    return driver.execute_script(
        """
        const seen = document.getElementById('seen').getContext('2d')
            .getImageData(0, 0, 28, 28).data;
        const pixels = [];
        for (let i = 0; i < seen.length; i += 4) pixels.push(seen[i]);
        return {
          prediction: document.getElementById('prediction').textContent,
          predictions: Number(document.body.dataset.predictions || 0),
          bars: Array.from(document.querySelectorAll('#bars li')).map(li => ({
            label: li.dataset.label,
            probability: Number(li.dataset.probability),
            width: li.querySelector('.fill').getBoundingClientRect().width,
            best: li.classList.contains('best'),
          })),
          seen: pixels,
          status: document.getElementById('status').textContent,
          confidence: document.getElementById('confidence').textContent,
          drawTitle: document.getElementById('draw-title').textContent,
          fileName: document.getElementById('file-name').textContent,
          undoDisabled: document.getElementById('undo').disabled,
        };
        """
    )


# -- the script ------------------------------------------------------------------


def _child_env():
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=REPO + (os.pathsep + path if path else ""))


def train_model(folder):
    path = os.path.join(folder, "digits.skmnist")
    subprocess.run(
        [sys.executable, "-m", "skmnist", "train", "--sample", "--epochs", "10"]
        + ["--random-state", "0", "--verbose", "0", "--out", path],
        check=True,
        timeout=600,
        env=_child_env(),
        stdout=subprocess.DEVNULL,
    )
    return path


def serve(model, timeout=120):
    """Start ``skmnist serve MODEL --port 0``; returns (process, url)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "skmnist", "serve", model, "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_child_env(),
    )
    found = []

    def read():
        for line in process.stdout:
            match = re.search(r" at (http://\S+/) ", line)
            if match:
                found.append(match.group(1))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        process.kill()
        process.wait(30)
        raise RuntimeError("skmnist serve printed no address")
    return process, found[0]


def screenshot(model, out):
    """Serve `model`, draw a 7 in Chromium and save the page to `out`."""
    process, url = serve(model)
    try:
        with tempfile.TemporaryDirectory(prefix="skmnist-chromium-") as profile:
            driver = start_chromium(profile)
            try:
                open_page(driver, url)
                draw(driver, SEVEN)
                wait_until_idle(driver, 1)
                state = page_state(driver)
                os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
                if not driver.save_screenshot(os.fspath(out)):
                    raise RuntimeError(f"Chromium could not write {out}")
            finally:
                driver.quit()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
    return state


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a .skmnist file (default: train one)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="the PNG to write")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="skmnist-screenshot-") as folder:
        model = args.model or train_model(folder)
        state = screenshot(model, args.out)
    best = max(state["bars"], key=lambda bar: bar["probability"])
    print(
        f"{args.out}: the page reads the drawn 7 as {state['prediction']} "
        f"(p={best['probability']:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
