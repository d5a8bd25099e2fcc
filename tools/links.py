"""One address: the repository URL in pyproject.toml ([project.urls] Repository) is the only place it is written by hand.

Everything that repeats it is derived from it here: each chapter's install cell (which installs the release tag
`v<course_lib.__version__>`, so a copy of a notebook saved to a learner's Drive keeps working), the Colab and Kaggle
links in README.md and the course home, and the Documentation URL (GitHub Pages). The website reads pyproject.toml
itself. To publish a fork: change that one line, run `python tools/links.py`, commit.

    python tools/links.py            # rewrite everything derived from the address
    python tools/links.py --check    # exit 1, naming the files, if anything disagrees with it
"""
from __future__ import annotations
import json, re, sys
from pathlib import Path
try: import tomllib
except ImportError: import tomli as tomllib  # Python 3.10

root = Path(__file__).resolve().parent.parent
MARK = "# Colab or Kaggle: install this course's library"  # first line of every install cell: how it is found


def settings(root:Path=root) -> dict:
    "The address and what follows from it: org, repo, branch, version and release tag."
    proj = tomllib.loads((root / "pyproject.toml").read_text())
    url = proj["project"]["urls"]["Repository"].rstrip("/")
    m = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?", url)
    if not m: sys.exit(f"tools/links.py: [project.urls] Repository must be a https://github.com/ORG/REPO URL, not {url!r}")
    version = re.search(r'__version__\s*=\s*"([^"]+)"', (root / "course_lib/__init__.py").read_text())[1]
    return dict(url=url, org=m[1], repo=m[2], branch=proj["tool"]["nbdev"]["branch"], version=version, tag=f"v{version}")


def install_cell(s:dict) -> str:
    "The first code cell of every chapter: installs the release of course_lib made with this notebook, and says so."
    spec = f"course-lib @ git+{s['url']}@{s['tag']}"
    return f'''{MARK}: the release made with this notebook (locally it is already installed)
import importlib, importlib.util, subprocess, sys
if importlib.util.find_spec("course_lib") is None:
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{spec}"], capture_output=True, text=True)
    if r.returncode: raise RuntimeError(f"pip could not install course_lib ({{(r.stderr.strip().splitlines() or ['no message'])[-1]}}): is the internet on? Kaggle: Settings ▸ Internet ▸ on.")
    if r.stderr.strip(): print(r.stderr.strip())
    importlib.invalidate_caches()
    print("Installed course_lib {s['version']} (release {s['tag']} of {s['url'].removeprefix('https://')}), keeping this runtime's own PyTorch and fastai; "
          "pip's warnings about other packages' requirements, if any above, concern packages this course doesn't use: harmless.")
else: print("course_lib is already installed here: nothing to install.")'''


def launch(s:dict, path:str) -> dict:
    "Colab and Kaggle URLs that open `path` (relative to the repository root) from GitHub."
    blob = f"github.com/{s['org']}/{s['repo']}/blob/{s['branch']}/{path}"
    return {"colab": f"https://colab.research.google.com/{blob.replace('github.com/', 'github/', 1)}",
            "kaggle": f"https://kaggle.com/kernels/welcome?src=https://{blob}"}


_colab = re.compile(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w.-]+/((?:nbs/)?[\w./-]+\.ipynb)")
_kaggle = re.compile(r"https://kaggle\.com/kernels/welcome\?src=https://github\.com/[\w.-]+/[\w.-]+/blob/[\w.-]+/((?:nbs/)?[\w./-]+\.ipynb)")
_docs = re.compile(r'^(Documentation\s*=\s*)"[^"]*"', re.M)


def _links(text:str, s:dict, prefix:str="") -> str:
    "`text` with every Colab and Kaggle link pointing at the address (`prefix`: where the links' paths are relative to)."
    text = _colab.sub(lambda m: launch(s, _under_nbs(m[1], prefix))["colab"], text)
    return _kaggle.sub(lambda m: launch(s, _under_nbs(m[1], prefix))["kaggle"], text)

def _under_nbs(p:str, prefix:str) -> str: return p if p.startswith("nbs/") else prefix + p


def derived(root:Path=root) -> dict[Path, str]:
    "Every file whose text follows from the address, as it should read."
    s, out = settings(root), {}
    readme = root / "README.md"
    out[readme] = _links(readme.read_text(), s)
    pyproject = root / "pyproject.toml"
    out[pyproject] = _docs.sub(lambda m: f'{m[1]}"https://{s["org"]}.github.io/{s["repo"]}/"', pyproject.read_text())
    # the clean twins are not rewritten here: `course-lib clean` makes them from the chapters
    for nb_path in sorted(p for p in (root / "nbs").glob("*.ipynb")):
        text = nb_path.read_text(encoding="utf-8")
        nb, changed = json.loads(text), False
        for c in nb["cells"]:
            src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            new = install_cell(s) if c["cell_type"] == "code" and src.startswith(MARK) else _links(src, s, "nbs/")
            if new != src: c["source"], changed = new.splitlines(keepends=True), True
        # in nbdev-clean's format, so that a notebook with nothing to change stays byte for byte the same
        out[nb_path] = json.dumps(nb, indent=1, ensure_ascii=False) + "\n" if changed else text
    return out


def main(argv=None) -> int:
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    want = derived()
    wrong = [p for p, text in want.items() if p.read_text(encoding="utf-8") != text]
    if check:
        for p in wrong: print(f"tools/links.py: {p.relative_to(root)} disagrees with the Repository address in pyproject.toml")
        if wrong: print("run `python tools/links.py` to rewrite them from it, then commit.")
        return 1 if wrong else 0
    for p in wrong:
        p.write_text(want[p], encoding="utf-8")
        print(f"rewrote {p.relative_to(root)}")
    return 0


if __name__ == "__main__": sys.exit(main())
