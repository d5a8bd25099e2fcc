"Tests of `course_lib.inside`, chapter 7's module: each piece agrees with PyTorch or with the arithmetic the chapter teaches; the chapter itself runs in tests/test_notebooks.py, its exercises in tests/test_checks.py."
import math
import pytest
import torch
from torch import nn
from course_lib.inside import *
from course_lib.sgd import calc_grad, simple_net

def test_relu_grad_is_autograds_derivative():
    z = torch.cat([torch.randn(200, generator=torch.Generator().manual_seed(0)), torch.zeros(3)]).requires_grad_()
    z.relu().sum().backward()
    assert torch.equal(relu_grad(z.detach()), z.grad)  # at exactly 0 PyTorch's slope is 0, and so is ours
    assert relu_grad(torch.zeros(2, 3)).shape == (2, 3)

def test_constant_init_sets_every_parameter_and_a_zero_start_gets_no_weight_gradient():
    net = constant_init_(simple_net(10, 4), 0.5)
    assert all(torch.equal(p, torch.full_like(p, 0.5)) for p in net.parameters())
    zero = constant_init_(simple_net(10, 4), 0.)
    x, y = torch.randn(8, 10), torch.tensor([[1.], [0.]] * 4)
    calc_grad(x, y, zero)
    assert zero[0].weight.grad.abs().max() == 0 and zero[2].weight.grad.abs().max() == 0
    assert zero[2].bias.grad.abs().item() == 0  # four 3s and four 7s: the output bias's pulls cancel too

def test_activation_stds_keep_scale_only_with_kaiming_and_match_pytorchs_kaiming_init():
    kaiming = activation_stds(math.sqrt(2 / 256))
    assert len(kaiming) == 50 and 0.5 < kaiming[-1] / kaiming[0] < 2
    default = activation_stds(1 / math.sqrt(3 * 256))
    assert default[-1] / default[0] < 1e-10
    torch.manual_seed(0)
    acts = torch.randn(1000, 256, dtype=torch.float64)
    for _ in range(50):
        w = torch.empty(256, 256, dtype=torch.float64)
        nn.init.kaiming_normal_(w, nonlinearity="relu")  # PyTorch's version of the same rule
        acts = (acts @ w.T).relu()
    assert 0.5 < acts.std().item() / kaiming[0] < 2

def test_small_cnn_shapes_follow_the_convolution_arithmetic():
    cnn = small_cnn()
    assert cnn(torch.rand(5, 784)).shape == (5, 1)
    a, sides = torch.rand(1, 784), []
    for layer in cnn:
        a = layer(a)
        if isinstance(layer, nn.Conv2d): sides.append(a.shape[-1])
    n = 28
    for side in sides:
        n = (n + 2 * 1 - 3) // 2 + 1
        assert side == n
    assert sides == [14, 7, 4]
    assert sum(p.numel() for p in cnn.parameters()) == (9 * 8 + 8) + (9 * 8 * 16 + 16) + (9 * 16 * 32 + 32) + (32 + 1)

def test_shifted_moves_pixels_and_brings_in_zeros():
    xs = torch.arange(2 * 784, dtype=torch.float32).view(2, 784)
    out = shifted(xs, by=3).view(2, 28, 28)
    assert torch.equal(out[:, 3:, 3:], xs.view(2, 28, 28)[:, :-3, :-3])
    assert out[:, :3].abs().sum() == 0 and out[:, :, :3].abs().sum() == 0

@pytest.mark.parametrize("n_convs,want", [(1, 3), (2, 7), (3, 15)])
def test_receptive_field_grows_by_kernel_minus_one_times_the_jump(n_convs, want):
    side, jump = 1, 1
    for _ in range(n_convs): side, jump = side + (3 - 1) * jump, jump * 2
    assert receptive_field(n_convs) == side == want
