"""Chapter 10's module: pasting keeps masks exact, the composites are reproducible, IoU and Dice by hand agree with
fastai's metrics through a real `Learner`, the U-Net and the decoder keep the picture's size, and the GPU path's
`unet_learner` on EfficientNet-Lite0's body builds and trains (here on the CPU, on a few small pictures)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fastai.metrics import Dice, JaccardCoeff
import course_lib.segmentation as S

def test_a_pasted_cut_out_covers_exactly_its_solid_pixels():
    rng = np.random.default_rng(0)
    bg = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    stamp = rng.integers(0, 256, (8, 12, 4), dtype=np.uint8)
    stamp[..., 3] = np.where(rng.random((8, 12)) < 0.5, 255, 0)
    stamp[0, 0, 3], stamp[0, 1, 3] = 128, 127  # the soft edge: at least half covered counts
    im, mask = S.paste(bg, stamp, 5, 25)  # runs off the right edge: only 5 columns fit
    solid = np.zeros((20, 30), bool); solid[5:13, 25:30] = stamp[:, :5, 3] >= 128
    assert (mask == solid).all() and mask[5, 25] and not mask[5, 26]
    full = np.zeros((20, 30), bool); full[5:13, 25:30] = stamp[:, :5, 3] == 255
    assert (im[full] == stamp[:, :5, :3][stamp[:, :5, 3] == 255]).all(), "a fully opaque pixel is the stamp's"
    outside = np.ones((20, 30), bool); outside[5:13, 25:30] = False
    assert (im[outside] == bg[outside]).all(), "nothing outside the stamp changes"

@pytest.fixture(scope="module")
def stamps():
    s = S.stamps_by_kind()
    if not s["animals"]: pytest.skip("no Tux Paint stamps on this machine")
    return s

def test_composites_are_reproducible_and_their_masks_are_animals(stamps):
    photos = S.sample_photos()
    a = S.composites(12, photos, stamps["animals"], stamps["plants"], size=40, seed=3)
    b = S.composites(12, photos, stamps["animals"], stamps["plants"], size=40, seed=3)
    c = S.composites(12, photos, stamps["animals"], stamps["plants"], size=40, seed=4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])
    x, y = a
    assert x.shape == (12, 3, 40, 40) and y.shape == (12, 40, 40) and x.min() >= 0 and x.max() <= 1
    assert set(y.unique().tolist()) <= {0, 1} and 0.02 < y.float().mean() < 0.4
    # with no plants to paste over it, every animal is wholly in the mask: a pixel of 1 differs from the plain background
    grey = [np.full((60, 60, 3), 128, np.uint8)]
    x, y = S.composites(8, grey, stamps["animals"], [np.zeros((4, 4, 4), np.uint8)], size=40, seed=0)
    changed = (x * 255 - 128).abs().amax(1) > 1
    assert (changed[y == 1].float().mean() > 0.9) and y.flatten(1).any(1).all()

def test_iou_and_dice_by_hand_agree_with_fastais_in_a_learners_validation():
    torch.manual_seed(0)
    x, y = torch.randn(40, 3, 16, 16), (torch.rand(40, 16, 16) < 0.3).long()
    learn = S.seg_learner(S.UNet((4, 8)), (x, y), (x, y), bs=8)
    learn.fit(1, 1e-2)
    _, d, j = learn.validate()  # fastai's Dice and JaccardCoeff, accumulated over the validation batches
    pred = S.predict_masks(learn.model, x)
    assert abs(S.dice(pred, y) - d) < 1e-6 and abs(S.iou(pred, y) - j) < 1e-6
    logits = F.one_hot(pred, 2).permute(0, 3, 1, 2).float()
    assert abs(S.fastai_metric(Dice(), logits, y, bs=7) - d) < 1e-6 and abs(S.fastai_metric(JaccardCoeff(), logits, y) - j) < 1e-6
    assert S.pixel_accuracy(pred, y) == float((pred == y).float().mean())
    assert abs(S.dice(pred, y) - 2 * S.iou(pred, y) / (1 + S.iou(pred, y))) < 1e-6

def test_unet_keeps_the_size_with_and_without_skips():
    x = torch.randn(2, 3, 48, 48)
    with_, without = S.UNet(), S.UNet(skips=False)
    assert with_(x).shape == without(x).shape == (2, 2, 48, 48)
    assert S.UNet(n_out=5)(x).shape == (2, 5, 48, 48)
    assert sum(p.numel() for p in without.parameters()) < sum(p.numel() for p in with_.parameters())

def test_outline_is_the_ring_on_both_sides_of_the_edge():
    m = torch.zeros(1, 10, 10, dtype=torch.long); m[0, 3:7, 3:7] = 1
    ring = torch.zeros(1, 10, 10, dtype=torch.bool); ring[0, 2:8, 2:8] = True; ring[0, 4:6, 4:6] = False
    assert torch.equal(S.outline(m), ring)

def test_decoder_on_the_pretrained_bodys_maps_gives_full_size_masks():
    body = S.pretrained_body()
    x = S.normalized(torch.rand(3, 3, 48, 48))
    maps = S.body_maps(body, x, bs=2)
    assert [m.shape[-1] for m in maps] == [24, 12, 6, 3] and torch.allclose(maps[0], S.body_maps(body, x)[0], rtol=1e-4, atol=1e-4)  # computed once or twice, in batches of any size: the same maps
    assert S.Decoder(body.feature_info.channels())(*maps).shape == (3, 2, 48, 48)
    assert S.Decoder(body.feature_info.channels(), skips=False)(*maps).shape == (3, 2, 48, 48)

def test_the_gpu_paths_unet_learner_builds_and_trains_on_the_lite0_body():
    from fastai.data.core import DataLoaders
    from fastai.data.load import DataLoader
    from fastai.losses import CrossEntropyLossFlat
    from fastai.vision.learner import unet_learner
    import fastai.callback.schedule  # noqa: F401 (fine_tune), as the chapter's `fastai.vision.all` brings it
    torch.manual_seed(0)
    x, y = S.normalized(torch.rand(8, 3, 32, 32)), (torch.rand(8, 32, 32) < 0.2).long()
    dls = DataLoaders(DataLoader(list(zip(x, y)), bs=4, shuffle=True, drop_last=True), DataLoader(list(zip(x, y)), bs=8))
    learn = unet_learner(dls, S.lite0_body, cut=lambda m: m, n_out=2, normalize=False, loss_func=CrossEntropyLossFlat(axis=1), metrics=[Dice()])
    before = [p.detach().clone() for p in learn.model[0].parameters()][:3]
    learn.fine_tune(1, freeze_epochs=0)
    assert learn.model(x[:2]).shape == (2, 2, 32, 32)
    assert any(not torch.equal(b, p) for b, p in zip(before, list(learn.model[0].parameters())[:3])), "fine_tune trains the body too"
