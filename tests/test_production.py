"""Tests of `course_lib.production`, chapter 4's module: the augmented DataBlock, cleaning that loses nothing, weights-only
model files that load safely (or fail in one line), the loaded model equal to fastai's `predict`, and the Gradio app
answering over HTTP. The chapter itself runs in tests/test_notebooks.py; the Space's app.py in a browser in tests/site."""
import builtins, json, os, subprocess, sys
from pathlib import Path

import pytest
import torch

from course_lib.photos import make_standins
sys.path.insert(0, str(Path(__file__).parents[1] / "images"))
from check_image import image_python, snapshot, versions as image_versions  # what pip freeze and os-info report on Colab's and Kaggle's images
from course_lib.production import (Classifier, ModelFileError, apply_cleaner, bear_block, load_classifier, make_app, save_model,
                                   serve, write_space)

KINDS = ("grizzly", "black", "teddy")

def test_import_leaves_fastai_torch_and_gradio_alone():
    code = "import sys, course_lib.production; print(sorted({m.split('.')[0] for m in sys.modules} & {'fastai', 'torch', 'gradio'}))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    "The chapter's network (EfficientNet-Lite0, from random weights) fitted for one epoch on 12 stand-ins of each kind at 32 pixels, and its saved files."
    from fastai.vision.all import error_rate, set_seed, vision_learner
    root = tmp_path_factory.mktemp("bears")
    make_standins(root / "bears", n=12, size=64, kinds=KINDS, broken=False)
    set_seed(0, reproducible=True)
    dls = bear_block(32).dataloaders(root / "bears", bs=8, num_workers=0)
    learn = vision_learner(dls, "tf_efficientnet_lite0", metrics=error_rate, pretrained=False)
    with learn.no_bar(), learn.no_logging(): learn.fit(1)
    return learn, save_model(learn, root / "model"), root

# ---- the data

def test_make_standins_draws_kinds_of_bear_and_refuses_unknown_ones(tmp_path):
    paths = make_standins(tmp_path, n=2, size=32, kinds=KINDS, broken=False)
    assert sorted(p.parent.name for p in paths) == sorted(KINDS * 2)
    with pytest.raises(ValueError, match="no stand-in drawing for \\['panda'\\]"): make_standins(tmp_path, kinds=("panda",))

def test_augmentation_changes_training_images_only(trained):
    from fastai.vision.all import PILImage, RandomResizedCrop
    dls = trained[0].dls
    crop = next(t for t in dls.after_item if isinstance(t, RandomResizedCrop))
    img = PILImage.create(dls.valid.items[0])
    def crops(split_idx): return [tuple(crop(img, split_idx=split_idx).getdata()) for _ in range(4)]
    assert len(set(crops(1))) == 1, "a validation image must be cropped the same way every time"
    assert len(set(crops(0))) > 1, "a training image should be cropped somewhere else each time"
    x = dls.valid.one_batch()[0]
    for t in [t for t in dls.after_batch if type(t).__name__ in ("Flip", "Brightness")]:  # aug_transforms' two pipelines
        assert torch.allclose(t(x, split_idx=1), x, atol=1e-4), f"{type(t).__name__} must leave validation batches alone"
        assert any(not torch.allclose(t(x, split_idx=0), x, atol=1e-4) for _ in range(3)), f"{type(t).__name__} should change training batches"
    plain = bear_block(32, aug=False)
    assert [type(t).__name__ for t in plain.batch_tfms] == ["IntToFloatTensor"] and sorted(type(t).__name__ for t in plain.item_tfms) == ["Resize", "ToTensor"]

# ---- the model's files

def test_model_folder_holds_weights_and_what_loading_them_needs(trained):
    learn, folder, _ = trained
    meta = json.loads((folder / "model.json").read_text())
    assert meta["arch"] == "tf_efficientnet_lite0" and meta["labels"] == list(learn.dls.vocab) and meta["size"] == 32
    assert {"python", "torch", "timm", "fastai", "course-lib"} <= set(meta["versions"])
    weights = torch.load(folder / "model.pth", weights_only=True)
    assert weights.keys() == learn.model.state_dict().keys()

def test_a_torchvision_network_loads_by_its_name_too(trained, tmp_path):
    "A ResNet-18 saved with arch='resnet18' is rebuilt from torchvision's function of that name, not from timm."
    from fastai.vision.all import resnet18, vision_learner
    learn = vision_learner(trained[0].dls, resnet18, pretrained=False)
    classify = load_classifier(save_model(learn, tmp_path / "model", arch="resnet18"))
    assert classify.model.state_dict().keys() == learn.model.state_dict().keys() and sorted(classify(trained[0].dls.valid.items[0])) == sorted(KINDS)

def test_loaded_model_predicts_like_fastai(trained):
    learn, folder, _ = trained
    classify = load_classifier(folder)
    learn.model.cpu(); learn.dls.cpu()
    for fn in learn.dls.valid.items[:4]:
        with learn.no_bar(): label, _, probs = learn.predict(fn)
        ours = classify(fn)
        assert list(ours) == list(learn.dls.vocab) and max(ours, key=ours.get) == label
        assert torch.allclose(torch.tensor(list(ours.values())), probs.float(), atol=1e-5), (ours, probs)

def test_a_model_trained_without_augmentation_loads_to_predict_like_fastai(trained, tmp_path):
    "bear_block(aug=False) validates with Resize's centre crop, not RandomResizedCrop's squeeze-then-crop: the loaded model must prepare images its way."
    from fastai.vision.all import vision_learner
    dls = bear_block(32, aug=False).dataloaders(trained[2] / "bears", bs=8, num_workers=0)
    learn = vision_learner(dls, "tf_efficientnet_lite0", pretrained=False)
    classify = load_classifier(save_model(learn, tmp_path / "model"))
    assert classify.meta["resize"] == {"transform": "Resize", "method": "crop", "pad_mode": "reflection"}
    learn.model.cpu(); learn.dls.cpu()
    for fn in dls.valid.items[:3]:
        with learn.no_bar(): probs = learn.predict(fn)[2]
        assert torch.allclose(torch.tensor(list(classify(fn).values())), probs.float(), atol=1e-5)
    as_before = Classifier(classify.model, {**classify.meta, "resize": None})  # what a 0.5 model.json (no "resize") loads as
    assert not torch.allclose(as_before.tensor(dls.valid.items[0]), classify.tensor(dls.valid.items[0])), "the two preparations must differ, or this test shows nothing"

class _Planted:
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.mkdir, (str(self.marker),))

def _copy(folder, dest):
    dest.mkdir()
    for f in folder.iterdir(): (dest / f.name).write_bytes(f.read_bytes())
    return dest

def test_a_planted_model_file_is_refused_and_never_runs(trained, tmp_path):
    folder = _copy(trained[1], tmp_path / "model")
    marker = tmp_path / "it_ran"
    torch.save({"fc.weight": torch.zeros(1), "x": _Planted(marker)}, folder / "model.pth")
    with pytest.raises(ModelFileError, match="model.pth: not a weights-only model file") as e: load_classifier(folder)
    assert not marker.exists() and "\n" not in str(e.value)

@pytest.mark.parametrize("name,damage", [("model.json", lambda b: b[:20]), ("model.pth", lambda b: b[: len(b) // 2])])
def test_a_damaged_model_file_is_named_in_one_line(trained, tmp_path, name, damage):
    folder = _copy(trained[1], tmp_path / "model")
    (folder / name).write_bytes(damage((folder / name).read_bytes()))
    with pytest.raises(ModelFileError, match=name) as e: load_classifier(folder)
    assert "\n" not in str(e.value) and "save_model" in str(e.value)

@pytest.mark.parametrize("pkg,old,pin", [("fastai", "1.0.61", "fastai==1.0.61"),
                                         ("course-lib", "0.1.0", "course-lib @ git+https://github.com/dl-course/course@v0.1.0")])  # on no package index: at its release's tag
def test_other_versions_are_noted_with_what_to_install(trained, tmp_path, capsys, pkg, old, pin):
    folder = _copy(trained[1], tmp_path / "model")
    meta = json.loads((folder / "model.json").read_text())
    meta["versions"][pkg] = old
    (folder / "model.json").write_text(json.dumps(meta))
    load_classifier(folder)
    out = capsys.readouterr().out
    assert f"saved with {pkg} {old}" in out and f"pip install '{pin}'" in out, out  # the note names the pin that would load it
    assert "torch" not in out, "only the package whose version differs is noted"

# ---- the app and the Space

def test_app_answers_over_http_with_the_models_probabilities(trained):
    from gradio_client import Client, handle_file
    learn, folder, _ = trained
    classify = load_classifier(folder)
    app = make_app(classify)
    try:
        url = serve(app)
        assert url.startswith("http://127.0.0.1:")
        fn = learn.dls.valid.items[0]
        got, want = Client(url, verbose=False, analytics_enabled=False).predict(handle_file(str(fn)), api_name="/predict"), classify(fn)
        assert got["label"] == max(want, key=want.get)
        assert {c["label"]: round(c["confidence"], 4) for c in got["confidences"]} == {k: round(v, 4) for k, v in want.items()}
    finally: app.close()

PLATFORM_VARS = ("KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE", "COLAB_RELEASE_TAG", "COLAB_GPU")

@pytest.mark.parametrize("where", ["local", "Colab", "Kaggle"])
def test_serve_says_how_to_open_the_app_where_the_notebook_runs(trained, monkeypatch, capsys, where):
    """127.0.0.1 is the runtime's: on Colab `serve` has Gradio show the app inline (Gradio does that through Colab's port
    proxy), on Kaggle it asks for a public link (`share=True`). The real launch runs; on Kaggle it runs with share=False,
    so no tunnel to Gradio's servers is opened from the tests: the line then says the link couldn't be made, and how to
    fix it. Colab's proxy and Gradio's tunnel themselves are not tested here (no Colab, no network)."""
    from gradio_client import Client, handle_file
    for v in PLATFORM_VARS: monkeypatch.delenv(v, raising=False)
    if where != "local": monkeypatch.setenv({"Colab": "COLAB_RELEASE_TAG", "Kaggle": "KAGGLE_KERNEL_RUN_TYPE"}[where], "x")
    learn, folder, _ = trained
    app, asked = make_app(load_classifier(folder)), {}
    launch = app.launch
    def spy(**kw):
        asked.update(kw)
        return launch(**{**kw, "share": False, "inline": False})
    monkeypatch.setattr(app, "launch", spy)
    capsys.readouterr()
    try:
        url = serve(app)
        line = capsys.readouterr().out.strip().splitlines()[-1]
        assert Client(url, verbose=False, analytics_enabled=False).predict(handle_file(str(learn.dls.valid.items[0])), api_name="/predict")["label"]
    finally: app.close()
    assert asked["server_name"] == "127.0.0.1" and (asked["share"], asked["inline"]) == {"local": (False, False), "Colab": (False, True), "Kaggle": (True, False)}[where]
    assert line == {"local": f"the app is running at {url}: open it in a browser on this machine",
                    "Colab": "Colab: the app is shown below, through Colab's own proxy: only you can open it.",
                    "Kaggle": "Kaggle: Gradio could not make a link to the app: turn on Settings ▸ Internet, then run this cell again."}[where], line

def test_space_pins_the_versions_that_made_the_model(trained, tmp_path):
    import importlib.metadata as md
    learn, folder, _ = trained
    space = write_space(tmp_path / "space", folder, examples=learn.dls.valid.items[:2])
    assert sorted(p.read_bytes() for p in (space / "examples").iterdir()) == sorted(p.read_bytes() for p in learn.dls.valid.items[:2])
    reqs = (space / "requirements.txt").read_text().splitlines()
    from packaging.version import Version
    assert {f"{p}=={Version(md.version(p)).public}" for p in ("torch", "torchvision", "timm", "fastai")} <= set(reqs)
    assert any(r.startswith("course-lib @ git+https://github.com/") for r in reqs)
    assert f"sdk_version: {md.version('gradio')}" in (space / "README.md").read_text()
    assert f'python_version: "{sys.version_info.major}.{sys.version_info.minor}"' in (space / "README.md").read_text().split("---")[1], "the header names this Python, quoted (YAML reads 3.10 as 3.1)"
    assert sorted(p.name for p in (space / "model").iterdir()) == ["model.json", "model.pth"]
    compile((space / "app.py").read_text(), "app.py", "exec")

@pytest.mark.parametrize("image", ["colab", "kaggle"])
def test_space_from_colab_or_kaggle_pins_what_the_package_index_has(trained, tmp_path, image):
    """Colab reports torch 2.11.0+cu128, Kaggle 2.10.0+cu128: builds of their own that the index lacks; the Space pins their public
    releases, and asks for the image's Python (major.minor), which those releases have packages for."""
    _, folder, _ = trained
    versions = {**image_versions(image), "python": image_python(snapshot(image, "os-info-gpu.txt"))}
    assert "+cu" in versions["torch"], f"images/ no longer shows {image}'s torch with a local label: {versions['torch']}"
    reqs = (write_space(tmp_path / image, folder, versions=versions) / "requirements.txt").read_text().splitlines()
    want = {f"{p}=={versions[p].split('+')[0]}" for p in ("torch", "torchvision", "timm", "fastai")}
    assert want <= set(reqs) and not any("+" in r for r in reqs if "==" in r), reqs
    header = (tmp_path / image / "README.md").read_text().split("---")[1]
    assert f"sdk_version: {versions['gradio']}" in header
    assert f'python_version: "{versions["python"]}"' in header and versions["python"].count(".") == 1, header

# ---- cleaning: fastai's widget under the installed ipywidgets (8 here, Colab's 7 in the Colab-version run); these run last

def test_cleaning_with_no_choices_moves_nothing(trained, monkeypatch, capsys):
    from IPython.display import display
    from fastai.vision.widgets import ImageClassifierCleaner
    monkeypatch.setattr(builtins, "display", display, raising=False)
    learn, _, root = trained
    files = sorted((root / "bears").rglob("*"))
    assert apply_cleaner(ImageClassifierCleaner(learn, max_n=2), root / "bears", root / "trash2") == {"trashed": [], "relabelled": []}
    assert "nothing chosen" in capsys.readouterr().out and sorted((root / "bears").rglob("*")) == files

def test_cleaning_moves_files_and_never_overwrites_or_deletes(trained, monkeypatch):
    "Run last in this file: it moves two of the fixture's training images."
    from IPython.display import display
    from fastai.vision.widgets import ImageClassifierCleaner
    monkeypatch.setattr(builtins, "display", display, raising=False)  # fastai's widgets expect IPython's display
    learn, _, root = trained
    path, trash = root / "bears", root / "bears_trash"
    before = sorted(p.read_bytes() for p in path.rglob("*.jpg"))
    cleaner = ImageClassifierCleaner(learn, max_n=4)  # the training images of the first label, highest loss first
    menus = [box.children[1] for box in cleaner.iw.widget.children]
    first, second = Path(cleaner.fns[0]), Path(cleaner.fns[1])
    other = next(k for k in KINDS if k != second.parent.name)
    clash = path / other / second.name  # the stand-ins of every kind share names: moving one meets a namesake
    assert clash.exists()
    kept = clash.read_bytes()
    menus[0].value, menus[1].value = "<Delete>", other
    done = apply_cleaner(cleaner, path, trash)
    assert done["trashed"] == [trash / first.name] and not first.exists()
    moved = done["relabelled"][0]
    assert moved.parent == path / other and moved != clash and clash.read_bytes() == kept and not second.exists()
    after = sorted(p.read_bytes() for p in [*path.rglob("*.jpg"), *trash.rglob("*.jpg")])
    assert after == before, "every image is still somewhere, unchanged"

# ---- the chapter's exercises

@pytest.mark.parametrize("softmax_is", ["the learner's", "the course's stand-in"])
@pytest.mark.parametrize("body", ["-torch.log(softmax(a)[torch.arange(len(t)), t]).mean()", "-torch.log(softmax(a))[torch.arange(len(t)), t].mean()",
                                  "-(F.one_hot(t, 3) * softmax(a).log()).sum(1).mean()", "-softmax(a)[range(len(t)), t].log().mean()"])
def test_cross_entropy_may_use_torch_beside_its_softmax(body, softmax_is):
    "What runs inside the softmax it builds on is 04.softmax's to judge: torch's functions beside it are no library cross-entropy."
    import torch.nn.functional as F
    import course_lib.exercises.ch04_production  # noqa: F401 (defines the chapter's exercises)
    from course_lib.checks import _judge, _reference, _stand_in, exercises
    ns = {"torch": torch, "F": F}
    if softmax_is == "the learner's": exec("def softmax(x): return x.exp() / x.exp().sum(dim=1, keepdim=True)", ns)
    else: ns["softmax"] = _stand_in(_reference(exercises["04.softmax"]), "softmax")
    exec(f"def cross_entropy(a, t): return {body}", ns)
    assert (r := _judge(exercises["04.cross_entropy"], ns["cross_entropy"])).ok, r

@pytest.mark.parametrize("body", ["-torch.softmax(a, 1)[range(len(t)), t].log().mean()", "-F.log_softmax(a, 1)[range(len(t)), t].mean()",
                                  "-a.softmax(1)[range(len(t)), t].log().mean()", "F.nll_loss(softmax(a).log(), t)"])
def test_cross_entropy_calling_the_library_from_its_own_code_is_told_so(body):
    import torch.nn.functional as F
    import course_lib.exercises.ch04_production  # noqa: F401
    from course_lib.checks import _judge, exercises
    ns = {"torch": torch, "F": F}
    exec("def softmax(x): return x.exp() / x.exp().sum(dim=1, keepdim=True)\n" f"def cross_entropy(a, t): return {body}", ns)
    r = _judge(exercises["04.cross_entropy"], ns["cross_entropy"])
    assert not r.ok and "the library's version" in r.message, r
