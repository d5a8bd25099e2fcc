"Time chapter 6's from-scratch training of the dot-product model against fastai's `collab_learner` and a bare PyTorch loop: same model, split, epochs and weight decay."
import copy, statistics, sys, time, warnings

import numpy as np
import torch
import torch.nn.functional as F

EPOCHS, LR, WD, BS, RUNS, THREADS = 5, 5e-3, 1e-4, 512, 3, 2

def bare_loop(dls, model, epochs, lr, wd):
    "The loop everybody writes, with the penalty in the loss: same work per epoch as the Learners (train loss; valid RMSE)."
    opt = torch.optim.Adam(model.parameters(), lr)
    factors = [model.user_factors.weight, model.movie_factors.weight]
    for _ in range(epochs):
        model.train()
        for xb, yb in dls.train:
            loss = F.mse_loss(model(xb), yb) + wd * sum((w ** 2).sum() for w in factors)
            loss.backward()
            opt.step()
            opt.zero_grad()
        model.eval()
        with torch.no_grad(): rmse = float(torch.cat([(model(xb) - yb) ** 2 for xb, yb in dls.valid]).mean().sqrt())
    return rmse

def main():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastai.collab import EmbeddingDotBias, collab_learner
        from fastai.data.core import DataLoaders
        from fastai.learner import Learner
        from fastai.optimizer import Adam
        from fastai.collab import TabularCollab
        from fastai.tabular.all import Categorify
        import fastai.callback.progress  # noqa: F401  (gives Learner `no_bar`)
    from functools import partial
    from course_lib.collab import DotProductBias, encode, fit_ratings, load_movielens, rating_dls
    torch.set_num_threads(THREADS)
    df = load_movielens()
    valid = np.zeros(len(df), bool)
    valid[np.random.default_rng(0).permutation(len(df))[: len(df) // 5]] = True
    x, y, users, movies = encode(df)
    n_users, n_movies = len(users), len(movies)
    def factors_then_biases(m): return [[m.u_weight.weight, m.i_weight.weight], [m.u_bias.weight, m.i_bias.weight]]
    def fastai_rmse(learn):
        with learn.no_bar(): p, t = learn.get_preds()
        return float(((p.squeeze() - t.squeeze()) ** 2).mean().sqrt())

    def ours(seed):
        torch.manual_seed(seed)
        return fit_ratings(DotProductBias(n_users, n_movies), rating_dls(x, y, valid, BS, seed), wd=WD, n_epoch=EPOCHS, lr=LR, show=False).history[-1]["rmse"]

    def bare(seed):
        torch.manual_seed(seed)
        return bare_loop(rating_dls(x, y, valid, BS, seed), DotProductBias(n_users, n_movies), EPOCHS, LR, WD)

    def fastai_same_batches(seed):
        "fastai's `Learner` and its `EmbeddingDotBias` on our in-memory batches, with our kind of weight decay."
        torch.manual_seed(seed)
        d = rating_dls(x, y, valid, BS, seed)
        learn = Learner(DataLoaders(d.train, d.valid), EmbeddingDotBias(50, n_users, n_movies, y_range=(0, 5.5)), loss_func=F.mse_loss,
                        opt_func=partial(Adam, decouple_wd=False), splitter=factors_then_biases)
        with learn.no_bar(), learn.no_logging(): learn.fit(EPOCHS, LR, wd=[2 * WD, 0])
        learn.model.eval()
        with torch.no_grad(): return float(torch.cat([(learn.model(xb) - yb) ** 2 for xb, yb in d.valid]).mean().sqrt())

    to = TabularCollab(df, [Categorify], cat_names=["userId", "movieId"], y_names=["rating"],
                       splits=(list(np.flatnonzero(~valid)), list(np.flatnonzero(valid))))
    def fastai_collab(seed):
        "What a learner would write: `collab_learner` on fastai's own loaders, with the chapter's weight decay."
        torch.manual_seed(seed)
        learn = collab_learner(to.dataloaders(bs=BS), n_factors=50, y_range=(0, 5.5), opt_func=partial(Adam, decouple_wd=False),
                               splitter=factors_then_biases)
        with learn.no_bar(), learn.no_logging(): learn.fit(EPOCHS, LR, wd=[2 * WD, 0])
        return fastai_rmse(learn)

    contenders = {"fit_ratings (BasicLearner, from scratch)": ours, "bare PyTorch loop": bare,
                  "fastai Learner, the same batches": fastai_same_batches, "fastai collab_learner, its own loaders": fastai_collab}
    n_train = int((~valid).sum())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s); MovieLens ml-latest-small, {n_train:,} training and "
          f"{int(valid.sum()):,} validation ratings; DotProductBias, 50 factors; {EPOCHS} epochs of batches of {BS}, Adam at {LR}, "
          f"L2 {WD} on the factors; median of {RUNS} runs, run in turns\n")
    for fn in contenders.values(): fn(0)  # warm-up
    times, rmses = {c: [] for c in contenders}, {c: [] for c in contenders}
    for seed in range(RUNS):
        for name, fn in contenders.items():  # in turns, so that a slow moment of the machine hits them all
            t = time.perf_counter()
            rmses[name].append(fn(seed))
            times[name].append(time.perf_counter() - t)
    med = {c: statistics.median(ts) for c, ts in times.items()}
    print(f"  {'':42}{'seconds':>9}{'ratings/s':>12}{'valid RMSE':>12}")
    for c in contenders:
        print(f"  {c:42}{med[c]:9.2f}{EPOCHS * n_train / med[c]:12,.0f}{statistics.median(rmses[c]):12.4f}")
    s, b, fs, fc = (med[c] for c in contenders)
    print(f"\n  from scratch / fastai collab_learner: {s / fc:.2f}x (target <= 1.0)   from scratch / fastai, same batches: {s / fs:.2f}x"
          f"   from scratch / bare loop: {s / b:.2f}x (target <= 1.1)")
    ok = s <= fc and s <= 1.1 * b
    print("targets met" if ok else "a target was missed")
    return 0

if __name__ == "__main__": sys.exit(main())
