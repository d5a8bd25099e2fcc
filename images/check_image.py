"""Would `pip install <the course>` change a package that Colab's or Kaggle's image ships?

    python images/check_image.py colab|kaggle [--project PATH] [--spec SPEC] [--python PY]

Makes a throwaway venv on the image's Python, declares every package of the image installed with a
metadata-only .dist-info, and reads pip's dry-run install report. Exit 1, one line per package, when pip would
replace something the image ships; else exit 0, listing what it would add; exit 2 when it can't tell (no Python,
no package index). Needs the package index (PyPI).
See images/README.md for what is approximated.
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).parent
# Colab runs 3.13; Kaggle still builds on a Colab image from before that move (see README.md).
PYTHONS = {"colab": ("COURSE_PY313", "3.13", "/root/.pyenv/versions/3.13.0/bin/python"),
           "kaggle": ("COURSE_PY312", "3.12", "/root/.pyenv/versions/3.12.1/bin/python")}
OFFLINE = re.compile(r"NewConnectionError|ConnectTimeout|ReadTimeout|Max retries exceeded|Could not fetch URL"
                     r"|from versions: none|Temporary failure in name resolution")


def die(msg: str):
    "Exit 2: the check could not run (exit 1 means it ran and found a change)."
    print(f"check_image: {msg}", file=sys.stderr)
    sys.exit(2)


def norm(name: str) -> str:
    "PEP 503 normalised name."
    return re.sub(r"[-_.]+", "-", name).lower()


def read_freeze(path) -> tuple[dict, int]:
    "`{norm name: (name, version)}` from a pip freeze's `name==version` lines, and how many other lines were skipped."
    image, skipped = {}, 0
    for line in Path(path).read_text().splitlines():
        if not (line := line.strip()) or line.startswith("#"): continue
        if m := re.fullmatch(r"([A-Za-z0-9][\w.-]*)==(\S+)", line): image[norm(m[1])] = (m[1], m[2])
        else: skipped += 1  # `name @ url`: a local or git build, no version pip could compare
    return image, skipped


def snapshot(image: str, name: str) -> Path:
    "A file of the image's snapshot here, e.g. `pip-freeze.gpu.txt` (Kaggle's: of the Colab image it builds on)."
    return HERE / image / (f"colab-base-{name}" if image == "kaggle" else name)


def versions(image: str) -> dict:
    "`{norm name: version}` as `pip freeze` reports them on the image, local labels such as +cu128 kept."
    return {n: v for n, (_, v) in read_freeze(snapshot(image, "pip-freeze.gpu.txt"))[0].items()}


def kaggle_lines(base: dict, path) -> tuple[list, dict, int]:
    """Split kaggle_requirements.txt the way Kaggle's `uv pip install -r` treats it on top of Colab's `base`:
    lines the base already satisfies change nothing; `redo` are the lines that make uv install something (an
    unsatisfied line, or an exact pin of a package the base lacks); `unknown` maps the other packages the base
    lacks to their specifier: uv installs them at whatever was newest, a version no file here records."""
    from pip._vendor.packaging.requirements import Requirement  # pip's own copy, so no third-party import
    redo, unknown, skipped = [], {}, 0
    for line in Path(path).read_text().splitlines():
        if not (line := line.split(" #")[0].strip()) or line.startswith("#"): continue
        try: req = Requirement(line)
        except Exception: skipped += 1; continue  # a git+ URL: not on the index
        n, spec = norm(req.name), req.specifier
        if n in base:
            if not spec.contains(base[n][1], prereleases=True): redo.append(line)
        elif len(spec) == 1 and next(iter(spec)).operator == "==": redo.append(line)
        else: unknown[n] = (req.name, str(spec))
    return redo, unknown, skipped


def declare(site: Path, image: dict) -> dict:
    "Write a metadata-only .dist-info per package of `image` into `site`, so pip counts it as installed; return the dirs."
    dirs = {}
    for n, (name, version) in image.items():
        d = dirs[n] = site / f"{re.sub(r'[-_.]+', '_', name)}-{version}.dist-info"
        d.mkdir()
        (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (d / "INSTALLER").write_text("check_image\n")
        (d / "RECORD").write_text("")
    return dirs


def changed(report: dict, image: dict) -> list[str]:
    "One line per package that pip's install `report` would put over the version `image` ships."
    return [f"{m['name']}: image has {image[norm(m['name'])][1]}, pip would install {m['version']}"
            for m in (i["metadata"] for i in report.get("install", [])) if norm(m["name"]) in image]


def added(report: dict) -> list[str]:
    "`name==version` of everything pip's install `report` would install."
    return [f"{i['metadata']['name']}=={i['metadata']['version']}" for i in report.get("install", [])]


def pip_report(py: str, tmp: Path, args: list) -> tuple[dict | None, str, float]:
    """pip's dry-run install report for `args` (None if pip failed), pip's errors, and the MB it downloaded;
    exit if the index is unreachable."""
    out = tmp / "report.json"
    out.unlink(missing_ok=True)
    # Not --quiet: its "Downloading x (12 kB)" lines show nothing big (torch, say) gets fetched.
    # Own retries/timeout: the environment may say 180 s x 5 retries, which hides an offline index for an hour.
    cmd = [py, "-m", "pip", "install", "--dry-run", "--disable-pip-version-check", "--retries", "1",
           "--timeout", "30", "--report", str(out), *args]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode and "ResolutionImpossible" not in p.stderr and (m := OFFLINE.search(p.stderr)):
        die(f"pip cannot reach the package index, which this check needs ({m[0]})")
    unit = {"bytes": 1e-6, "kB": 1e-3, "MB": 1, "GB": 1e3}
    got = {f: float(n) * unit[u] for f, n, u in re.findall(r"Downloading (\S+) \(([\d.]+) (bytes|kB|MB|GB)\)", p.stdout)}
    for f in (f for f, size in got.items() if size > 50): print(f"warning: pip downloaded {f} ({got[f]:.0f} MB)")
    mb = sum(got.values())
    # pip tells the cause of a ResolutionImpossible on stdout, the verdict on stderr.
    why = p.stdout[p.stdout.find("The conflict is caused by"):] if "The conflict is caused by" in p.stdout else ""
    err = "\n".join(l for l in p.stderr.splitlines() if not l.startswith("WARNING: Location")) + "\n" + why
    return (json.loads(out.read_text()) if p.returncode == 0 else None), err.strip(), mb


def unsure(report: dict, unknown: dict) -> list[str]:
    """Lines for packages Kaggle installs at an unrecorded version (`unknown`: {norm name: (name, specifier)}) that
    pip's `report` would install: a change for sure when pip's version is outside Kaggle's specifier; otherwise
    pip only installs it if Kaggle's version doesn't fit, which this check can't tell, so it just notes it."""
    from pip._vendor.packaging.specifiers import SpecifierSet
    out = []
    for m in (i["metadata"] for i in report.get("install", [])):
        if (n := norm(m["name"])) not in unknown: continue
        name, spec = unknown[n]
        if SpecifierSet(spec).contains(m["version"], prereleases=True):
            print(f"note: {name}: Kaggle installs it ({spec or 'unpinned'}) at a version not recorded here; "
                  f"pip replaces that with {m['version']} only if it doesn't fit")
        else: out.append(f"{name}: image has a version matching '{spec}', pip would install {m['version']}")
    return out


def image_python(osinfo: Path) -> str:
    "The `3.x` Python of an image's os-info file."
    return re.search(r"^Python (\d+\.\d+)", osinfo.read_text(), re.M)[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("image", choices=PYTHONS)
    ap.add_argument("--project", type=Path, default=HERE.parent, help="local checkout to install (default: this repo)")
    ap.add_argument("--spec", help="what to pip install instead of --project, e.g. a git URL")
    ap.add_argument("--python", help="interpreter for the venv (default: $COURSE_PY313 for colab, $COURSE_PY312 "
                    "for kaggle, else pyenv's 3.13.0 / 3.12.1)")
    a = ap.parse_args(argv)
    env_var, version, pyenv = PYTHONS[a.image]
    py = a.python or os.environ.get(env_var) or (pyenv if shutil.which(pyenv) else shutil.which(f"python{version}"))
    if not py or not shutil.which(py): die(f"no Python {version} found: pass --python or set ${env_var}")
    folder = HERE / a.image
    image, skipped = read_freeze(snapshot(a.image, "pip-freeze.gpu.txt"))
    want = image_python(snapshot(a.image, "os-info-gpu.txt"))
    target = a.spec or str(a.project.resolve())
    start, mb = time.monotonic(), 0.0
    with tempfile.TemporaryDirectory(prefix="check_image-") as tmp:
        tmp = Path(tmp)
        subprocess.run([py, "-m", "venv", str(tmp / "venv")], check=True)
        vpy = str(tmp / "venv/bin/python")
        got = subprocess.run([vpy, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True).stdout.strip()
        if got != want: print(f"warning: the image runs Python {want}, this venv {got}")
        site = next((tmp / "venv/lib").glob("python*/site-packages"))
        real = {norm(d.name.split("-")[0]) for d in site.glob("*.dist-info")}  # the venv's own pip: keep it real
        image = {n: v for n, v in image.items() if n not in real}
        dirs = declare(site, image)
        unknown = {}
        if a.image == "kaggle":
            redo, unknown, more = kaggle_lines(image, folder / "kaggle_requirements.txt")
            skipped += more
            # Replay Kaggle's install step for the lines that change something, their dependencies included.
            rep, err, mb = pip_report(vpy, tmp, redo) if redo else ({"install": []}, "", 0.0)
            if rep is None: die(f"cannot replay kaggle_requirements.txt on Colab's base:\n{err}")
            for m in (i["metadata"] for i in rep["install"]):
                if (n := norm(m["name"])) in dirs: shutil.rmtree(dirs.pop(n))
                image[n] = (m["name"], m["version"])
                dirs.update(declare(site, {n: image[n]}))
                unknown.pop(n, None)
            print("kaggle over colab:", *added(rep))
        print(f"{a.image} image: Python {want}, {len(image)} packages declared, {skipped} lines skipped "
              "(not name==version)" + (f", {len(unknown)} Kaggle packages of unknown version" if unknown else ""))
        print(f"pip install {target}")
        rep, err, mb1 = pip_report(vpy, tmp, [target])
        mb += mb1
        if rep is None: die(f"pip failed:\n{err}")
        bad = changed(rep, image) + unsure(rep, unknown)
        if bad:
            print("CHANGES THE IMAGE:", *bad, sep="\n  ")
            # The image's versions as constraints: pip either finds a way around (so only its default choice
            # is at fault) or says which requirement forces the change.
            cons = tmp / "image-constraints.txt"
            cons.write_text("".join(f"{name}=={v}\n" for name, v in image.values())
                            + "".join(f"{name}{spec}\n" for name, spec in unknown.values() if spec))
            rep2, err2, mb2 = pip_report(vpy, tmp, ["-c", str(cons), target])
            mb += mb2
            if rep2 is None: print("with the image's versions as constraints:", err2[-3000:], sep="\n")
            else: print("with the image's versions as constraints pip finds a way that changes nothing:",
                        *added(rep2), sep="\n  ")
        else: print("changes nothing the image ships; adds:", *added(rep), sep="\n  ")
    print(f"{time.monotonic() - start:.0f} s, {mb:.1f} MB downloaded by pip")
    return 1 if bad else 0


if __name__ == "__main__": sys.exit(main())
