"""Chapter 10's pieces against what a learner would use instead: a training step of the chapter's hand-built U-Net
against one of fastai's `unet_learner` on the EfficientNet-Lite0 body (the GPU path's model), and against the
chapter's frozen-body decoder; then Dice and IoU by hand against fastai's `Dice` and `JaccardCoeff` over a validation
pass — time and agreement. Batches of 16 pictures of 48 pixels, as the chapter's CPU run; two CPU threads; median of 5.

    .venv/bin/python bench/bench_segmentation.py
"""
import statistics, time, warnings, logging
import torch
import torch.nn.functional as F
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
from fastai.vision.all import Dice, JaccardCoeff, unet_learner, DataLoaders, DataLoader, CrossEntropyLossFlat
from course_lib.segmentation import UNet, Decoder, pretrained_body, body_maps, lite0_body, dice, iou, fastai_metric, normalized

torch.set_num_threads(2)

def timed(f, n=5):
    "Median seconds of `n` calls of `f`, after one to warm up."
    f(); ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)

def step_of(model, *inputs, y):
    "One training step (forward, loss, backward, Adam) of `model` on one batch."
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], 1e-3)
    def step():
        loss = F.cross_entropy(model(*inputs), y); loss.backward(); opt.step(); opt.zero_grad()
    return step

if __name__ == "__main__":
    torch.manual_seed(0)
    x, y = normalized(torch.rand(16, 3, 48, 48)), (torch.rand(16, 48, 48) < 0.1).long()
    ours = UNet().train()
    dls = DataLoaders(DataLoader(list(zip(x, y)), bs=16), DataLoader(list(zip(x, y)), bs=16))
    learn = unet_learner(dls, lite0_body, cut=lambda m: m, n_out=2, normalize=False, loss_func=CrossEntropyLossFlat(axis=1))
    learn.unfreeze()  # fine_tune's second phase: the body trains too
    theirs = learn.model.train()
    body = pretrained_body()
    maps = body_maps(body, x)
    dec = Decoder(body.feature_info.channels()).train()
    t_ours, t_theirs, t_dec = timed(step_of(ours, x, y=y)), timed(step_of(theirs, x, y=y)), timed(step_of(dec, *maps, y=y))
    t_maps = timed(lambda: body_maps(body, x))
    n = lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad)
    print(f"training step, 16 pictures of 48 px: hand U-Net ({n(ours):,} weights) {t_ours * 1e3:.0f} ms; "
          f"unet_learner on Lite0, all trained ({n(theirs):,}) {t_theirs * 1e3:.0f} ms = {t_theirs / t_ours:.1f}x ours; "
          f"frozen body's decoder ({n(dec):,}) {t_dec * 1e3:.0f} ms = {t_dec / t_ours:.2f}x ours, plus the body's maps once, {t_maps * 1e3:.0f} ms a batch")
    # metrics over a validation pass: 100 masks of 48 px, in batches of 64 as the chapter's Learner
    targ = (torch.rand(100, 48, 48) < 0.1).long()
    pred = torch.where(torch.rand(targ.shape) < 0.05, 1 - targ, targ)
    logits = F.one_hot(pred, 2).permute(0, 3, 1, 2).float()
    for name, mine, lib in (("Dice", dice, Dice), ("IoU", iou, JaccardCoeff)):
        a, b = mine(logits.argmax(1), targ), fastai_metric(lib(), logits, targ, bs=64)
        ta, tb = timed(lambda: mine(logits.argmax(1), targ)), timed(lambda: fastai_metric(lib(), logits, targ, bs=64))
        print(f"{name} over 100 masks: by hand {a:.6f} in {ta * 1e3:.2f} ms; fastai's {b:.6f} in {tb * 1e3:.2f} ms ({tb / ta:.1f}x); difference {abs(a - b):.1e}")
