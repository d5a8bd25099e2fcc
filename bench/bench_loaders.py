"""Chapter 1's offline training on a CPU with fastai's default data loaders (worker processes, started afresh each
epoch) and with `num_workers=0` (the images loaded in the notebook's own process): seconds for `fine_tune(3)` and the
error rates, on the Tux Paint photos at 128 pixels, batches of 16, as the chapter trains. Needs the set-up's photos.

    .venv/bin/python bench/bench_loaders.py              # every core torch finds
    .venv/bin/python bench/bench_loaders.py --threads 1  # one thread: a worker of the README's test command
"""
import argparse, tempfile, time, warnings
from pathlib import Path

def fit(path:Path, workers) -> tuple[float, list]:
    "Seconds for chapter 1's `fine_tune(3)` with data loaders of `workers` processes (None: fastai's default), and each epoch's error rate."
    from fastai.vision.all import ImageDataLoaders, Resize, ResizeMethod, set_seed
    from course_lib.bird import bird_learner
    set_seed(42, reproducible=True)
    kw = {} if workers is None else dict(num_workers=workers)
    dls = ImageDataLoaders.from_folder(path, valid_pct=0.2, seed=42, item_tfms=Resize(128, ResizeMethod.Squish), bs=16, **kw)
    set_seed(42, reproducible=True)
    learn = bird_learner(dls)
    t = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(3)
    return time.perf_counter() - t, [round(float(v[2]), 3) for v in learn.recorder.values]

if __name__ == "__main__":
    ap = argparse.ArgumentParser(); ap.add_argument("--threads", type=int, default=0); ap.add_argument("--runs", type=int, default=2)
    a = ap.parse_args()
    import torch
    from fastcore.basics import defaults
    from course_lib.photos import tuxpaint_photos
    warnings.filterwarnings("ignore")
    if a.threads: torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as d:
        if tuxpaint_photos(Path(d) / "photos") is None: raise SystemExit("Tux Paint's photos are not in the course's cache: run tools/course setup")
        print(f"torch threads {torch.get_num_threads()}, fastai's default workers {min(16, defaults.cpus)}")
        for run in range(a.runs):  # alternate, so that a slower moment of the machine hits both
            (s_def, e_def), (s_0, e_0) = fit(Path(d) / "photos", None), fit(Path(d) / "photos", 0)
            print(f"run {run + 1}: default workers {s_def:.1f} s (error rates {e_def}), num_workers=0 {s_0:.1f} s ({e_0}): {s_0 / s_def:.2f}x the default's time")
