"The repository keeps its promises: notebooks committed clean, course_lib in sync, one test command everywhere."
import re, shutil, subprocess, sys
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
    proj = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    want = {_name(r) for r in proj["dependencies"] + proj["optional-dependencies"]["dev"]}
    env = yaml.safe_load((root / "environment.yml").read_text())["dependencies"]
    pip = next(d["pip"] for d in env if isinstance(d, dict))
    have = {_name(d) for d in env if isinstance(d, str)} | {_name(d) for d in pip}
    extra_ok = {"python", "pip", "pytorch", "torchvision"}  # what pip gets through fastai; conda names torch pytorch
    assert want - have == set(), f"environment.yml lacks {want - have}"
    assert have - want - extra_ok == set(), f"environment.yml has packages pyproject.toml lacks: {have - want - extra_ok}"

def _readme_test_command():
    m = re.search(r"run the tests.*?```(?:bash|sh)?\n(.+?)\n```", (root / "README.md").read_text(), re.S | re.I)
    assert m, "README.md must show the test command in a code block under a heading that says 'run the tests'"
    return m.group(1).strip().splitlines()[-1].strip()

def test_ci_runs_the_readme_test_command():
    cmd = _readme_test_command()
    ci = [l.strip() for l in (root / ".ci/run").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert ci[-1] == cmd, f".ci/run must end by running the README's test command {cmd!r}, not {ci[-1]!r}"
    wf = (root / ".github/workflows/test.yml").read_text()
    assert re.search(rf"run:\s*{re.escape(cmd)}\s*$", wf, re.M), f"the GitHub workflow must run {cmd!r}"

def test_notebook_install_cells_point_at_the_repository():
    "Colab installs course_lib from the URL in each chapter's first cells; it must be this project's repository."
    url = tomllib.loads((root / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    for nb in sorted((root / "nbs").glob("[0-9][0-9]_*.ipynb")):
        text = nb.read_text()
        assert f"git+{url}" in text, f"{nb.name}: its install cell must install from git+{url}"
