"Time chapter 2's from-scratch `BasicLearner` against fastai's `Learner.fit` and a bare PyTorch loop: same models, data, batches."
import copy, math, statistics, sys, time, warnings
from types import SimpleNamespace

import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

N_TRAIN, N_VALID = 12_396, 2_038  # MNIST_SAMPLE's size
BS, RUNS, THREADS = 256, 5, 1
MODELS = {"linear": (lambda: nn.Linear(28 * 28, 1), 10, 1.), "simple_net": (None, 10, 0.1)}  # make, epochs, lr

def data():
    "MNIST_SAMPLE-sized tensors: the 1,000 real offline digits (600 train, 400 valid), repeated."
    import contextlib, io
    from course_lib.sgd import mnist_tensors
    from course_lib.toolbox import mnist_sample
    with contextlib.redirect_stdout(io.StringIO()): tx, ty, vx, vy = mnist_tensors(mnist_sample(offline=True))
    rep = lambda t, n: t.repeat((n + len(t) - 1) // len(t), 1)[:n].contiguous()
    return rep(tx, N_TRAIN), rep(ty, N_TRAIN), rep(vx, N_VALID), rep(vy, N_VALID)

def loaders(tx, ty, vx, vy, seed=0):
    "In-memory loaders that index a whole batch at once (shuffled training batches), wrapped in fastai's `DataLoaders`."
    from fastai.data.core import DataLoaders
    g = torch.Generator().manual_seed(seed)
    train = DataLoader(TensorDataset(tx, ty), batch_size=None, sampler=BatchSampler(RandomSampler(tx, generator=g), BS, False))
    valid = DataLoader(TensorDataset(vx, vy), batch_size=None, sampler=BatchSampler(SequentialSampler(vx), BS, False))
    return DataLoaders(train, valid)

def bare_loop(dls, model, epochs, lr, loss_func, metric):
    "The loop everybody writes: same work per epoch as the Learners (mean train loss; valid loss and metric)."
    opt = torch.optim.SGD(model.parameters(), lr)
    history = []
    for _ in range(epochs):
        model.train()
        total, n = 0., 0
        for xb, yb in dls.train:
            loss = loss_func(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
            total, n = total + loss.detach() * len(xb), n + len(xb)
        model.eval()
        sums, nv = torch.zeros(2, dtype=torch.float64), 0
        with torch.no_grad():
            for xb, yb in dls.valid:
                preds = model(xb)
                sums += torch.stack([loss_func(preds, yb).double(), metric(preds, yb).double()]) * len(xb)
                nv += len(xb)
        history.append([float(total / n), *(sums / nv).tolist()])
    return history[-1][2]

def main():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastai.learner import Learner
        from fastai.optimizer import SGD
        import fastai.callback.progress  # noqa: F401  (gives Learner `no_bar`)
    from course_lib.sgd import BasicLearner, BasicOptim, batch_accuracy, mnist_loss, simple_net
    MODELS["simple_net"] = (simple_net, *MODELS["simple_net"][1:])
    torch.set_num_threads(THREADS)
    tx, ty, vx, vy = data()

    def ours(dls, model, epochs, lr):
        learn = BasicLearner(dls, model, opt_func=BasicOptim, loss_func=mnist_loss, metrics=batch_accuracy)
        learn.fit(epochs, lr=lr, show=False)
        return learn.history[-1]["batch_accuracy"]

    def fastais(dls, model, epochs, lr):
        learn = Learner(dls, model, opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy)
        with learn.no_bar(), learn.no_logging(): learn.fit(epochs, lr=lr)
        return learn.recorder.values[-1][2]

    def bare(dls, model, epochs, lr): return bare_loop(dls, model, epochs, lr, mnist_loss, batch_accuracy)

    def loading_only(dls, model, epochs, lr):
        for _ in range(epochs):
            for b in dls.train: pass
            for b in dls.valid: pass
        return float("nan")

    contenders = {"BasicLearner.fit (from scratch)": ours, "fastai Learner.fit": fastais, "bare PyTorch loop": bare,
                  "(data loading alone)": loading_only}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s); {N_TRAIN:,} training and {N_VALID:,} "
          f"validation images (the 1,000 real offline digits, repeated), in memory; batch size {BS}; "
          f"median of {RUNS} runs, run in turns\n")
    results = {}
    for mname, (make, epochs, lr) in MODELS.items():
        torch.manual_seed(42)
        start = make()
        times = {c: [] for c in contenders}
        accs = {}
        for fn in contenders.values(): fn(loaders(tx, ty, vx, vy), copy.deepcopy(start), 1, lr)  # warm-up
        for _ in range(RUNS):
            for name, fn in contenders.items():  # in turns, so that a slow moment of the machine hits them all
                dls, model = loaders(tx, ty, vx, vy), copy.deepcopy(start)
                t = time.perf_counter()
                accs[name] = fn(dls, model, epochs, lr)
                times[name].append(time.perf_counter() - t)
        med = {c: statistics.median(ts) for c, ts in times.items()}
        results[mname] = med
        print(f"{mname} ({epochs} epochs, lr={lr}, {len(dls.train)} batches/epoch)")
        print(f"  {'':34}{'seconds':>9}{'train images/s':>16}{'accuracy':>10}")
        for c in contenders:
            acc = "" if math.isnan(accs[c]) else f"{accs[c]:.4f}"
            print(f"  {c:34}{med[c]:9.3f}{epochs * N_TRAIN / med[c]:16,.0f}{acc:>10}")
        s, f, b = (med[c] for c in list(contenders)[:3])
        print(f"  from scratch / fastai: {s / f:.2f}x (target <= 1.0)   from scratch / bare loop: {s / b:.2f}x "
              f"(target <= 1.1)   fastai / bare loop: {f / b:.2f}x\n")
    ok = all(r[list(contenders)[0]] <= r[list(contenders)[1]] and r[list(contenders)[0]] <= 1.1 * r[list(contenders)[2]]
             for r in results.values())
    print("targets met" if ok else "a target was missed")
    return 0

if __name__ == "__main__": sys.exit(main())
