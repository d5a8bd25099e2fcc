"""Sphinx settings for the course website. Build it with `tools/course docs` (see CONTRIBUTING.md).

Everything project-specific (title, repository, branch, where the notebooks are) is read from pyproject.toml, so it is
configured once. The pages themselves are made from nbs/ by the `course_site` extension in _ext/.
"""
import sys
from pathlib import Path
try: import tomllib
except ImportError: import tomli as tomllib  # Python 3.10; nbdev depends on it there

docs = Path(__file__).resolve().parent
root = docs.parent
sys.path[:0] = [str(docs / "_ext"), str(root)]  # the extension, and course_lib from this checkout for autodoc

pyproject = tomllib.loads((root / "pyproject.toml").read_text())
nbdev = pyproject["tool"]["nbdev"]
repository = pyproject["project"]["urls"]["Repository"].rstrip("/")

project = nbdev["title"]
author = "the course maintainers"
copyright = "the course maintainers"

# read by the course_site extension
course_root = str(root)
course_nbs = nbdev["nbs_path"]
course_lib = nbdev["lib_path"]
course_repository = repository
course_branch = nbdev["branch"]

extensions = ["myst_nb", "sphinx.ext.autodoc", "course_site"]
exclude_patterns = ["_build", "_ext", "_static", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]

# Notebooks are rendered with the outputs they were committed with: never executed here.
nb_execution_mode = "off"
nb_merge_streams = True
nb_ipywidgets_js = {}  # no widget JavaScript from a CDN: the extension replaces widgets with a note
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

autodoc_typehints = "description"
autodoc_member_order = "bysource"

html_math_renderer = "mathml"  # course_site turns LaTeX into MathML at build time: no MathJax, so no CDN

html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_context = {"default_mode": "auto"}  # light or dark, as the reader's system prefers (unset, the theme complains)
html_theme_options = {
    "repository_url": repository,
    "repository_branch": course_branch,
    "path_to_docs": course_nbs,  # the pages' notebooks live in nbs/ of the repository: launch links point there
    "use_repository_button": True,
    "use_download_button": False,  # the page's own links download the real notebooks instead
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},  # Kaggle is added by course_site
    "home_page_in_toc": False,  # the title above the chapter list already leads home
    "show_toc_level": 2,
}
