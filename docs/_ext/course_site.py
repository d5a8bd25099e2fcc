"""Sphinx extension that turns the course's nbdev notebooks into the website.

- Before Sphinx reads anything, each notebook `nbs/*.ipynb` is copied into the docs folder (generated, git-ignored)
  the way nbdev's own docs show it: cells marked `#| hide` (or `#| include: false`) are dropped, `#|` directive lines
  are taken out of the code, `#| echo: false` / `#| output: false` hide a cell's input / output. `nbs/` is never
  written to. Chapter pages (`NN_name`) get links to open them in Colab or Kaggle and to download their clean twin,
  and a target before each cell that defines an exported name, which the API reference links to. An HTML anchor
  `<a id="name"></a>` on a line of its own in a markdown cell (what Jupyter and Colab follow) becomes the MyST
  target `(name)=`, so `NN_name.ipynb#name` links, such as the Questions page's, work on the site too.
- A code cell that Jupyter shows collapsed (`jupyter.source_hidden`, set by `course-lib clean` on the solutions of the
  questionnaire and apply-it exercises) is collapsed here too: myst-nb's `hide-input`, under a toggle that names the
  question and offers the answer.
- `.. course-api::` documents every `course_lib` module with autodoc, in chapter order; nbdev "docments" (a comment
  after each parameter) become the parameter descriptions, and each entry links to the chapter that defines it.
- The launch menu that sphinx-book-theme puts in each notebook page's header gets a Kaggle entry next to Colab.
- Math (`$...$` in the notebooks) becomes MathML at build time, which browsers draw natively: no MathJax, no CDN.
"""
from __future__ import annotations
import ast, copy, itertools, json, os, re, shutil
from pathlib import Path
from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

log = logging.getLogger(__name__)

WIDGET = "application/vnd.jupyter.widget-view+json"
_directive = re.compile(r"^\s*#\s*\|\s*([\w-]+)\s*:?\s*(.*?)\s*$")
_exports = {"export", "exports", "exporti"}
_marker = "course_site"  # notebook metadata key that marks a generated copy


# ---------------------------------------------------------------------------------------------------- links

def launch_urls(repository:str, branch:str, path:str) -> dict:
    "Colab and Kaggle URLs that open `path` (relative to the repository root) from GitHub."
    m = re.match(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?$", repository)
    if not m: raise ValueError(f"the Repository URL in pyproject.toml must be a GitHub repository, not {repository!r}")
    org, repo = m.groups()
    return {"colab": f"https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/{path}",
            "kaggle": f"https://kaggle.com/kernels/welcome?src=https://github.com/{org}/{repo}/blob/{branch}/{path}"}


# ---------------------------------------------------------------------------------------------------- notebooks

def _src(cell) -> str: return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]

def split_directives(src:str) -> tuple[dict, str]:
    "nbdev's directives at the top of a code cell (`#| name value`), and the code without them."
    lines, dirs = src.splitlines(), {}
    i = 0
    while i < len(lines) and (not lines[i].strip() or _directive.match(lines[i])):
        if m := _directive.match(lines[i]): dirs[m[1]] = m[2]
        i += 1
    return dirs, "\n".join(lines[i:]) if dirs else src

def _defined_names(code:str) -> list[str]:
    "Top-level public names a cell of library code defines."
    try: tree = ast.parse(code)
    except SyntaxError: return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                if isinstance(t, ast.Name): names.append(t.id)
    return [n for n in names if not n.startswith("_")]

def _widget_note(out:dict) -> dict:
    "A widget can't run on a static page: say so instead of showing an empty box."
    out = copy.deepcopy(out)
    out["data"] = {"text/markdown": "*[An interactive widget appears here when you run the notebook: "
                                    "open it in Colab, Kaggle or JupyterLab.]*"}
    out["metadata"] = {}
    return out

def _md(text:str, id:str) -> dict: return {"cell_type": "markdown", "id": id, "metadata": {}, "source": text}

def _label(name:str, taken) -> str:
    "A target name for `name`: targets are case-insensitive, and `Exercise` and `exercise` may both exist."
    label, n = name.lower(), 1
    while label in taken: label, n = f"{name.lower()}-{n}", n + 1
    return label

def _answer_prompts(code:str) -> dict:
    "myst-nb's toggle texts for a collapsed answer: the question its leading comment asks (hidden with the code otherwise), then the offer."
    q = " ".join(l.lstrip("#").strip() for l in itertools.takewhile(lambda l: l.startswith("#"), code.splitlines()))
    return {"code_prompt_show": f"{q} — show the answer" if q else "Show the answer", "code_prompt_hide": "Hide the answer"}

def site_notebook(nb:dict, lib:str, banner:str|None=None, labels:dict|None=None) -> dict:
    """The notebook as the website shows it (see the module docstring). `labels` collects, for each exported name,
    the target this adds before the cell that defines it: {"course_lib.bird.search_images": label}."""
    nb = copy.deepcopy(nb)
    meta = nb.setdefault("metadata", {})
    meta.pop("widgets", None)  # saved widget state makes myst-nb load widget JavaScript from a CDN
    # without this, `%pip` and other IPython syntax would not highlight
    meta["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    module = None
    cells = []
    for cell in nb["cells"]:
        cell.setdefault("metadata", {})
        if cell["cell_type"] != "code":
            if cell["cell_type"] == "markdown":  # an HTML anchor, which Jupyter and Colab follow, is a MyST target here
                cell["source"] = re.sub(r'^<a id="([\w-]+)"></a>[ \t]*$', r"(\1)=", _src(cell), flags=re.M)
            cells.append(cell)
            continue
        dirs, code = split_directives(_src(cell))
        if "default_exp" in dirs: module = dirs["default_exp"]
        if "hide" in dirs or dirs.get("include", "").lower() == "false": continue
        if not code.strip(): continue  # a cell that held only directives
        tags = cell["metadata"].setdefault("tags", [])
        if dirs.get("echo", "").lower() == "false" or "hide_input" in dirs: tags.append("remove-input")
        if dirs.get("output", "").lower() == "false" or "hide_output" in dirs: tags.append("remove-output")
        if cell["metadata"].get("jupyter", {}).get("source_hidden"):
            tags.append("hide-input")
            if re.search(r"#\s*(BEGIN\s+)?SOLUTION", code): cell["metadata"]["mystnb"] = _answer_prompts(code)
        cell["source"] = code
        cell["outputs"] = [_widget_note(o) if WIDGET in o.get("data", {}) else o for o in cell.get("outputs", [])]
        if labels is not None and _exports & dirs.keys():
            mod = dirs[(_exports & dirs.keys()).pop()] or module
            new = [f"{lib}.{mod}.{n}" for n in _defined_names(code)] if mod else []
            new = [n for n in new if n not in labels]
            if new:
                for n in new: labels[n] = _label(n, labels.values())
                cells.append(_md("\n".join(f"({labels[n]})=" for n in new), f"course-site-def-{len(cells)}"))
        cells.append(cell)
    if banner is not None: cells.insert(1, _md(banner, "course-site-launch"))
    nb["cells"] = cells
    return nb

def _text(cell) -> str:
    "The text a code cell printed or showed, all outputs together."
    def one(o): return "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
    return "".join(one(o) for o in cell.get("outputs", []))

def provenance(nb:dict) -> str|None:
    """Where a chapter's stored outputs came from, read off the outputs themselves: the environment cell's lines on the
    internet and the GPU, and every line the run printed to announce its data ("OFFLINE…", "Online…")."""
    outs = [_text(c) for c in nb["cells"] if c["cell_type"] == "code"]
    env = next((t for t in outs if "Running on:" in t), None)
    if env is None: return None
    net = next((l for l in env.splitlines() if l.startswith("Internet:")), "")
    gpu = next((l for l in env.splitlines() if l.startswith(("GPU", "No GPU"))), "")
    path = "the offline path" if net.startswith("Internet: off") else "the online path"
    where = "a GPU, " + gpu.split(":", 1)[1].split("(")[0].strip() if gpu.startswith("GPU") else "the CPU (no GPU)"
    data = list(dict.fromkeys(l.strip() for t in outs for l in t.splitlines() if re.match(r"\s*(OFFLINE|Online)\b", l)))
    return (f"**The outputs on this page** come from one run of the notebook, on {path}, on {where}"
            + ("; its data, as the run announced it: " + " ".join(f"«{l}»" for l in data) if data else "") + ".")

def _title(nb:dict) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown" and (m := re.search(r"^#\s+(.+)$", _src(cell), re.M)): return m[1].strip()
    return ""

def _write_if_changed(path:Path, text:str):
    if not path.exists() or path.read_text() != text: path.write_text(text)

def generate_pages(app):
    "builder-inited: write the site's notebook pages into the source folder from nbs/."
    cfg = app.config
    root, srcdir = Path(cfg.course_root), Path(app.srcdir)
    nbs, lib = root / cfg.course_nbs, cfg.course_lib
    state = app.course_site = {"chapters": [], "pages": [], "titles": {}, "labels": {}, "label_page": {}}
    pages = {}
    for path in sorted(nbs.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        name, rel = path.stem, path.relative_to(root).as_posix()
        state["titles"][name] = _title(nb)
        banner = None
        if re.match(r"\d\d_", name):
            state["chapters"].append(name)
            clean = nbs / "clean" / path.name
            full = launch_urls(cfg.course_repository, cfg.course_branch, rel)
            banner = (f":::{{container}} course-launch\n"
                      f"**Run this chapter:** [Open in Colab]({full['colab']}) · [Open in Kaggle]({full['kaggle']})\n\n")
            if clean.exists():
                cl = launch_urls(cfg.course_repository, cfg.course_branch, clean.relative_to(root).as_posix())
                banner += (f"**Test yourself:** [Download the clean version](path:{os.path.relpath(clean, srcdir)})"
                           f" · [open it in Colab]({cl['colab']}) · [how to use it](clean-notebooks.md)\n")
            else:
                log.warning(f"{rel} has no clean twin {clean.relative_to(root)}: run `course-lib clean` and commit it")
            if (prov := provenance(nb)) is not None: banner += f"\n{prov}\n"
            banner += ":::"
        elif name != "index":
            state["pages"].append(name)
        before = set(state["labels"])
        out = site_notebook(nb, lib, banner, state["labels"])
        state["label_page"].update({n: name for n in set(state["labels"]) - before})
        out["metadata"][_marker] = {"generated_from": rel}
        pages[path.name] = out
    if "index.ipynb" in pages: pages["index.ipynb"]["cells"].append(_md(_toctrees(state), "course-site-toctree"))
    else: log.warning(f"{cfg.course_nbs}/index.ipynb, the course home, is missing")
    for fname, out in pages.items():
        _write_if_changed(srcdir / fname, json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    # a generated page whose notebook is gone must go too (hand-written pages carry no marker and stay)
    for old in srcdir.glob("*.ipynb"):
        if old.name not in pages and _marker in json.loads(old.read_text()).get("metadata", {}): old.unlink()

def _toctrees(state:dict) -> str:
    chapters = "\n".join(state["chapters"])
    more = "\n".join(["clean-notebooks", "teaching", "data", *state["pages"], "benchmarks", "api"])
    return (f"```{{toctree}}\n:caption: Chapters\n:hidden:\n\n{chapters}\n```\n\n"
            f"```{{toctree}}\n:caption: Test yourself, and reference\n:hidden:\n\n{more}\n```")


# ---------------------------------------------------------------------------------------------------- API reference

def lib_modules(root:Path, lib:str) -> list[tuple[str, str]]:
    """(module, notebook stem) for each public module of the library, in notebook order. The notebook is the one
    nbdev's header names: `# AUTOGENERATED! DO NOT EDIT! File to edit: ../nbs/01_intro.ipynb.`"""
    mods = []
    for py in sorted((root / lib).glob("*.py")):
        if py.name.startswith("_"): continue
        m = re.search(r"File to edit: (\S+?\.ipynb)", py.read_text())
        if not m: continue  # not generated from a notebook
        mods.append((f"{lib}.{py.stem}", Path(m[1]).stem))
    return sorted(mods, key=lambda m: (not re.match(r"\d\d_", m[1]), m[1]))

class CourseApi(SphinxDirective):
    "`.. course-api::` — every module of the library, documented by autodoc, in chapter order."
    def run(self):
        cfg, state = self.config, self.env.app.course_site
        lines = []
        for mod, nb in lib_modules(Path(cfg.course_root), cfg.course_lib):
            title = state["titles"].get(nb)
            head = f"``{mod}``"
            lines += [head, "-" * len(head), ""]
            if title: lines += [f"Written, explained and tested in :doc:`{title} </{nb}>`.", ""]
            else: log.warning(f"{mod} says it is made from {nb}.ipynb, which is not in {cfg.course_nbs}/")
            lines += [f".. automodule:: {mod}", "   :members:", ""]
        return self.parse_text_to_nodes("\n".join(lines), allow_section_headings=True)

_code = re.compile(r"(?<![`\w])`([^`\n]+)`(?![`\w])")
def _rst(text:str) -> str:
    "nbdev docstrings are markdown: `x` is code, which RST writes ``x``."
    return _code.sub(r"``\1``", text)

def process_docstring(app, what, name, obj, options, lines):
    "autodoc-process-docstring: markdown code, docments as parameter descriptions, a link to the chapter."
    lines[:] = [_rst(l) for l in lines if not (what == "module" and l.startswith("Docs: "))]
    if what in ("function", "method", "class"):
        try:
            from fastcore.docments import docments
            docs = docments(obj, full=True)
        except Exception: docs = {}
        params = [(p, d["docment"]) for p, d in docs.items() if p != "return" and d.get("docment")]
        ret = docs.get("return", {}).get("docment")
        if params or ret: lines.append("")
        lines += [f":param {p}: {_rst(d)}" for p, d in params]
        if ret: lines.append(f":returns: {_rst(ret)}")
    if what in ("function", "class", "exception") and hasattr(app, "course_site"):
        state = app.course_site
        label = state["labels"].get(name)
        page = state.get("label_page", {}).get(name)
        if label and page:
            lines += ["", f"*Defined in* :ref:`{state['titles'][page]} <{label}>`."]
        else:
            mod = name.rsplit(".", 1)[0]
            nb = dict(lib_modules(Path(app.config.course_root), app.config.course_lib)).get(mod)
            if nb in state["titles"]: lines += ["", f"*Defined in* :doc:`{state['titles'][nb]} </{nb}>`."]


# ---------------------------------------------------------------------------------------------------- theme, assets

def add_kaggle_button(app, pagename, templatename, context, doctree):
    "html-page-context, after sphinx-book-theme's own: put Kaggle in the launch menu of notebook pages."
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons": continue
        path = f"{app.config.course_nbs}/{pagename}.ipynb"
        group["buttons"].append({"type": "link", "text": "Kaggle", "tooltip": "Launch on Kaggle",
                                 "icon": "fab fa-kaggle",
                                 "url": launch_urls(app.config.course_repository, app.config.course_branch, path)["kaggle"]})

def mathml(latex:str, display:str="inline") -> str:
    "LaTeX as MathML, which browsers draw themselves: no MathJax, no CDN, nothing to load."
    from latex2mathml.converter import convert
    out = convert(latex.strip(), display=display)
    # latex2mathml keeps the backslash of escaped characters inside \text{}: fan\_in must read fan_in
    return re.sub(r"<mtext>(.*?)</mtext>", lambda m: "<mtext>" + re.sub(r"\\([_%&$#{}])", r"\1", m[1]) + "</mtext>", out)

def _visit_math(self, node):
    try: self.body.append(self.starttag(node, "span", "", CLASS="math") + mathml(node.astext()) + "</span>")
    except Exception as e: log.warning(f"can't convert the math {node.astext()!r} to MathML: {e}", location=node)
    raise nodes.SkipNode

def _visit_displaymath(self, node):
    from sphinx.util.math import get_node_equation_number
    self.body.append(self.starttag(node, "div", CLASS="math"))
    if node.get("number"):
        self.body.append(f'<span class="eqno">({get_node_equation_number(self, node)})</span>')
    try: self.body.append(mathml(node.astext(), display="block"))
    except Exception as e: log.warning(f"can't convert the math {node.astext()!r} to MathML: {e}", location=node)
    self.body.append("</div>\n")
    raise nodes.SkipNode

def setup(app):
    for name in ("course_root", "course_nbs", "course_lib", "course_repository", "course_branch"):
        app.add_config_value(name, None, "env")
    app.connect("builder-inited", generate_pages)
    app.connect("autodoc-process-docstring", process_docstring)
    app.connect("html-page-context", add_kaggle_button, priority=502)
    app.add_html_math_renderer("mathml", (_visit_math, None), (_visit_displaymath, None))
    app.add_directive("course-api", CourseApi)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
