"""The documentation builds with Sphinx -W and holds what it should.

One build per test session (module-scoped fixture), run as the README's docs
command but into a temporary folder:

    python -m sphinx -W --keep-going -b html docs <tmp>

with the gallery's examples run as docs/conf.py runs them (SKMNIST_EXAMPLE_SIZE=docs:
the full MNIST when SKMNIST_DATA_HOME or the cache holds it, as in CI, else the
packaged sample) and re-run even when docs/auto_examples holds results of an
unchanged script, so that the gallery is checked against the library as it is
now. The build takes about one minute on the sample, about five on full MNIST
(two cores). It needs the ``docs`` extra (CI installs
it); without it these tests fail, since a docs build that did not run is no check.
"""

import importlib.util
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

import skmnist
import skmnist.datasets
from skmnist import fetch_mnist
from skmnist.datasets import MNISTFetchError

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
BENCHMARK_RESULTS = ROOT / "benchmarks" / "results"

USER_GUIDE = (
    "quickstart",
    "model",
    "data",
    "pipelines",
    "scaling",
    "persistence",
    "performance",
    "cli",
    "serve",
    "deploy",
    "troubleshooting",
)
DOCS_MODULES = ("sphinx", "numpydoc", "sphinx_gallery", "pydata_sphinx_theme")

sys.path.insert(0, str(DOCS / "sphinxext"))
import skmnist_docs  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.docs]

MISSING_DOCS_MODULES = [n for n in DOCS_MODULES if importlib.util.find_spec(n) is None]


def _public_names():
    """(documented name, object) of every public name of skmnist."""
    names = [(f"skmnist.{name}", getattr(skmnist, name)) for name in skmnist.__all__]
    names += [
        (f"skmnist.datasets.{name}", getattr(skmnist.datasets, name))
        for name in skmnist.datasets.__all__
        if name not in skmnist.__all__
    ]
    return names


def _text(html):
    """The visible text of an HTML page, roughly: tags and scripts removed."""
    html = re.sub(r"(?s)<(script|style).*?</\1>", " ", html)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


# What TensorFlow, absl, XLA, JAX or Keras print: C++ log lines ("E0000 00:00:..."
# of "failed call to cuInit"), absl's start-up line, oneDNN's and the CPU-feature
# guard's notes, retracing warnings, and Python warnings raised in their modules.
TENSORFLOW_LINE = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d|absl::|oneDNN|cuInit|cuda|rebuild TensorFlow"
    r"|retracing|[/\\](tensorflow|keras|jax|absl)[/\\]\S+\.py:\d+: \w*Warning"
)


@pytest.fixture(scope="module")
def html(built):
    return built[0]


@pytest.fixture(scope="module")
def build_output(built):
    return built[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The docs built once: (the HTML folder, what the build printed)."""
    if MISSING_DOCS_MODULES:
        pytest.fail(
            f"building the docs needs {', '.join(MISSING_DOCS_MODULES)}: "
            'pip install -e ".[docs]"'
        )
    out = tmp_path_factory.mktemp("docs_html")
    env = dict(os.environ, SKMNIST_EXAMPLE_SIZE="docs", MPLBACKEND="Agg")
    # As from a shell, where it is unset (importing Keras in this process sets it).
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-b",
        "html",
        # Run every example again, even one docs/auto_examples has results for.
        "-D",
        "sphinx_gallery_conf.run_stale_examples=True",
        "docs",
        str(out),
    ]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode != 0:
        problems = [
            line
            for line in (result.stdout + result.stderr).splitlines()
            if "WARNING" in line or "ERROR" in line or "Error" in line
        ]
        pytest.fail(
            f"the docs build failed (exit status {result.returncode}):\n"
            + "\n".join(problems[-50:])
            + "\n--- last output ---\n"
            + (result.stdout + result.stderr)[-4000:]
        )
    return out, result.stdout + result.stderr


def test_build_prints_no_tensorflow_lines(build_output):
    # The build's own process and the gallery's examples (and their workers).
    noise = [line for line in build_output.splitlines() if TENSORFLOW_LINE.search(line)]
    assert noise == [], "\n".join(noise[:20])


def test_api_page_of_every_public_name(html):
    missing = [
        name
        for name, _ in _public_names()
        if not (html / "generated" / f"{name}.html").is_file()
    ]
    assert not missing, f"no API page for {missing}"
    api = (html / "api.html").read_text(encoding="utf-8")
    for name, _ in _public_names():
        assert f"generated/{name}.html" in api, f"api.html does not link {name}"


def test_api_pages_render_docstring_sections(html):
    for name, obj in _public_names():
        page = (html / "generated" / f"{name}.html").read_text(encoding="utf-8")
        text = _text(page)
        first_line = obj.__doc__.strip().splitlines()[0]
        word = max(re.findall(r"[A-Za-z]+", first_line), key=len)
        assert word in text, f"{name}: docstring summary missing"
        if re.search(r"^\s*Examples\n\s*-{8}", obj.__doc__, re.MULTILINE):
            assert re.search(r'class="rubric"[^>]*>\s*Examples', page), (
                f"{name}: no Examples section"
            )
            assert "&gt;&gt;&gt;" in page or ">>>" in text, f"{name}: no doctest"
        if re.search(r"^\s*Parameters\n\s*-{10}", obj.__doc__, re.MULTILINE):
            assert "Parameters" in text, f"{name}: no Parameters section"


def test_class_pages_list_their_methods(html):
    page = _text(
        (html / "generated" / "skmnist.MNISTClassifier.html").read_text(
            encoding="utf-8"
        )
    )
    for method in ("fit", "partial_fit", "predict", "predict_proba", "score"):
        assert re.search(rf"\b{method} \(", page), f"MNISTClassifier.{method}"
    # scikit-learn's metadata-routing methods and scikeras's hooks are left out.
    assert "set_fit_request" not in page and "target_encoder" not in page
    page = _text(
        (html / "generated" / "skmnist.FlattenScaler.html").read_text(encoding="utf-8")
    )
    for method in ("fit", "transform", "inverse_transform", "fit_transform"):
        assert re.search(rf"\b{method} \(", page), f"FlattenScaler.{method}"


def test_user_guide_pages(html):
    index = (html / "user_guide" / "index.html").read_text(encoding="utf-8")
    for page in USER_GUIDE:
        assert (html / "user_guide" / f"{page}.html").is_file(), page
        assert f"{page}.html" in index, f"the user guide's index omits {page}"
    for page in ("index", "api", "glossary", "auto_examples/index"):
        assert (html / f"{page}.html").is_file(), page


def test_gallery_has_every_example_and_the_figures(html):
    gallery = html / "auto_examples"
    for script in sorted(EXAMPLES.glob("*.py")):
        assert (gallery / f"{script.stem}.html").is_file(), script.name
    images = html / "_images"
    assert list(images.glob("sphx_glr_plot_*.png")), "no figure in the gallery"
    # The scripts the gallery runs (docs/conf.py's filename_pattern).
    run = sorted(EXAMPLES.glob("plot_*.py")) + [EXAMPLES / "train_mnist.py"]
    for script in run:
        figures = list(images.glob(f"sphx_glr_{script.stem}_[0-9][0-9][0-9].png"))
        assert figures, f"{script.name} produced no figure"
        page = (gallery / f"{script.stem}.html").read_text(encoding="utf-8")
        assert figures[0].name in page, f"{script.stem}.html does not show its figure"


# The gallery's pages whose examples train the reference model when run in full
# (the docs build trains it in train_mnist.py, narrower networks in the others).
REFERENCE_PAGES = (
    "train_mnist",
    "plot_pipeline",
    "plot_learning_curves",
    "plot_confusion_matrix",
    "plot_misclassified_digits",
)


def _mnist_on_disk():
    """Whether the docs build found MNIST (it inherits this process's environment)."""
    try:
        fetch_mnist(subset="test", download_if_missing=False)
    except MNISTFetchError:
        return False
    return True


def test_reference_pages_show_the_accuracy_of_the_data_they_used(html):
    on_disk = _mnist_on_disk()
    for stem in REFERENCE_PAGES:
        text = _text((html / "auto_examples" / f"{stem}.html").read_text("utf-8"))
        # The printed output, not the code: "test accuracy: 0.9812".
        shown = [float(a) for a in re.findall(r"test accuracy: (0\.\d+|1\.0+)", text)]
        assert shown, f"{stem}.html shows no test accuracy"
        if on_disk:
            assert "packaged sample" not in text, f"{stem}.html: not MNIST's output"
            assert min(shown) >= 0.97, f"{stem}.html: test accuracy {shown}"
        else:
            # No MNIST to train on: the page says it used the sample instead.
            assert "(the packaged sample)" in text, f"{stem}.html: data not named"


def test_no_gallery_card_has_the_placeholder_thumbnail(html, tmp_path):
    import sphinx_gallery
    from matplotlib.image import imread
    from sphinx_gallery.utils import scale_image

    # What sphinx-gallery makes of its placeholder, at the gallery's thumbnail size.
    placeholder = tmp_path / "no_image.png"
    no_image = Path(sphinx_gallery.__file__).parent / "_static" / "no_image.png"
    scale_image(no_image, placeholder, 400, 280)
    placeholder = imread(placeholder)
    index = (html / "auto_examples" / "index.html").read_text(encoding="utf-8")
    thumbs = dict(re.findall(r'src="(\S*?sphx_glr_(\w+?)_thumb\.png)"', index))
    thumbs = {stem: src for src, stem in thumbs.items()}
    for script in sorted(EXAMPLES.glob("*.py")):
        assert script.stem in thumbs, f"no card for {script.name}"
        image = imread(html / "auto_examples" / thumbs[script.stem])
        same = image.shape == placeholder.shape and (image == placeholder).all()
        assert not same, f"the card of {script.name} has the placeholder thumbnail"


def test_cli_page_shows_each_commands_help(html):
    text = _text((html / "user_guide" / "cli.html").read_text(encoding="utf-8"))
    for command in skmnist_docs.CLI_COMMANDS:
        assert f"usage: skmnist {command}" in text, command


@pytest.mark.parametrize(
    "report, expected",
    [
        ("run.md", "(b) skmnist pipeline, TensorFlow"),
        ("grid_search.md", "n_jobs"),
        ("grid_search_resume.md", "fits resumed"),
        ("fit_loop.md", "RSS growth"),
        ("accuracy_seeds.md", "Welch t vs tutorial"),
    ],
)
def test_performance_page_shows_the_benchmarks(html, report, expected):
    text = _text((html / "user_guide" / "performance.html").read_text("utf-8"))
    note = f"benchmarks/results/{report} , which the next build shows here"
    if (BENCHMARK_RESULTS / report).is_file():
        # The header of the report's first table is on the page.
        markdown = (BENCHMARK_RESULTS / report).read_text(encoding="utf-8")
        first_row = next(line for line in markdown.splitlines() if line[:1] == "|")
        header = [cell.strip() for cell in first_row.strip("|").split("|")]
        assert " ".join(header) in text, f"{report}: its table is not shown"
        assert expected in text
        assert note not in text
    else:
        assert note in text, f"no note saying that {report} is missing"


def test_serve_page_shows_the_generated_screenshot_and_the_load_test(html):
    page = (html / "user_guide" / "serve.html").read_text(encoding="utf-8")
    # The picture scripts/serve_screenshot.py made, copied into the site.
    assert "serve_page.png" in page
    assert (html / "_images" / "serve_page.png").is_file()
    text = _text(page)
    if (BENCHMARK_RESULTS / "serve_load.md").is_file():
        assert "skmnist serve: load test" in text and "p99 ms" in text
    else:
        assert "benchmarks/results/serve_load.md , which the next build" in text


# -- the Markdown of benchmarks/results/run.md, as reST (no build needed) --------

REPORT = """\
# skmnist benchmark (full size)

Command: `python benchmarks/run.py`, 0.5 min. Machine: x86_64 *fit s*, **1.2x**.

| contender | fit s | acc (mean, min) |
|:--|--:|--:|
| (a) Keras tutorial, TensorFlow | 1.0 | 0.98, 0.97 |
| (b) skmnist "pipeline" | failed | |

`import skmnist`: 0.1 s; a|b and 2*3 and snake_case_.

- (a) 20 epoch(s) x 54,000 samples
- b (repetition 1): it broke
"""


def _render(rst):
    docutils_core = pytest.importorskip("docutils.core")
    from docutils.writers.html5_polyglot import Writer

    return docutils_core.publish_parts(
        rst,
        writer=Writer(),
        settings_overrides={"report_level": 2, "halt_level": 2},
    )["body"]


def test_benchmark_markdown_to_rst():
    rst = skmnist_docs.markdown_to_rst(REPORT)
    body = _render(rst)  # halt_level=2: any docutils warning raises
    text = _text(body)
    assert "skmnist benchmark (full size)" in text
    assert "<table" in body and body.count("<tr") == 3
    assert "(a) Keras tutorial, TensorFlow" in text
    assert 'skmnist "pipeline"' in text.replace("&quot;", '"')
    assert "<ol" not in body  # "(a) ..." stays text, not an enumerated list
    assert "a|b and 2*3 and snake_case_." in text
    assert "x86_64" in text
    assert "<em>fit s</em>" in body and "<strong>1.2x</strong>" in body
    assert re.search(r'literal">import skmnist</', body)
