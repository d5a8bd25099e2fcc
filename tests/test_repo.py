"The repository keeps its promises: notebooks committed clean, course_lib in sync, one test command everywhere."
import json, re, shutil, subprocess, sys
from pathlib import Path
import yaml
try: import tomllib
except ImportError: import tomli as tomllib  # Python 3.10; nbdev depends on it there

root = Path(__file__).parent.parent
bin_dir = Path(sys.executable).parent

def _files():
    "Tracked files, and new ones git doesn't ignore: what a commit would hold."
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    return sorted(f for f in out.split("\0") if f and (root / f).is_file())

def test_nbdev_clean_and_export_change_nothing(tmp_path):
    "The nbdev CI convention, run on a copy so the working tree is never touched."
    files = _files()
    for f in files:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / f, tmp_path / f)
    for cmd in ("nbdev-clean", "nbdev-export"):
        subprocess.run([str(bin_dir / cmd)], cwd=tmp_path, check=True, capture_output=True)
    changed = [f for f in files if (tmp_path / f).read_bytes() != (root / f).read_bytes()]
    new = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "course_lib").rglob("*.py")
                 if str(p.relative_to(tmp_path)) not in files)
    assert not changed, f"run nbdev-clean and nbdev-export, then commit: they change {changed}"
    assert not new, f"nbdev-export creates files that are not in the repository: {new}"

def _name(req): return re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")

def test_environment_yml_lists_the_pyproject_packages():
    "Everything pyproject.toml installs (dependencies, dev and docs extras), and nothing else."
    proj = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    extras = proj["optional-dependencies"]
    want = {_name(r) for r in proj["dependencies"] + extras["dev"] + extras["docs"]}
    env = yaml.safe_load((root / "environment.yml").read_text())["dependencies"]
    pip = next(d["pip"] for d in env if isinstance(d, dict))
    have = {_name(d) for d in env if isinstance(d, str)} | {_name(d) for d in pip}
    extra_ok = {"python", "pip", "pytorch", "torchvision"}  # what pip gets through fastai; conda names torch pytorch
    assert want - have == set(), f"environment.yml lacks {want - have}"
    assert have - want - extra_ok == set(), f"environment.yml has packages pyproject.toml lacks: {have - want - extra_ok}"

def _readme_command(heading:str, doc:str="README.md") -> str:
    "The last line of the first code block after the words `heading` in `doc` (the README, or CONTRIBUTING for maintainers' commands)."
    m = re.search(rf"{heading}.*?```(?:bash|sh)?\n(.+?)\n```", (root / doc).read_text(), re.S | re.I)
    assert m, f"{doc} must show a command in a code block under words that say {heading!r}"
    return m.group(1).strip().splitlines()[-1].strip()

def _readme_test_command(): return _readme_command("run the tests")
def _readme_platform_test_command(): return _readme_command("check the course against Colab", "CONTRIBUTING.md")
def _readme_docs_test_command(): return _readme_command("test the website", "CONTRIBUTING.md")
def _readme_uv_test_command(): return _readme_command("check the README's uv set-up", "CONTRIBUTING.md")

def test_ci_runs_the_readme_test_commands():
    """CI runs the README's test command, then CONTRIBUTING's Colab/Kaggle command, website test command and the
    command that runs the README's uv set-up from nothing; any failure fails CI."""
    cmd, platform_cmd, docs_cmd, uv_cmd = (_readme_test_command(), _readme_platform_test_command(), _readme_docs_test_command(),
                                           _readme_uv_test_command())
    lines = [l.strip() for l in (root / ".ci/run").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert "set -euo pipefail" in lines, ".ci/run must stop at the first command that fails (set -euo pipefail)"
    errexit = lines.index("set -euo pipefail")
    # each command is a line of its own (nothing like `|| true` after it), run after errexit is on, test suite first
    assert all(c in lines for c in (cmd, platform_cmd, docs_cmd, uv_cmd)), f".ci/run must run {cmd!r}, {platform_cmd!r}, {docs_cmd!r} and {uv_cmd!r}, each on a line: {lines}"
    assert errexit < lines.index(cmd) < lines.index(platform_cmd) < lines.index(docs_cmd) < lines.index(uv_cmd) and lines[-1] == uv_cmd, lines
    assert not any(re.search(r"set \+e|trap|\|\||exit 0", l) for l in lines), f".ci/run must not hide a failure: {lines}"
    wf = (root / ".github/workflows/test.yml").read_text()
    for c in (cmd, platform_cmd, docs_cmd, uv_cmd):
        assert re.search(rf"run:\s*{re.escape(c)}\s*$", wf, re.M), f"the GitHub workflow must run {c!r}"

def test_readme_leads_with_what_a_learner_needs():
    "At most ~150 lines; its first screenful has a Colab link, the two commands and where the self-tests are."
    text = (root / "README.md").read_text()
    assert len(text.splitlines()) <= 150, f"README.md has {len(text.splitlines())} lines: maintainers' material goes to CONTRIBUTING.md or the website"
    first = "\n".join(text.splitlines()[:40])
    for what in ("colab.research.google.com", "tools/course lab", _readme_test_command(), "nbs/clean/", "check"):
        assert what in first, f"README.md's first screenful (40 lines) must show {what!r}"
    for doc in re.findall(r"\]\(((?!https?:|#)[^)#]+)", text):
        assert (root / doc).exists(), f"README.md links to {doc}, which isn't in the repository"

def test_uv_set_up_pins_the_torch_pair_tools_course_pins():
    "`uv sync` and `tools/course` install the same PyTorch and torchvision on each kind of machine."
    course = (root / "tools/course").read_text()
    pins = dict(re.findall(r"^\s*(aarch64\|arm64|\*)\)\s+torch=\"(.+?)\" ;;", course, re.M))
    assert set(pins) == {"aarch64|arm64", "*"}, pins
    uv = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["uv"]["constraint-dependencies"]
    from packaging.requirements import Requirement
    for machine, want in (("aarch64", pins["aarch64|arm64"]), ("arm64", pins["aarch64|arm64"]), ("x86_64", pins["*"])):
        got = sorted(f"{r.name}{r.specifier}" for r in map(Requirement, uv) if r.marker.evaluate({"platform_machine": machine}))
        assert got == sorted(want.split()), f"on {machine}: uv pins {got}, tools/course {want.split()}"

def test_pages_workflow_publishes_what_the_readme_command_builds():
    "GitHub Pages gets the site CONTRIBUTING's docs command builds, from the folder that command writes."
    cmd = _readme_command("build the website", "CONTRIBUTING.md")
    wf = (root / ".github/workflows/pages.yml").read_text()
    assert re.search(rf"run:\s*{re.escape(cmd)}\s*$", wf, re.M), f"pages.yml must build with {cmd!r}"
    assert re.search(r"^\s*path:\s*docs/_build/html\s*$", wf, re.M) and "actions/upload-pages-artifact" in wf
    assert "actions/deploy-pages" in wf
    course = (root / "tools/course").read_text()
    assert "${1:-docs/_build/html}" in course, "tools/course docs must build into docs/_build/html by default"

def test_one_address():
    """The repository URL is written once, in pyproject.toml: the install cells, Colab/Kaggle links and Documentation URL
    all follow from it (`tools/links.py --check`), and no other GitHub address of ours is left anywhere."""
    p = subprocess.run([sys.executable, root / "tools/links.py", "--check"], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    url = tomllib.loads((root / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    ours = url.removeprefix("https://github.com/")
    launch = re.compile(r"(?:colab\.research\.google\.com/github/|kaggle\.com/kernels/welcome\?src=https://github\.com/|git\+https://github\.com/)([\w.-]+/[\w.-]+)")
    for f in _files():
        if not f.endswith((".ipynb", ".md", ".py", ".toml", ".yml", ".rst")): continue
        other = {m for m in launch.findall((root / f).read_text(errors="replace")) if m != ours and "{" not in m}
        assert not other, f"{f} points at {other}, not at {ours} (the Repository in pyproject.toml)"

CPU_CHAPTERS = {"02_sgd.ipynb", "03_lr_find.ipynb", "06_collab.ipynb", "07_inside.ipynb"}  # everything in them trains on the CPU, where there is a GPU too

def test_install_cells_install_this_release():
    "Each chapter's first cell installs the release tag of this version (not a branch), and says so in one line."
    sys.path.insert(0, str(root / "tools"))
    import links
    s = links.settings()
    for nb in sorted((root / "nbs").glob("[0-9][0-9]_*.ipynb")):
        code = ["".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
        first = next(c for c in code if not c.startswith("#| default_exp"))
        assert first == links.install_cell(s), f"{nb.name}: its first code cell must be the install cell"
        assert f"git+{s['url']}@v{s['version']}" in first and s["tag"] == f"v{s['version']}"
        meta, text = json.loads(nb.read_text())["metadata"], nb.read_text()
        if nb.name in CPU_CHAPTERS:  # a learner's free GPU time is not spent on a chapter that never uses the GPU, and it says why
            assert "accelerator" not in meta and "gpuType" not in meta.get("colab", {}) and "doesn't ask Colab for a GPU" in text, f"{nb.name}: trains on the CPU by design: no GPU runtime, and the chapter says why"
        else: assert meta.get("accelerator") == "GPU", f"{nb.name}: Colab must open it on a GPU"

def test_questions_page_links_each_question_to_a_code_cell():
    "Every link of the Questions page lands just above a code cell of its chapter, and every self-check it names exists."
    from course_lib.checks import chapter_exercises
    def cells(name): return json.loads((root / "nbs" / name).read_text())["cells"]
    page = "\n".join("".join(c["source"]) for c in cells("questions.ipynb"))
    links = re.findall(r"\]\(((\d\d_\w+)\.ipynb)#([\w-]+)\)", page)
    assert len(links) >= 8, f"the Questions page links only {len(links)} answers"
    for nb, _, anchor in links:
        cs = cells(nb)
        at = [i for i, c in enumerate(cs) if f'<a id="{anchor}"></a>' in "".join(c["source"])]
        assert len(at) == 1, f"{nb} has {len(at)} anchors {anchor!r}: the Questions page's link lands nowhere"
        assert at[0] + 1 < len(cs) and cs[at[0] + 1]["cell_type"] == "code", f"{nb}#{anchor} is not followed by a code cell"
        assert cs[at[0] + 1].get("outputs"), f"{nb}#{anchor}: the answering cell has no output committed"
    named = set(re.findall(r"`(\d\d\.\w+)`", page))
    assert named, "the Questions page names no self-check"
    for id in named: assert id in chapter_exercises(id[:2]), f"the Questions page names {id}, which is no exercise"
    assert "(questions.ipynb)" in "".join("".join(c["source"]) for c in cells("index.ipynb")), "the course home must link the Questions page"

def test_hidden_cells_print_nothing():
    "A hidden cell (an exercise's check, a check of the prose) leaves nothing in the stored outputs: the site and the learner see none of it."
    for nb in sorted((root / "nbs").glob("[0-9][0-9]_*.ipynb")):
        for c in json.loads(nb.read_text())["cells"]:
            src = "".join(c["source"])
            if c["cell_type"] == "code" and re.search(r"^#\|\s*hide\s*$", src, re.M):
                assert not c.get("outputs"), f"{nb.name}: a hidden cell printed {c['outputs'][0]!r:.120}: {src[:80]!r}"

def test_every_chapter_opens_with_a_map_and_ends_with_a_recap():
    "Before its first code, each chapter lists its sections, one item per main section (`## `), and it ends with a recap."
    skip = re.compile(r"^(Where are you running|Recap|Your progress|The figures this run reached|Apply it|Questionnaire|Appendix)", re.I)
    for nb in sorted((root / "nbs").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        md = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
        sections = [l for s in md for l in s.splitlines() if l.startswith("## ") and not skip.match(l[3:])]
        intro = "".join("".join(c["source"]) for c in cells[:next(i for i, c in enumerate(cells) if c["cell_type"] == "code" and "default_exp" not in "".join(c["source"]))])
        assert "**In this chapter**" in intro, f"{nb.name}: no map before its first code"
        items = re.findall(r"^\d+\. ", intro.split("**In this chapter**", 1)[1].split("**Set-up.**")[0], re.M)
        assert len(items) == len(sections), f"{nb.name}: the map lists {len(items)} sections, the chapter has {len(sections)}: {sections}"
        assert any(l.strip() == "## Recap" for s in md for l in s.splitlines()), f"{nb.name}: no recap"

def _imports(src:str) -> set:
    "Top-level modules `src` imports outright: not those inside a `try` that handles ImportError (an optional path)."
    import ast
    try: tree = ast.parse(src)
    except SyntaxError: return set()
    optional = set()
    for t in ast.walk(tree):
        if isinstance(t, ast.Try) and any("ImportError" in ast.unparse(h.type or ast.Name("BaseException")) or
                                          "ModuleNotFoundError" in ast.unparse(h.type or ast.Name("x")) or h.type is None for h in t.handlers):
            optional |= {id(n) for n in ast.walk(ast.Module(t.body, []))}
    out = set()
    for n in ast.walk(tree):
        if id(n) in optional: continue
        if isinstance(n, ast.Import): out |= {a.name.split(".")[0] for a in n.names}
        elif isinstance(n, ast.ImportFrom) and n.level == 0 and n.module: out.add(n.module.split(".")[0])
    return out

def _closure(reqs:list) -> set:
    "Every distribution a plain `pip install` of `reqs` brings: the requirements, theirs, and so on (extras aside)."
    from importlib.metadata import PackageNotFoundError, requires
    from packaging.requirements import Requirement
    seen, todo = set(), [_name(r) for r in reqs]
    while todo:
        d = todo.pop()
        if d in seen: continue
        seen.add(d)
        try: rs = requires(d) or []
        except PackageNotFoundError: continue
        for r in rs:
            r = Requirement(r)
            if r.marker is None or r.marker.evaluate({"extra": ""}): todo.append(_name(r.name))
    return seen

def test_every_import_of_the_chapters_and_library_comes_with_a_plain_install():
    "What a chapter (full or clean) or course_lib imports outright is installed by `pip install course-lib`: a dependency, or one of theirs."
    from importlib.metadata import packages_distributions
    dists = {m: {_name(d) for d in ds} for m, ds in packages_distributions().items()}
    proj = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    have = _closure(proj["dependencies"])
    srcs = {str(p.relative_to(root)): p.read_text() for p in (root / "course_lib").rglob("*.py")}
    for nb in sorted((root / "nbs").glob("[0-9][0-9]_*.ipynb")) + sorted((root / "nbs" / "clean").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        srcs[str(nb.relative_to(root))] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code"
                                                    and not "".join(c["source"]).lstrip().startswith(("!", "%")))
    missing = {}
    for where, src in srcs.items():
        for m in _imports("\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("!", "%")))):
            if m in sys.stdlib_module_names or m in ("course_lib", "__future__") or m.startswith("_"): continue
            if m == "nbdev" and where == "course_lib/grading.py": continue  # in the export processor, which only nbdev itself runs
            if not dists.get(m, set()) & have: missing.setdefault(m, []).append(where)
    assert not missing, "imported outright but not installed by `pip install course-lib` (declare it in pyproject's dependencies, or import it in a try/except ImportError with a clear message): " + \
        "; ".join(f"{m} ({', '.join(sorted(w)[:3])})" for m, w in sorted(missing.items()))
