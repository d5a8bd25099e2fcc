"""Plant known bugs in a scratch copy of the course, one at a time, and run the test file of the module each one is in:
every bug must make that file fail. A bug that gets through names a test that doesn't check what it claims.

    .venv/bin/python tools/plant_bugs.py            # every bug (a few minutes: each run starts Python, torch and fastai)
    .venv/bin/python tools/plant_bugs.py nan bag    # the bugs whose name contains one of these words

Not part of CI (it runs the same test files many times over); run it after changing a module's tests. Each bug is an
exact piece of text and its replacement: if the text is no longer in the module, the bug is reported as stale, so
this list can't silently stop planting anything.
"""
import os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

root = Path(__file__).resolve().parent.parent

# name, file, the text it replaces, what replaces it, the test file (and pytest options) that must fail
BUGS = [
    ("nan-stops-only-with-stop_div", "course_lib/lr_find.py",
     "if diverged(s, best, stop_div):", "if stop_div and diverged(s, best):", ["tests/test_lr_find.py"]),
    ("stop_div-false-still-stops", "course_lib/lr_find.py",
     "return stop_div and smooth_loss > 4 * best_loss", "return smooth_loss > 4 * best_loss", ["tests/test_lr_find.py"]),
    ("range-test-takes-every-batch-as-a-pair", "course_lib/lr_find.py",
     "xs, ys = [t.to(device) for t in b[:n_inp]], [t.to(device) for t in b[n_inp:]]", "xs, ys = [b[0].to(device)], [b[1].to(device)]",
     ["tests/test_lr_find.py", "-k", "every_kind"]),
    ("lr-find-ignores-stop_div", "course_lib/lr_find.py",
     "learn.opt, start_lr, end_lr, num_it, stop_div)", "learn.opt, start_lr, end_lr, num_it)", ["tests/test_lr_find.py"]),
    ("hand-written-optimizer-state-shared", "course_lib/lr_find.py",
     'return copy.deepcopy({k: v for k, v in vars(opt).items() if k != "params"})', "return dict(vars(opt))", ["tests/test_lr_find.py"]),
    ("bag-median-of-half-the-trees", "course_lib/tabular.py",
     "return np.mean([t.predict(np.asarray(X)) for t, _ in trees], axis=0)",
     "return np.median([t.predict(np.asarray(X)) for t, _ in trees[:len(trees) // 2]], axis=0)", ["tests/test_tabular.py"]),
    ("bag-averages-three-trees", "course_lib/tabular.py",
     "for t, _ in trees], axis=0)", "for t, _ in trees[:3]], axis=0)", ["tests/test_tabular.py"]),
    ("bag-one-sample-for-every-tree", "course_lib/tabular.py",
     "idx = bootstrap(len(y), rng)", "idx = bootstrap(len(y), np.random.default_rng(seed))", ["tests/test_tabular.py"]),
    ("fit-ratings-without-weight-decay", "course_lib/collab.py",
     "def loss(pred, targ): return F.mse_loss(pred, targ) + l2_penalty(weights, wd)", "def loss(pred, targ): return F.mse_loss(pred, targ)",
     ["tests/test_collab.py"]),
    ("fit-ratings-decays-only-users", "course_lib/collab.py",
     "weights = [model.get_submodule(name).weight for name in decay]", "weights = [model.get_submodule(name).weight for name in decay[:1]]",
     ["tests/test_collab.py"]),
    ("download-never-decodes-pixels", "course_lib/photos.py",
     "with _decoding: im.load()", "pass", ["tests/test_photos.py"]),
    ("progress-in-the-working-folder", "course_lib/checks.py",
     'Path.home() / ".course_lib" / "progress.json"', 'Path("progress.json")', ["tests/test_checks.py"]),
    ("working-gpu-reported-broken", "course_lib/toolbox.py",
     'return True, f"GPU: {name} (CUDA', 'return False, f"GPU: {name} (CUDA', ["tests/test_toolbox.py"]),
    ("gpu-answer-never-compared", "course_lib/toolbox.py",
     "if not torch.allclose((x.cuda() @ x.cuda()).cpu(), x @ x", "if False and not torch.allclose((x.cuda() @ x.cuda()).cpu(), x @ x",
     ["tests/test_toolbox.py"]),
    ("graded-notebook-may-write-the-course", "course_lib/grading.py",
     'for d in readonly: mount("--bind", d, d); mount("-o", "remount,bind,ro", d)', "for d in readonly: pass",
     ["tests/test_grading.py", "-k", "cannot_change_the_course"]),
    ("space-pins-colabs-own-torch-build", "course_lib/production.py",
     "def version(p): return Version((versions or {}).get(p) or md.version(p)).public",
     "def version(p): return (versions or {}).get(p) or md.version(p)", ["tests/test_production.py", "-k", "space"]),
    ("app-on-colab-not-shown", "course_lib/production.py",
     'inline=where == "Colab"', "inline=False", ["tests/test_production.py", "-k", "serve"]),
    ("drawn-stand-ins-not-announced", "nbs/01_intro.ipynb",
     '"    print(\\"OFFLINE STAND-IN: these are drawn pictures, not photos', '"    print(\\"OFFLINE: these are pictures',
     ["tests/test_notebooks.py", "-m", "other_paths"]),
]

def scratch_copy(dest:Path):
    "The course's library, notebooks, tests and settings, as they are in the working tree."
    for d in ("course_lib", "nbs", "tests", "images"): shutil.copytree(root / d, dest / d, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copy(root / "pyproject.toml", dest)

def plant(name, file, old, new, test) -> tuple[str, str]:
    "Plant one bug in a fresh scratch copy and run its test file: ('caught', first failure) or ('GOT THROUGH', ...)."
    with tempfile.TemporaryDirectory(prefix=f"bug-{name}-") as d:
        d = Path(d)
        scratch_copy(d)
        text = (d / file).read_text()
        if text.count(old) != 1: return "STALE", f"{file} holds {text.count(old)} copies of the text to replace"
        (d / file).write_text(text.replace(old, new))
        env = {**os.environ, "PYTHONPATH": str(d)}  # the scratch copy's course_lib, before the installed one
        p = subprocess.run([sys.executable, "-m", "pytest", *test, "-x", "-q", "-p", "no:cacheprovider", "--no-header", "-rN"],
                           cwd=d, capture_output=True, text=True, env=env)
        lines = [l for l in p.stdout.splitlines() if l.startswith(("E ", "FAILED", "ERROR"))]
        if p.returncode == 1: return "caught", (lines[0][2:].strip() if lines else "")[:140]
        return ("GOT THROUGH" if p.returncode == 0 else f"exit {p.returncode}"), p.stdout.strip().splitlines()[-1][:140]

def main(words):
    bugs = [b for b in BUGS if not words or any(w in b[0] for w in words)]
    bad = 0
    for name, file, old, new, test in bugs:
        t = time.monotonic()
        status, why = plant(name, file, old, new, test)
        bad += status != "caught"
        print(f"{status:12} {name:40} {time.monotonic() - t:5.0f}s  {why}", flush=True)
    print(f"{len(bugs) - bad} caught, {bad} not caught")
    return 1 if bad else 0

if __name__ == "__main__": sys.exit(main(sys.argv[1:]))
