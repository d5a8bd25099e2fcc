"""Time chapter 4's weights-only `load_classifier` against fastai's `learn.predict` and against the Gradio app called over
HTTP: one image at a time, on the CPU, as a free Space serves it. The chapter's network, EfficientNet-Lite0 (random
weights: speed doesn't depend on them), the same stand-in images, at the chapter's online size (192 pixels) and offline
size (96)."""
import os, statistics, tempfile, time, warnings
from pathlib import Path

import torch

RUNS, IMAGES, THREADS = 5, 20, 1

def main():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastai.vision.all import set_seed, vision_learner
    from gradio_client import Client, handle_file
    from course_lib.photos import make_standins
    from course_lib.production import bear_block, load_classifier, make_app, save_model, serve
    torch.set_num_threads(THREADS)
    tmp = Path(tempfile.mkdtemp())
    files = make_standins(tmp / "bears", n=IMAGES, size=256, kinds=("grizzly", "black", "teddy"), broken=False)[:IMAGES]
    print(f"torch {torch.__version__}, {THREADS} CPU thread(s); EfficientNet-Lite0, 3 labels; {IMAGES} images of 256×256 one at a "
          f"time, median of {RUNS} runs, run in turns (ms per image)\n")
    print(f"  {'size':>6}{'learn.predict':>15}{'load_classifier':>17}{'ratio':>7}{'app over HTTP':>15}")
    for size in (192, 96):
        set_seed(0)
        learn = vision_learner(bear_block(size).dataloaders(tmp / "bears", bs=8, num_workers=0, device="cpu"),
                               "tf_efficientnet_lite0", pretrained=False)
        classify = load_classifier(save_model(learn, tmp / f"model{size}", arch="tf_efficientnet_lite0"))
        app = make_app(classify)
        client = Client(serve(app), verbose=False, analytics_enabled=False)
        def fastai(fn):
            with learn.no_bar(): return learn.predict(fn)
        def http(fn): return client.predict(handle_file(str(fn)), api_name="/predict")
        contenders = {"learn.predict": fastai, "load_classifier": classify, "app": http}
        for f in contenders.values(): f(files[0])  # warm-up
        times = {c: [] for c in contenders}
        for _ in range(RUNS):
            for name, f in contenders.items():
                t = time.perf_counter()
                for fn in files: f(fn)
                times[name].append((time.perf_counter() - t) / len(files) * 1000)
        app.close()
        med = {c: statistics.median(ts) for c, ts in times.items()}
        print(f"  {size:>6}{med['learn.predict']:>15.1f}{med['load_classifier']:>17.1f}"
              f"{med['learn.predict'] / med['load_classifier']:>6.2f}×{med['app']:>15.1f}")

if __name__ == "__main__":
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    main()
