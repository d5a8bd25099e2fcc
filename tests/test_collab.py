"Tests of `course_lib.collab`, chapter 6's module: each piece written by hand agrees with PyTorch, fastai or pandas; the chapter itself runs in tests/test_notebooks.py, its exercises in tests/test_checks.py."
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from course_lib.collab import *

def test_movielens_loads_from_the_package_with_users_first():
    df = load_movielens()
    assert df.shape == (100_004, 7) and list(df.columns[:3]) == ["userId", "movieId", "rating"]
    assert df.rating.between(0.5, 5).all() and df.groupby("userId").size().min() == 20

def test_shrunk_means_are_plain_means_at_lam_0_and_shrink_few_rows_most():
    r, keys = pd.Series([2., 4., 1., 3., 3., 3.]), pd.Series(["a", "a", "b", "c", "c", "c"])
    assert shrunk_means(r, keys, 0.).equals(r.groupby(keys).mean())
    s = shrunk_means(r, keys, 1.)
    assert np.allclose(s[["a", "b", "c"]], [6 / 3, 1 / 2, 9 / 4])
    assert s["b"] / 1 < s["c"] / 3  # one row keeps half its mean, three keep three quarters

def _ratings():
    return pd.DataFrame({"userId": [1, 1, 2, 2, 3], "movieId": [10, 20, 10, 30, 20], "rating": [4., 2., 5., 3., 1.]})

def test_bias_predict_by_hand_and_unknown_ids_get_no_bias():
    train = _ratings()
    mu = train.rating.mean()  # 3
    movie = {10: (1 + 2) / 2, 20: (-1 - 2) / 2, 30: 0.}
    user = {1: ((4 - 3 - movie[10]) + (2 - 3 - movie[20])) / 2, 2: ((5 - 3 - movie[10]) + (3 - 3 - movie[30])) / 2, 3: (1 - 3 - movie[20]) / 1}
    valid = pd.DataFrame({"userId": [1, 3, 9], "movieId": [30, 10, 10], "rating": [0., 0., 0.]})
    want = [mu + user[1] + movie[30], mu + user[3] + movie[10], mu + movie[10]]
    assert np.allclose(bias_predict(train, valid, lam=0), want)
    assert np.allclose(bias_predict(train, pd.DataFrame({"userId": [9], "movieId": [99]}), lam=5), [mu])

def test_one_hot_product_is_the_embedding_lookup_with_the_same_gradient():
    idx, emb = torch.tensor([3, 1, 3]), nn.Embedding(5, 4)
    assert torch.equal(one_hot(idx, 5), F.one_hot(idx, 5).float())
    w = emb.weight.detach().clone().requires_grad_()
    (one_hot(idx, 5) @ w).pow(2).sum().backward()
    emb(idx).pow(2).sum().backward()
    assert torch.allclose(one_hot(idx, 5) @ w, emb(idx)) and torch.allclose(w.grad, emb.weight.grad)

def test_sigmoid_range_is_fastais():
    from fastai.layers import sigmoid_range as fastai_sigmoid_range
    x = torch.linspace(-8, 8, 17)
    assert torch.allclose(sigmoid_range(x, 0.5, 5.5), fastai_sigmoid_range(x, 0.5, 5.5))

def test_dot_product_bias_predicts_as_fastais_embedding_dot_bias():
    from fastai.collab import EmbeddingDotBias
    torch.manual_seed(0)
    ours, theirs = DotProductBias(7, 9, n_factors=3), EmbeddingDotBias(3, 7, 9, y_range=(0, 5.5))
    for a, b in [("user_factors", "u_weight"), ("movie_factors", "i_weight"), ("user_bias", "u_bias"), ("movie_bias", "i_bias")]:
        nn.init.normal_(getattr(ours, a).weight)
        getattr(theirs, b).weight.data.copy_(getattr(ours, a).weight.data)
    x = torch.tensor([[0, 0], [6, 8], [3, 2], [3, 5]])
    assert torch.allclose(ours(x), theirs(x), atol=1e-6)
    assert sum(p.numel() for p in ours.parameters()) == (7 + 9) * 4

def test_l2_penalty_step_is_torch_sgd_with_weight_decay():
    torch.manual_seed(0)
    w0, x, t, wd, lr = torch.randn(4, 3), torch.randn(8, 4), torch.randn(8, 3), 0.05, 0.1
    ours = w0.clone().requires_grad_()
    (F.mse_loss(x @ ours, t) + l2_penalty([ours], wd)).backward()
    with torch.no_grad(): ours -= lr * ours.grad
    theirs = w0.clone().requires_grad_()
    opt = torch.optim.SGD([theirs], lr=lr, weight_decay=2 * wd)  # PyTorch adds weight_decay · w to the gradient
    F.mse_loss(x @ theirs, t).backward(); opt.step()
    assert torch.allclose(ours, theirs, atol=1e-6)

def test_encode_numbers_users_and_movies_and_maps_back():
    df = _ratings()
    x, y, users, movies = encode(df)
    assert x.dtype == torch.long and x.shape == (5, 2) and torch.equal(y, torch.tensor(df.rating.values, dtype=torch.float32))
    assert list(users[x[:, 0].numpy()]) == df.userId.tolist() and list(movies[x[:, 1].numpy()]) == df.movieId.tolist()

def test_rating_dls_hold_out_the_mask_in_one_batch_and_shuffle_reproducibly():
    x, y = torch.arange(40).view(20, 2), torch.arange(20.)
    valid = np.arange(20) % 4 == 0
    dls = rating_dls(x, y, valid, bs=4, seed=1)
    (vx, vy), = list(dls.valid)
    assert torch.equal(vy, y[torch.as_tensor(valid)])
    order = [yb.tolist() for _, yb in dls.train]
    assert sorted(sum(order, [])) == y[torch.as_tensor(~valid)].tolist() and order == [yb.tolist() for _, yb in rating_dls(x, y, valid, bs=4, seed=1).train]

def test_latest_split_holds_out_each_users_newest_share():
    df = load_movielens()
    latest = latest_split(df, 0.2)
    for u, g in df.assign(latest=latest).groupby("userId"):
        assert g.latest.sum() == max(1, round(len(g) * 0.2))
        assert g.timestamp[g.latest].min() >= g.timestamp[~g.latest].max(), u

def test_hit_rate_counts_users_with_a_liked_movie_in_their_top_k():
    recs = {1: [5, 6, 7], 2: [8, 9, 5], 3: [1, 2, 3]}
    liked = {1: {7}, 2: {1}, 3: {1, 4}}
    assert hit_rate(recs, liked, k=3) == pytest.approx(2 / 3) and hit_rate(recs, liked, k=2) == pytest.approx(1 / 3)

def test_most_similar_is_the_brute_force_cosine_ranking():
    torch.manual_seed(0)
    f = torch.randn(30, 6)
    sims = [(float(F.cosine_similarity(f[4], f[j], dim=0)), j) for j in range(30) if j != 4]
    assert most_similar(f, 4, 5) == [j for _, j in sorted(sims, reverse=True)[:5]]
    among = [1, 2, 4, 9, 20, 21]
    assert set(most_similar(f, 4, 5, among)) == {1, 2, 9, 20, 21}

def test_both_models_learn_low_rank_ratings_better_than_the_mean():
    "On made-up ratings of rank 2, `fit_ratings` trains the dot product and the network well past predicting the mean."
    g = torch.Generator().manual_seed(0)
    users, movies = torch.randn(40, 2, generator=g), torch.randn(60, 2, generator=g)
    pairs = torch.cartesian_prod(torch.arange(40), torch.arange(60))
    y = (3 + (users[pairs[:, 0]] * movies[pairs[:, 1]]).sum(1)).clamp(0.5, 5)
    valid = np.random.default_rng(0).random(len(y)) < 0.2
    mean_rmse = float((y[torch.as_tensor(valid)] - y[torch.as_tensor(~valid)].mean()).pow(2).mean().sqrt())
    for make in (lambda: DotProductBias(40, 60, n_factors=4), lambda: CollabNN(40, 60, n_factors=4, n_hidden=20)):
        torch.manual_seed(0)
        model = make()
        learn = fit_ratings(model, rating_dls(pairs, y, valid, bs=64), wd=1e-5, n_epoch=20, lr=3e-2, show=False)
        assert learn.history[-1]["rmse"] < mean_rmse / 2, type(model).__name__  # seeds 0-3: the network 0.18-0.23 of it, the dot product 0.11
        with torch.no_grad(): out = model(pairs)
        assert out.min() > 0 and out.max() < 5.5

def test_fit_ratings_trains_on_the_squared_error_plus_the_l2_penalty_of_the_factors():
    """One epoch of one batch of `fit_ratings` is one Adam step on MSE + `l2_penalty(factors, wd)`, done here by hand; the
    same step without the penalty lands measurably elsewhere, so the comparison can tell the two apart."""
    g = torch.Generator().manual_seed(0)
    pairs = torch.cartesian_prod(torch.arange(6), torch.arange(8))
    y = torch.rand(len(pairs), generator=g) * 4.5 + 0.5
    valid = np.zeros(len(y), dtype=bool); valid[::5] = True
    dls = rating_dls(pairs, y, valid, bs=len(y))  # one batch: the epoch is one step
    torch.manual_seed(0)
    model, wd, lr = DotProductBias(6, 8, n_factors=3), 0.5, 0.1
    with torch.no_grad():
        for e in (model.user_factors, model.movie_factors): e.weight.normal_(0, 1)  # big enough for the penalty to matter
    start = {k: v.clone() for k, v in model.state_dict().items()}
    fit_ratings(model, dls, wd=wd, n_epoch=1, lr=lr, show=False)
    xb, yb = next(iter(dls.train))
    def by_hand(penalty:bool):
        m = DotProductBias(6, 8, n_factors=3); m.load_state_dict(start)
        opt = torch.optim.Adam(m.parameters(), lr)
        loss = F.mse_loss(m(xb), yb) + (l2_penalty([m.user_factors.weight, m.movie_factors.weight], wd) if penalty else 0)
        loss.backward(); opt.step()
        return torch.cat([m.user_factors.weight.detach(), m.movie_factors.weight.detach()])
    got = torch.cat([model.user_factors.weight.detach(), model.movie_factors.weight.detach()])
    want = by_hand(True)
    assert torch.allclose(got[:6], want[:6], atol=1e-6) and torch.allclose(got[6:], want[6:], atol=1e-6), \
        f"fit_ratings's step is not Adam on MSE + l2_penalty(both factor tables, wd): users off by {(got[:6] - want[:6]).abs().max():.3g}, movies by {(got[6:] - want[6:]).abs().max():.3g}"
    assert not torch.allclose(by_hand(False), want, atol=1e-3)  # the test would notice a missing penalty

def test_fit_ratings_records_the_validation_rmse_without_the_penalty():
    "`history`'s rmse is the plain root mean squared error on the validation ratings, whatever `wd` adds to the loss."
    g = torch.Generator().manual_seed(1)
    pairs = torch.cartesian_prod(torch.arange(5), torch.arange(7))
    y = torch.rand(len(pairs), generator=g) * 4.5 + 0.5
    valid = np.arange(len(y)) % 4 == 0
    torch.manual_seed(0)
    model = DotProductBias(5, 7, n_factors=2)
    learn = fit_ratings(model, rating_dls(pairs, y, valid, bs=8), wd=10., n_epoch=1, show=False)
    with torch.no_grad(): want = float((model(pairs[torch.as_tensor(valid)]) - y[torch.as_tensor(valid)]).pow(2).mean().sqrt())
    assert learn.history[-1]["rmse"] == pytest.approx(want, rel=1e-5)

def test_fit_ratings_penalises_the_weights_decay_names_and_only_those():
    "`decay` names the submodules whose weights the penalty covers (the biases too, a network's layers): one Adam step by hand on MSE + `l2_penalty` of those."
    g = torch.Generator().manual_seed(0)
    pairs = torch.cartesian_prod(torch.arange(6), torch.arange(8))
    y = torch.rand(len(pairs), generator=g) * 4.5 + 0.5
    valid = np.zeros(len(y), dtype=bool); valid[::5] = True
    dls = rating_dls(pairs, y, valid, bs=len(y))  # one batch: the epoch is one step
    factors, biases, wd, lr = ("user_factors", "movie_factors"), ("user_bias", "movie_bias"), 0.5, 0.1
    torch.manual_seed(0)
    start = DotProductBias(6, 8, n_factors=3)
    with torch.no_grad():
        for n in factors + biases: start.get_submodule(n).weight.normal_(0, 1)  # big enough for the penalty to matter
    def by_hand(names):
        m = DotProductBias(6, 8, n_factors=3); m.load_state_dict(start.state_dict())
        opt = torch.optim.Adam(m.parameters(), lr)
        xb, yb = next(iter(dls.train))
        (F.mse_loss(m(xb), yb) + l2_penalty([m.get_submodule(n).weight for n in names], wd)).backward(); opt.step()
        return m
    for names in (factors, factors + biases):
        model = DotProductBias(6, 8, n_factors=3); model.load_state_dict(start.state_dict())
        fit_ratings(model, dls, wd=wd, n_epoch=1, lr=lr, show=False, **({} if names == factors else {"decay": names}))
        want = by_hand(names)
        for n in factors + biases:
            assert torch.allclose(model.get_submodule(n).weight, want.get_submodule(n).weight, atol=1e-6), (names, n)
    assert not torch.allclose(by_hand(factors).movie_bias.weight, by_hand(factors + biases).movie_bias.weight, atol=1e-3)  # the test would notice the biases left out
    net = CollabNN(6, 8, n_factors=3, n_hidden=4)
    assert fit_ratings(net, dls, wd=wd, n_epoch=1, show=False, decay=("user_factors", "movie_factors", "layers.0", "layers.2")).history  # a network's layers by their names
