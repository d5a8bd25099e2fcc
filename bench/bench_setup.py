"""How long `tools/course setup` takes from a fresh clone with pip, and with uv's pip (what it uses when uv is on the
PATH), uv's cache empty; and whether the two install the very same packages. Needs the package index; about 2 minutes.
The photos step is the same for both (and skipped where the course's cache already holds them).

    .venv/bin/python bench/bench_setup.py
"""
import os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def uv_binary(tmp:Path) -> str:
    "uv from the PATH, else from PyPI into a virtual environment of its own."
    if found := shutil.which("uv"): return found
    subprocess.run([sys.executable, "-m", "venv", tmp / "uv-tool"], check=True)
    subprocess.run([tmp / "uv-tool/bin/python", "-m", "pip", "install", "--quiet", "uv"], check=True)
    return str(tmp / "uv-tool/bin/uv")

def set_up(tmp:Path, name:str, env:dict) -> tuple[float, set]:
    "Seconds `tools/course setup` took in a fresh clone, and the packages it installed (normalised name==version)."
    clone = tmp / name
    subprocess.run(["git", "clone", "-q", root, clone], check=True)
    t = time.perf_counter()
    subprocess.run(["tools/course", "setup"], cwd=clone, env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL)
    secs = time.perf_counter() - t
    code = "import importlib.metadata as m; print('\\n'.join(f'{d.name}=={d.version}' for d in m.distributions()))"
    out = subprocess.run([clone / ".venv/bin/python", "-c", code], capture_output=True, text=True, check=True).stdout
    norm = lambda s: re.sub(r"[-_.]+", "-", s.lower())
    return secs, {norm(l) for l in out.split() if not l.lower().startswith(("pip==", "setuptools=="))}

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        uv = uv_binary(tmp)
        pip_s, pip_pkgs = set_up(tmp, "pip", {"COURSE_NO_UV": "1", "PIP_NO_CACHE_DIR": "1"})
        uv_s, uv_pkgs = set_up(tmp, "uv", {"PATH": f"{Path(uv).parent}:{os.environ['PATH']}", "UV_CACHE_DIR": str(tmp / "uv-cache")})
        print(f"tools/course setup, fresh clone: pip {pip_s:.0f} s, uv (empty cache) {uv_s:.0f} s: uv takes {uv_s / pip_s:.2f}x pip's time")
        print(f"packages: {len(pip_pkgs)} with pip, {len(uv_pkgs)} with uv; the same names and versions: {pip_pkgs == uv_pkgs}")
        if pip_pkgs != uv_pkgs: print("only pip:", sorted(pip_pkgs - uv_pkgs), "\nonly uv:", sorted(uv_pkgs - pip_pkgs))
