"Time chapter 3's from-scratch learning-rate finder against fastai's `Learner.lr_find`: same model, data, batches, iterations."
import copy, statistics, sys, tempfile, time, warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_sgd import N_TRAIN, N_VALID, data, loaders  # MNIST_SAMPLE-sized in-memory data, batches of 256

RUNS, THREADS, NUM_IT = 5, 1, 100
SUGGEST = ("valley", "slide", "minimum", "steep")

def main():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import fastai.callback.schedule as fa
        from fastai.learner import Learner
        from fastai.optimizer import SGD
        import fastai.callback.progress  # noqa: F401  (gives Learner `no_bar`)
    from course_lib.lr_find import lr_find
    from course_lib.sgd import BasicLearner, BasicOptim, batch_accuracy, mnist_loss, simple_net
    torch.set_num_threads(THREADS)
    tx, ty, vx, vy = data()
    tmp = Path(tempfile.mkdtemp())

    def fastai_learner(dls, model): return Learner(dls, model, opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy, model_dir=tmp)

    def fastais(dls, model):
        learn = fastai_learner(dls, model)
        with learn.no_bar(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = learn.lr_find(num_it=NUM_IT, suggest_funcs=tuple(getattr(fa, n) for n in SUGGEST), show_plot=False)
        return s._asdict(), len(learn.recorder.lrs)

    def ours_on_fastai(dls, model):
        r = lr_find(fastai_learner(dls, model), num_it=NUM_IT, suggest_funcs=SUGGEST, show_plot=False)
        return {k: s.lr for k, s in r.suggestions.items()}, len(r.lrs)

    def ours_on_basic(dls, model):
        r = lr_find(BasicLearner(dls, model, opt_func=BasicOptim, loss_func=mnist_loss, metrics=batch_accuracy),
                    num_it=NUM_IT, suggest_funcs=SUGGEST, show_plot=False)
        return {k: s.lr for k, s in r.suggestions.items()}, len(r.lrs)

    contenders = {"fastai learn.lr_find()": fastais, "course_lib lr_find(fastai Learner)": ours_on_fastai,
                  "course_lib lr_find(BasicLearner)": ours_on_basic}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s); {N_TRAIN:,} training images (the 1,000 real "
          f"offline digits, repeated), in memory; batch size 256; simple_net; fastai's SGD / BasicOptim; num_it={NUM_IT}; "
          f"median of {RUNS} runs, run in turns\n")
    torch.manual_seed(42)
    start = simple_net()
    for fn in contenders.values(): fn(loaders(tx, ty, vx, vy), copy.deepcopy(start))  # warm-up
    times, out = {c: [] for c in contenders}, {}
    for _ in range(RUNS):
        for name, fn in contenders.items():  # in turns: a slow moment of the machine hits them all
            dls, model = loaders(tx, ty, vx, vy, seed=0), copy.deepcopy(start)
            t = time.perf_counter()
            out[name] = fn(dls, model)
            times[name].append(time.perf_counter() - t)
    med = {c: statistics.median(ts) for c, ts in times.items()}
    print(f"  {'':36}{'seconds':>9}{'iterations':>12}" + "".join(f"{n:>11}" for n in SUGGEST))
    for c in contenders:
        sugg, n = out[c]
        print(f"  {c:36}{med[c]:9.3f}{n:12d}" + "".join(f"{sugg[k]:11.3e}" for k in SUGGEST))
    f, o, b = (med[c] for c in contenders)
    fv, ov, bv = (out[c][0]["valley"] for c in contenders)
    ratio = ov / fv
    print(f"\n  time, course_lib / fastai: {o / f:.2f}x on the same fastai Learner, {b / f:.2f}x with BasicLearner (target <= 1.0)")
    print(f"  valley, course_lib / fastai: {ratio:.3f} on the same Learner, {bv / fv:.3f} with BasicLearner (target within 2x)")
    ok = o <= f and b <= f and 0.5 <= ratio <= 2 and 0.5 <= bv / fv <= 2
    print("targets met" if ok else "a target was missed")
    return 0

if __name__ == "__main__": sys.exit(main())
