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
    out = shifted(xs).view(2, 28, 28)  # 3 down and 3 right, as the chapter's first table
    assert torch.equal(out[:, 3:, 3:], xs.view(2, 28, 28)[:, :-3, :-3])
    assert out[:, :3].abs().sum() == 0 and out[:, :, :3].abs().sum() == 0
    down = shifted(xs, down=8, right=0).view(2, 28, 28)
    assert torch.equal(down[:, 8:], xs.view(2, 28, 28)[:, :-8]) and down[:, :8].abs().sum() == 0
    assert torch.equal(shifted(xs, 0, 0), xs)

def test_a_move_by_the_stride_moves_the_maps_and_by_eight_the_third_layers():
    "What the chapter's shift table rests on, for any digits and any weights: 2 pixels move the first layer's maps one position, 8 the third's (away from the edges)."
    torch.manual_seed(0)
    cnn, xs = small_cnn(), torch.rand(4, 784)
    with torch.no_grad():
        assert torch.allclose(cnn[:2](shifted(xs, 2, 0))[:, :, 1:], cnn[:2](xs)[:, :, :-1], atol=1e-6)
        assert torch.allclose(cnn[:6](shifted(xs, 0, 8))[..., 2], cnn[:6](xs)[..., 1], atol=1e-5)
        assert not torch.allclose(cnn[:2](shifted(xs, 1, 0))[:, :, 1:], cnn[:2](xs)[:, :, :-1], atol=1e-3)

def test_chapter_1s_network_has_a_batch_norm_after_each_of_its_49_convolutions():
    "Section 5 says so of EfficientNet-Lite0, the network chapter 1 fine-tunes."
    timm = pytest.importorskip("timm")
    layers = [m for m in timm.create_model("tf_efficientnet_lite0", pretrained=False).modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    assert len(convs) == 49 and all(isinstance(layers[i + 1], nn.BatchNorm2d) for i in convs)

@pytest.mark.parametrize("body", ["F.avg_pool2d(torch.zeros(1, 1, n, n), k, s, p).shape[-1]", "nn.MaxPool2d(k, s, p)(torch.zeros(1, 1, n, n)).shape[-1]",
                                  "torch.zeros(n + 2 * p).unfold(0, k, s).shape[0]", "F.unfold(torch.zeros(1, 1, n, n), k, padding=p, stride=s).shape[-1] ** 0.5"])
def test_conv_out_refuses_a_layer_that_counts_the_positions_for_it(body):
    "A pooling layer or `unfold` slides a window as a convolution does: an answer that runs one computes nothing itself."
    import course_lib.checks as C
    C.chapter_exercises("07")
    ns = {"torch": torch, "F": nn.functional, "nn": nn}
    exec(compile(f"def conv_out(n, k, s=1, p=0): return int({body})", "<learner>", "exec"), ns)
    assert C._verdict(C.exercises["07.conv_out"], ns["conv_out"]).ok, "the answer does compute the side: only its provenance is wrong"
    r = C._judge(C.exercises["07.conv_out"], ns["conv_out"])
    assert r.status == "wrong" and "library's version" in r.message, r

def test_conv_out_takes_a_whole_float_and_refuses_a_fraction():
    import course_lib.checks as C
    C.chapter_exercises("07")
    ex = C.exercises["07.conv_out"]
    assert C._verdict(ex, lambda n, k, s=1, p=0: float((n + 2 * p - k) // s + 1)).ok
    r = C._verdict(ex, lambda n, k, s=1, p=0: (n + 2 * p - k) / s + 1)
    assert r.status == "wrong" and "not a whole number" in r.message, r

@pytest.mark.parametrize("n_convs,want", [(1, 3), (2, 7), (3, 15)])
def test_receptive_field_grows_by_kernel_minus_one_times_the_jump(n_convs, want):
    side, jump = 1, 1
    for _ in range(n_convs): side, jump = side + (3 - 1) * jump, jump * 2
    assert receptive_field(n_convs) == side == want
