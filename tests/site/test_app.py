"""Chapter 4's Hugging Face Space, run as a learner runs it (`python app.py` in the folder `write_space` wrote), answers
as the model it was written from does: through Gradio's own client, and in a browser that uploads a photo."""
import os, sys
from dataclasses import dataclass
from pathlib import Path
import pytest
from conftest import NO_NET, Tab, artifacts, free_port, root, serving

KINDS = ("grizzly", "black", "teddy")
LOOPBACK = "127.0.0.1,localhost"


def _no_proxy() -> str: return ",".join(filter(None, [os.environ.get("NO_PROXY"), LOOPBACK]))


@dataclass
class Space:
    folder: Path  # what write_space wrote: app.py, requirements.txt, README.md, model/
    photos: dict  # kind -> a stand-in photo of that kind
    log: Path  # the app's stdout and stderr

@pytest.fixture(scope="module")
def space(tmp_path_factory) -> Space:
    """A Space for the chapter's network (EfficientNet-Lite0) on stand-in bears. Untrained (random weights, seeded): what is checked is that the app
    answers as the saved model does, and training from scratch on a few images for a few seconds teaches it nothing."""
    import fastai.vision.all as fv
    from course_lib.photos import make_standins
    from course_lib.production import bear_block, save_model, write_space
    work = tmp_path_factory.mktemp("space")
    photos = make_standins(work / "bears", n=12, size=64, kinds=KINDS, broken=False)
    dls = bear_block(32, aug=False).dataloaders(work / "bears", bs=8, num_workers=0)
    fv.set_seed(0)
    learn = fv.vision_learner(dls, "tf_efficientnet_lite0", pretrained=False)
    folder = write_space(work / "space", save_model(learn, work / "model"), examples=photos[1::12])  # one of each kind
    return Space(folder, {k: next(p for p in photos if p.parent.name == k) for k in KINDS}, work / "app.log")


@pytest.fixture(scope="module")
def app(space):
    "The Space's app.py, started as its own process on a free 127.0.0.1 port; its address. Stopped at teardown."
    port = free_port()
    env = {**os.environ,
           **NO_NET,  # the app must start offline: any web request it makes fails...
           "NO_PROXY": _no_proxy(), "no_proxy": _no_proxy(),  # ...except to itself (gradio checks its own address on start)
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),  # this checkout's course_lib
           "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),  # what Spaces sets, on 0.0.0.0:7860
           "GRADIO_ANALYTICS_ENABLED": "False",  # else it reports usage to api.gradio.app and huggingface.co
           "GRADIO_TEMP_DIR": str(space.log.parent / "gradio")}  # uploads go here, not to /tmp/gradio
    url = f"http://127.0.0.1:{port}/"
    with serving([sys.executable, "app.py"], url, space.log, "python app.py", cwd=space.folder, env=env), \
         pytest.MonkeyPatch.context() as mp:  # gradio_client (httpx) here honours proxies too
        for k in ("NO_PROXY", "no_proxy"): mp.setenv(k, _no_proxy())
        yield url


@pytest.fixture(scope="module")
def classify(space):
    "The model as the chapter loads it, in this process: the answers the app must give."
    from course_lib.production import load_classifier
    return load_classifier(space.folder / "model")


def test_client_gets_the_models_answer(app, space, classify):
    "Gradio's client, calling /predict as any program would, gets the model's top label and its probabilities."
    from gradio_client import Client, handle_file
    client = Client(app, verbose=False, analytics_enabled=False)
    for kind, photo in space.photos.items():
        want = classify(photo)
        got = client.predict(handle_file(str(photo)), api_name="/predict")
        assert got["label"] == max(want, key=want.get), f"{kind} photo: app says {got}, model says {want}"
        # all three, to 1e-5: the app prepares the image exactly as load_classifier's function does
        assert {c["label"]: c["confidence"] for c in got["confidences"]} == pytest.approx(want, abs=1e-5), kind


def test_browser_upload_shows_the_models_answer(browser, app, space, classify):
    """A learner's visit: upload a photo, click Submit, read the label. Nothing leaves 127.0.0.1 (the page's fonts
    and scripts are all served by the app) and the console has no errors. Screenshot: test-artifacts/gradio-app.png."""
    photo = space.photos["grizzly"]
    want = classify(photo)
    top = max(want, key=want.get)
    tab = Tab(browser, app, viewport=(1280, 900))
    page = tab.page
    try:
        tab.goto(app)
        page.locator("#photo input[type=file]").set_input_files(str(photo))
        page.locator("#photo img").first.wait_for(timeout=30_000)  # uploaded: the preview shows
        page.get_by_role("button", name="Submit").click()
        shown = page.locator("#prediction [data-testid=label-output-value]")
        shown.wait_for(timeout=30_000)
        assert shown.inner_text().strip() == top
        # each row reads "label\nNN%": the top row is the model's top label, at its probability (rounded)
        rows = page.locator("#prediction .confidence-set").all_inner_texts()
        label, pct = rows[0].split()
        assert label == top and abs(float(pct.rstrip("%")) - 100 * want[top]) <= 1, rows
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "gradio-app.png"))
        # Gradio's page reads each answer from an event stream (/gradio_api/queue/data) and closes it when the answer
        # is complete. Under Tab's interception of every request (how it blocks external ones) Chromium reports that
        # close as "net::ERR_ABORTED", after the answer arrived; without interception the same stream reads as finished.
        stream_closed = f"request failed: {app}gradio_api/queue/data?"
        errors = [e for e in tab.errors if not (e.startswith(stream_closed) and e.endswith("(net::ERR_ABORTED)"))]
        external = list(tab.external)
    except Exception:
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "gradio-app-failure.png"))
        print("browser errors:", tab.errors, "\napp log:", space.log.read_text()[-3000:])
        raise
    finally:
        tab.close()
    assert external == [], f"requests left 127.0.0.1: {external}"
    assert errors == [], errors
