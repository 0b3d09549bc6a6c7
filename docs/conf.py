"""Sphinx configuration of skmnist's documentation.

Build (from the repository root)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The build needs no network: there is no intersphinx, so names of other projects
(scikit-learn, Keras, ...) show as plain text. The gallery runs
``examples/train_mnist.py`` and the examples whose names start with ``plot_``,
with ``SKMNIST_EXAMPLE_SIZE=docs``: on the full MNIST when it is on disk already
(``SKMNIST_DATA_HOME``, as CI sets it; nothing is downloaded), else on the small
sample shipped with skmnist. The examples are written as users write them, with
``fetch_mnist``; ``sphinxext/example_size.py`` makes the switch before each one
runs. The reference model is trained once, by ``train_mnist.py``; the other
examples train narrower networks or search a small grid, so that the build takes
minutes (about 5 on two cores), not an hour.
"""

import os
import sys
from pathlib import Path

# Before anything imports matplotlib or TensorFlow. Set in the environment, not
# in a module, so that they hold for the examples too; an explicit setting of
# the caller wins.
os.environ.setdefault("SKMNIST_EXAMPLE_SIZE", "docs")  # MNIST if on disk, else sample
os.environ.setdefault("MPLBACKEND", "Agg")  # no display needed
# TF_CPP_MIN_LOG_LEVEL is left unset: skmnist starts TensorFlow without its
# start-up lines only when it is unset (level 2 hides neither absl's lines nor the
# E-level "failed call to cuInit"), in this process and in gallery workers alike.

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Document (and run the examples against) this checkout, installed or not.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "sphinxext"))

import skmnist  # noqa: E402

# -- project -----------------------------------------------------------------------

project = "skmnist"
author = "skmnist developers"
copyright = "skmnist developers"
version = release = skmnist.__version__

# -- general ---------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "skmnist_docs",  # docs/sphinxext: generated includes, API member filter
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"  # `x` in the pages and docstrings reads as code
pygments_style = "sphinx"

# Unresolvable references to other projects' names stay plain text, silently.
nitpicky = False

# -- API reference: autosummary, autodoc, numpydoc ------------------------------

autosummary_generate = True  # docs/generated/<name>.rst for each listed name
autosummary_imported_members = False
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"inherited-members": True}

numpydoc_show_class_members = False  # autosummary/autodoc list the members
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- HTML ------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skmnist {release}"
html_theme_options = {
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_show_sourcelink = True

# -- gallery -----------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Run the main job and the plot_ examples (their figures go in the pages);
    # show the others' code only: they need Dask or write model files (their
    # cards borrow a figure of an example run before them, see each script).
    "filename_pattern": r"/(plot_|train_mnist\.py)",
    "ignore_pattern": r"__init__\.py|/_",
    "within_subsection_order": "skmnist_docs.ExampleOrder",
    # Link the names in the examples' code to the API pages, and list on each API
    # page the examples that use the name.
    "doc_module": ("skmnist",),
    "reference_url": {"skmnist": None},
    "backreferences_dir": "generated/backreferences",
    "image_scrapers": ("matplotlib",),
    # Before each example: matplotlib's defaults, and the examples' data by
    # SKMNIST_EXAMPLE_SIZE (sphinxext/example_size.py); after it, skmnist as it
    # was, for the pages built after the gallery.
    "reset_modules": ("matplotlib", "example_size.reset"),
    "reset_modules_order": "both",
    "remove_config_comments": True,
    "capture_repr": ("_repr_html_", "__repr__"),
    "min_reported_time": 1,
    "show_memory": False,
    # An example that fails fails the build.
    "only_warn_on_example_error": False,
}
