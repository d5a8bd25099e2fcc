"Tests of `course_lib.lr_find`: the range test from scratch against fastai's `lr_find`, its suggestions, its state handling and its errors."
import copy, math, warnings

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.lr_find import (LRFind, diverged, ema_step, exp_lr, lr_find, lr_range_test, minimum, plot_lr_find,
                                plot_schedule, restore_state, save_state, slide, smooth_losses, steep, suggest, valley)
from course_lib.sgd import BasicLearner, BasicOptim, batch_accuracy, mnist_dls, mnist_loss, mnist_tensors, simple_net
from course_lib.toolbox import mnist_sample

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import fastai.callback.schedule as fa
    from fastai.learner import Learner
    from fastai.optimizer import SGD
    from fastai.torch_core import set_seed

@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

@pytest.fixture(scope="module")
def data(tmp_path_factory): return mnist_tensors(mnist_sample(offline=True, dest=tmp_path_factory.mktemp("mnist")))

def _dls(data, seed=42):
    set_seed(seed)
    return mnist_dls(*data, bs=64)

def _model(seed=42):
    torch.manual_seed(seed)
    return simple_net()

@pytest.fixture(scope="module")
def fastai_run(data, tmp_path_factory):
    "fastai's own lr_find on simple_net, and ours on an identical Learner: same weights, same batches."
    def learner(): return Learner(_dls(data), _model(), opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy,
                                  model_dir=tmp_path_factory.mktemp("models"))
    learn = learner()
    with learn.no_bar():
        sugg = learn.lr_find(suggest_funcs=(fa.valley, fa.slide, fa.minimum, fa.steep), show_plot=False)
    theirs = ([float(v) for v in learn.recorder.lrs], [float(v) for v in learn.recorder.losses])
    ours = lr_find(learner(), suggest_funcs=("valley", "slide", "minimum", "steep"), show_plot=False)
    return sugg, theirs, ours

# ---- the pieces

def test_exponential_schedule_is_fastais():
    assert exp_lr(1e-7, 10, 0) == pytest.approx(1e-7) and exp_lr(1e-7, 10, 1) == pytest.approx(10)
    sched = fa.SchedExp(1e-7, 10)
    for pos in (0.1, 0.37, 0.5, 0.99): assert exp_lr(1e-7, 10, pos) == pytest.approx(float(sched(pos)), rel=1e-6)

def test_smoothing_is_fastais_debiased_ema():
    g = np.random.default_rng(0)
    losses = list(1 + g.random(30))
    avg, want = 0., []
    for i, l in enumerate(losses, 1):
        avg = 0.98 * avg + 0.02 * l
        want.append(avg / (1 - 0.98 ** i))
    assert smooth_losses(losses) == pytest.approx(want) and smooth_losses(losses)[0] == pytest.approx(losses[0])
    assert smooth_losses([3.] * 10) == pytest.approx([3.] * 10)
    assert ema_step(0., 2., 1) == pytest.approx((0.04, 2.))

def test_stop_rule():
    assert not diverged(0.8, 0.2) and diverged(0.81, 0.2), "stop once the smoothed loss is over 4 times the best"
    assert not diverged(5., 0.2, stop_div=False), "stop_div=False: a finite loss never stops the test"
    assert diverged(float("nan"), 0.2, stop_div=False) and diverged(float("inf"), 0.2), "a NaN or infinite loss always stops it"

# ---- suggestions on hand-built curves

LRS = np.logspace(-7, 1, 100)
VALLEY = np.r_[np.full(20, 1.0), 0.6 + 0.4 * np.cos(np.linspace(0, np.pi, 50)), np.linspace(0.2, 3.0, 30)]  # plateau, long fall, cliff
FALL = 2.0 * np.exp(-np.linspace(0, 3, 100))  # falls all the way, fastest at first
NAN_END = np.r_[np.full(20, 1.0), np.linspace(1.0, 0.3, 60), np.full(20, np.nan)]

def test_suggestions_on_a_clean_valley():
    lrs, losses = LRS[10:-5], VALLEY[10:-5]  # what suggest() looks at
    # the longest decreasing run: the plateau's last point (slice index 9), then the fall (11..59; its first point equals
    # the plateau), 50 points ending at 59; fastai's start is 59 - 50 = 9, then + int(50/3) + int(50/6)
    assert valley(lrs, losses) == 9 + 16 + 8
    assert minimum(lrs, losses) == 59  # the bottom of the fall
    assert steep(lrs, losses) == 34  # the cosine falls fastest in its middle: between its points 24 and 25 (slice 34, 35)
    s = suggest(LRS, VALLEY, 100, ["valley", "slide", "minimum", "steep"])
    assert s["valley"].idx == 10 + 33 and s["minimum"].idx == 69 and s["minimum"].lr == pytest.approx(LRS[69] / 10)
    assert s["minimum"].lr_at == pytest.approx(LRS[69]) and s["valley"].lr == pytest.approx(LRS[43])

def test_suggestions_on_a_monotone_fall():
    lrs, losses = LRS[10:-5], FALL[10:-5]
    assert valley(lrs, losses) == -1 + 28 + 14  # fastai's start is one before the run: -1; length 84: 28 + 14
    assert minimum(lrs, losses) == len(losses) - 1
    assert slide(lrs, losses) == len(losses) - 16  # the slope flattens out: the first window is already straight enough
    assert steep(lrs, losses) == 0

def test_suggestions_stop_at_the_first_nan():
    s = suggest(LRS, NAN_END, 100, ["valley", "slide", "minimum", "steep"])
    assert all(v.idx < 80 and math.isfinite(v.loss) for v in s.values())
    assert s["minimum"].idx == 79 and s["valley"] .idx == 10 + valley(LRS[10:80], NAN_END[10:80])

def _random_curve(seed):
    "A range test's curve of 20 to 100 points: flat, falling, rising or noisy by turns, so the suggestions land anywhere, the ends too."
    g = np.random.default_rng(seed)
    n = int(g.integers(20, 101))
    return np.cumsum(g.normal(g.choice([-0.05, 0., 0.05]), g.choice([0.01, 0.1]), n)) + 3

CURVES = {"valley": VALLEY, "fall": FALL, "nan-end": NAN_END, "rising": np.linspace(1, 3, 100),
          **{f"random{i}": _random_curve(i) for i in range(12)}}

@pytest.mark.parametrize("curve", [*CURVES, "noisy"])
def test_suggestions_agree_with_fastais_functions(curve):
    if curve == "noisy":
        g = np.random.default_rng(1)
        curve = 1 + np.cos(np.linspace(0, 4.5, 100)) + 0.05 * g.standard_normal(100)
    else: curve = CURVES[curve]
    n = len(curve)
    lrs_all = np.logspace(-7, 1, n)
    ours = suggest(lrs_all, curve, n, ["valley", "slide", "minimum", "steep"])
    lrs, losses = torch.tensor(lrs_all[n // 10:-5].tolist()), torch.tensor(curve[n // 10:-5].tolist())  # float32, as in fastai's lr_find
    nan = torch.nonzero(torch.isnan(losses))
    if len(nan): lrs, losses = lrs[:nan.min()], losses[:nan.min()]
    for f in (fa.valley, fa.slide, fa.minimum, fa.steep):
        lr, (lr_at, loss) = f(lrs, losses, n)
        assert ours[f.__name__].lr == pytest.approx(float(lr), rel=1e-5), f.__name__
        assert ours[f.__name__].lr_at == pytest.approx(float(lr_at), rel=1e-5), f.__name__

def test_a_suggestion_function_of_your_own_gets_the_curve_suggest_keeps():
    "Any f(lrs, losses) -> index works as a suggestion: it is handed the points left after the skips, and named after itself."
    seen = []
    def lowest(lrs, losses): seen.append((list(lrs), list(losses))); return int(np.argmin(losses))
    s = suggest(LRS, VALLEY, 100, [lowest, "minimum"])
    assert seen == [(list(LRS[10:-5]), list(VALLEY[10:-5]))], "the function should get the lrs and losses after the skips"
    assert s["lowest"].idx == s["minimum"].idx and s["lowest"].lr == s["minimum"].lr_at

def test_defaults_are_fastais():
    "start_lr, end_lr, num_it and stop_div default to what fastai's lr_find uses."
    import inspect
    theirs = inspect.signature(Learner.lr_find).parameters
    for f in (lr_range_test, lr_find):
        ours = inspect.signature(f).parameters
        for k in ("start_lr", "end_lr", "num_it", "stop_div"):
            assert ours[k].default == theirs[k].default, f"{f.__name__}'s {k} defaults to {ours[k].default}, fastai's to {theirs[k].default}"

# ---- against fastai's lr_find on a real run

def test_same_curve_and_suggestions_as_fastais_lr_find(fastai_run):
    sugg, (lrs, losses), ours = fastai_run
    assert len(ours.lrs) == len(lrs) == 100
    assert np.allclose(ours.lrs, lrs, rtol=1e-6) and np.allclose(ours.losses, losses, atol=1e-5)
    for name, lr in sugg._asdict().items(): assert ours.suggestions[name].lr == pytest.approx(lr, rel=1e-4), name

def test_recorded_run_gives_fastais_suggestions(fastai_run):
    "On the same recorded (lrs, losses), our suggestion functions return what fastai's return."
    sugg, (lrs, losses), _ = fastai_run
    ours = suggest(lrs, losses, 100, ["valley", "slide", "minimum", "steep"])
    for name, lr in sugg._asdict().items(): assert ours[name].lr == pytest.approx(lr, rel=1e-5), name

# ---- the run: state, stopping, any model / loop

def test_state_restored_exactly_torch_optimizer_with_momentum(data):
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    xb, yb = data[0][:64], data[1][:64]
    mnist_loss(model(xb), yb).backward(); opt.step(); opt.zero_grad()  # momentum buffers to restore
    w, o = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    model.eval()
    res = lr_range_test(model, _dls(data).train, mnist_loss, opt, num_it=50)
    assert len(res.lrs) > 20
    assert all(torch.equal(w[k], v) for k, v in model.state_dict().items()), "weights changed"
    after = opt.state_dict()
    assert after["param_groups"][0]["lr"] == 0.1
    assert all(torch.equal(o["state"][k]["momentum_buffer"], after["state"][k]["momentum_buffer"]) for k in o["state"])
    assert not model.training and all(p.grad is None for p in model.parameters())

def test_state_restored_exactly_for_chapter_3s_own_momentum_optimizer(data):
    "MomentumOptim keeps its buffers as attributes and changes them in place: the range test gives them back as they were, and the optimizer still trains the model's own parameters."
    from course_lib.lr_find import MomentumOptim
    model = _model()
    opt = MomentumOptim(list(model.parameters()), lr=0.1)
    xb, yb = data[0][:64], data[1][:64]
    mnist_loss(model(xb), yb).backward(); opt.step(); opt.zero_grad()  # buffers to restore
    w, bufs = copy.deepcopy(model.state_dict()), [b.clone() for b in opt.bufs]
    lr_range_test(model, _dls(data).train, mnist_loss, opt, num_it=30)
    assert all(torch.equal(w[k], v) for k, v in model.state_dict().items()), "weights changed"
    assert all(torch.equal(a, b) for a, b in zip(bufs, opt.bufs)), "the momentum buffers were not restored"
    assert all(p is q for p, q in zip(opt.params, model.parameters())) and opt.lr == 0.1, "the optimizer no longer trains the model's own parameters"

def test_the_data_loaders_shuffling_is_not_restored(data):
    "What the chapter says the finder leaves behind: the model comes back, the training loader's shuffling has moved on."
    dl, fresh = _dls(data).train, _dls(data).train
    model = _model()
    lr_range_test(model, dl, mnist_loss, BasicOptim(model.parameters(), 0.1), num_it=20)
    order = lambda d: torch.cat([yb for _, yb in d])
    assert not torch.equal(order(dl), order(fresh)), "after the range test the loader shuffles as a fresh one would: update the chapter's 'Leaving no trace'"

def test_state_restored_basic_learner_and_fastai(data, fastai_run, tmp_path):
    learn = BasicLearner(_dls(data), _model(), opt_func=BasicOptim, loss_func=mnist_loss, lr=0.5)
    w = copy.deepcopy(learn.model.state_dict())
    lr_find(learn, show_plot=False)
    assert all(torch.equal(w[k], v) for k, v in learn.model.state_dict().items()) and learn.opt.lr == 0.5
    flearn = Learner(_dls(data), _model(), opt_func=SGD, loss_func=mnist_loss, model_dir=tmp_path)
    w = copy.deepcopy(flearn.model.state_dict())
    lr_find(flearn, show_plot=False)
    assert all(torch.equal(w[k], v) for k, v in flearn.model.state_dict().items())

def test_stops_on_divergence_and_restores_after_an_error(data):
    model = _model()
    res = lr_range_test(model, _dls(data).train, nn.functional.mse_loss, torch.optim.SGD(model.parameters(), lr=0.1), end_lr=1e4)
    assert len(res.lrs) < 100 and "too far above the best" in res.stopped
    assert res.stopped.startswith(f"stopped at iteration {len(res.lrs)}: "), res.stopped
    assert res.num_it == 100 and len(res.raw_losses) == len(res.lrs) and res.losses == smooth_losses(res.raw_losses)
    assert res.losses[-1] > 4 * min(res.losses) and all(l <= 4 * min(res.losses[:i + 1]) for i, l in enumerate(res.losses[:-1]))
    with pytest.raises(ZeroDivisionError):  # a loss that fails halfway: the weights still come back
        w = copy.deepcopy(model.state_dict()); calls = []
        def bad_loss(p, t):
            calls.append(1)
            if len(calls) == 30: raise ZeroDivisionError
            return nn.functional.mse_loss(p, t)
        lr_range_test(model, _dls(data).train, bad_loss, torch.optim.SGD(model.parameters(), lr=0.1))
    assert all(torch.equal(w[k], v) for k, v in model.state_dict().items())

def _scripted_loss(values):
    "A loss that returns `values` in turn (0 from the model's side, so the steps change nothing): the curve a test wants."
    it = iter(values)
    return lambda preds, targs: preds.sum() * 0 + next(it)

def test_stop_div_false_runs_to_the_end_past_a_rising_loss(data):
    "A loss that climbs to 100 times its best, finite all the way: `stop_div=True` stops it, `stop_div=False` runs all 60 iterations."
    rising = [1.] * 10 + [float(v) for v in np.geomspace(1, 100, 50)]
    model = _model()
    stopped = lr_range_test(model, _dls(data).train, _scripted_loss(rising), torch.optim.SGD(model.parameters(), lr=0.1), num_it=60)
    assert len(stopped.lrs) < 60 and "too far above the best" in stopped.stopped, stopped.stopped
    full = lr_range_test(model, _dls(data).train, _scripted_loss(rising), torch.optim.SGD(model.parameters(), lr=0.1), num_it=60, stop_div=False)
    assert len(full.lrs) == 60 and full.stopped == "ran all 60 iterations", f"stop_div=False stopped a finite loss: {full.stopped}"
    assert max(full.losses) > 4 * min(full.losses)  # the rule stop_div=True applies was met, and ignored

@pytest.mark.parametrize("stop_div", [True, False])
def test_a_nan_loss_stops_the_test_whatever_stop_div_says(data, stop_div):
    "A loss that turns NaN at iteration 21 ends the run there, with the reason, whether or not `stop_div` is set."
    model = _model()
    res = lr_range_test(model, _dls(data).train, _scripted_loss([1.] * 20 + [float("nan")] * 40), torch.optim.SGD(model.parameters(), lr=0.1),
                        num_it=60, stop_div=stop_div)
    assert len(res.lrs) == 21, f"stop_div={stop_div}: a NaN loss at iteration 21 didn't stop the run ({len(res.lrs)} iterations)"
    assert res.stopped == "stopped at iteration 21: the loss is nan" and math.isnan(res.losses[-1]), res.stopped

def test_lr_find_passes_stop_div_on(data):
    "lr_find stops a diverging run by default, and runs it to the end with stop_div=False, as lr_range_test does."
    def learner(): return BasicLearner(_dls(data), _model(), opt_func=BasicOptim, loss_func=nn.functional.mse_loss)
    stopped, full = lr_find(learner(), end_lr=1e4, show_plot=False), lr_find(learner(), end_lr=1e4, stop_div=False, num_it=40, show_plot=False)
    assert len(stopped.lrs) < 100 and "too far above the best" in stopped.stopped, stopped.stopped
    assert "too far above the best" not in full.stopped, f"lr_find(stop_div=False) stopped on a finite loss: {full.stopped}"

def test_explicit_schedule_and_any_iterable(data):
    model = nn.Linear(784, 1)
    batches = [(data[0][i:i + 50], data[1][i:i + 50]) for i in range(0, 600, 50)]
    res = lr_range_test(model, batches, mnist_loss, BasicOptim(model.parameters(), 0.1), lrs=[1e-7 * 2 ** i for i in range(27)])
    assert res.lrs[:3] == [1e-7, 2e-7, 4e-7] and len(res.lrs) <= 27

# ---- the plot

def test_plot_has_one_marker_and_legend_entry_per_suggestion(fastai_run):
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    _, _, ours = fastai_run
    for names in (["valley"], ["valley", "slide", "minimum", "steep"]):
        fig = plot_lr_find(ours, {k: ours.suggestions[k] for k in names})
        ax = fig.axes[0]
        markers = [l for l in ax.lines if l.get_marker() == "o"]
        assert len(markers) == len(names) and ax.get_xscale() == "log"
        assert len(ax.get_legend().get_texts()) == len(names) + 1  # the curve, then one entry per suggestion
        assert len(ax.lines[0].get_xdata()) == len(ours.lrs) - 5  # the last 5 points skipped
        plt.close(fig)
    fig = plot_schedule(ours)
    assert fig.axes[0].get_yscale() == "log" and len(fig.axes[0].lines[0].get_xdata()) == len(ours.lrs)
    plt.close(fig)

# ---- bad input: one-line errors that say what to change

def _err(exc, fn):
    with pytest.raises(exc) as e: fn()
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("lr_find:"), msg
    return msg

def test_bad_input(data):
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    dl = _dls(data).train
    assert "give it some data" in _err(ValueError, lambda: lr_range_test(model, [], mnist_loss, opt))
    empty = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(0, 784), torch.zeros(0, 1)), batch_size=8)
    assert "no batches" in _err(ValueError, lambda: lr_range_test(model, empty, mnist_loss, opt))
    assert "swap them" in _err(ValueError, lambda: lr_range_test(model, dl, mnist_loss, opt, start_lr=10, end_lr=1e-7))
    assert "start_lr < end_lr" in _err(ValueError, lambda: lr_range_test(model, dl, mnist_loss, opt, start_lr=1e-3, end_lr=1e-3))
    assert "num_it >= 20" in _err(ValueError, lambda: lr_range_test(model, dl, mnist_loss, opt, num_it=5))
    assert "at least 20" in _err(ValueError, lambda: lr_range_test(model, dl, mnist_loss, opt, lrs=[1e-3] * 5))
    frozen = _model()
    for p in frozen.parameters(): p.requires_grad_(False)
    assert "unfreeze" in _err(ValueError, lambda: lr_range_test(frozen, dl, mnist_loss, opt))
    assert "no trainable parameters" in _err(ValueError, lambda: lr_range_test(nn.ReLU(), dl, mnist_loss, opt))
    assert "lr_range_test(model" in _err(TypeError, lambda: lr_find(model))

def test_nan_from_the_first_batch_is_a_clear_error(data):
    model = _model()
    w = copy.deepcopy(model.state_dict())
    msg = _err(FloatingPointError, lambda: lr_range_test(model, _dls(data).train, lambda p, t: (p * float("nan")).mean(),
                                                         torch.optim.SGD(model.parameters(), lr=0.1)))
    assert "very first batch" in msg and "loss function" in msg
    assert all(torch.equal(w[k], v) for k, v in model.state_dict().items())

# ---- every kind of learner the course builds: fastai's lr_find and ours, from the same weights on the same batches

def _tabular_learner(tmp):
    "Chapter 5's kind: fastai's tabular_learner, whose batches are (categories, numbers, targets)."
    from fastai.tabular.all import Categorify, FillMissing, Normalize, TabularPandas, tabular_learner
    from course_lib.tabular import load_ames
    df = load_ames().iloc[:600]
    df = df.assign(Log_Price=np.log(df.Sale_Price))
    to = TabularPandas(df, procs=[Categorify, FillMissing, Normalize], cat_names=["Neighborhood", "House_Style"],
                       cont_names=["Gr_Liv_Area", "Lot_Area", "Year_Built"], y_names="Log_Price", splits=(list(range(500)), list(range(500, 600))))
    return tabular_learner(to.dataloaders(bs=32, num_workers=0), layers=[20, 10], loss_func=nn.functional.mse_loss, path=tmp)

def _collab_learner(tmp):
    "Chapter 6's kind: fastai's collab_learner on (user, movie) pairs."
    from fastai.collab import CollabDataLoaders, collab_learner
    from course_lib.collab import load_movielens
    ratings = load_movielens().iloc[:3000][["userId", "movieId", "rating"]]
    return collab_learner(CollabDataLoaders.from_df(ratings, bs=64, seed=0), n_factors=8, y_range=(0, 5.5), path=tmp)

def _vision_learner(tmp):
    "Chapters 1 and 4's kind: vision_learner on EfficientNet-Lite0, frozen (random weights here: they don't matter to the comparison; no dropout, which would draw random numbers)."
    from fastai.vision.all import vision_learner
    from course_lib.bird import bird_block
    from course_lib.photos import make_standins
    make_standins(tmp / "pics", n=12, size=40, broken=False)
    learn = vision_learner(bird_block(32).dataloaders(tmp / "pics", bs=8, num_workers=0), "tf_efficientnet_lite0", pretrained=False, ps=0., path=tmp)
    learn.freeze()  # as a pretrained one comes: the range test trains the new head only
    return learn

@pytest.mark.parametrize("make", [_tabular_learner, _collab_learner, _vision_learner], ids=["tabular", "collab", "vision"])
def test_lr_find_on_every_kind_of_learner_gives_fastais_curve_and_suggestions(make, tmp_path):
    def fresh():
        set_seed(0)
        return make(tmp_path)
    learn = fresh()
    with learn.no_bar(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sugg = learn.lr_find(num_it=30, suggest_funcs=(fa.valley, fa.slide, fa.minimum, fa.steep), show_plot=False)
    theirs = [float(v) for v in learn.recorder.losses]
    ours = lr_find(fresh(), num_it=30, suggest_funcs=("valley", "slide", "minimum", "steep"), show_plot=False)
    assert len(ours.losses) == len(theirs) and np.allclose(ours.losses, theirs, rtol=1e-4, atol=1e-5), \
        f"our curve differs from fastai's by up to {np.abs(np.array(ours.losses[:len(theirs)]) - theirs).max():.3g}"
    for name, lr in sugg._asdict().items(): assert ours.suggestions[name].lr == pytest.approx(lr, rel=1e-3), name
