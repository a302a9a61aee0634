"""End-to-end tests of the Playground in a real browser: headless Chromium driven by Playwright.

Playwright's wheel brings its driver but cannot download a browser here, so the tests use
Debian's ``chromium`` (``apt-get install chromium``; ``.ci/run`` installs it when missing).
They also take the screenshots of docs/playground.md: into a temporary folder, or into
docs/images/ with ``make screenshots`` (SCRATCHNN_SCREENSHOTS=docs/images), so that a test run
leaves the working tree as it was.
"""

from __future__ import annotations

import base64
import math
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.playground import data
from scratchnn.playground.config import Config
from scratchnn.playground.server import start
from scratchnn.playground.session import GRID, Session, encode

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Debian's chromium is not installed (apt-get install chromium); the "
        "Playground's browser tests drive it with Playwright",
    ),
    pytest.mark.slow,
]
sync_api = pytest.importorskip("playwright.sync_api", reason="the dev extra's playwright")

IMAGES = Path(
    os.environ.get("SCRATCHNN_SCREENSHOTS") or tempfile.mkdtemp(prefix="scratchnn-screenshots-")
)
TIMEOUT_MS = 60_000  # every wait in the browser is bounded by this


@pytest.fixture(scope="module")
def server():
    server = start(port=0)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def open_page(page, server, config: dict | None = None) -> None:
    url = server.url
    if config:
        url += "#" + "&".join(f"{k}={v}" for k, v in config.items())
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT_MS)


def train_until(page, epochs: int, speed: int = 10) -> None:
    """Play until the page shows at least ``epochs`` epochs, then pause."""
    page.select_option("#speed", str(speed))
    page.click("#play")
    page.wait_for_function(f"state.frame.epoch >= {epochs}", timeout=TIMEOUT_MS)
    page.click("#play")
    page.wait_for_function("!state.playing && !state.busy", timeout=TIMEOUT_MS)


def shown_loss(page, which: str) -> float:
    return float(page.locator(f"#{which}-loss").get_attribute("data-value"))


def distinct_colours(page, selector: str) -> int:
    """How many different colours a canvas holds (1 for a blank canvas)."""
    return page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector);
            const pixels = canvas.getContext("2d")
                .getImageData(0, 0, canvas.width, canvas.height).data;
            const seen = new Set();
            for (let i = 0; i < pixels.length; i += 4) {
                seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
            }
            return seen.size;
        }""",
        selector,
    )


def fetch(server, path: str) -> bytes:
    with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=30) as response:
        return response.read()


def test_playing_lowers_the_shown_loss_and_draws_the_heatmaps(page, server, tmp_path):
    open_page(page, server)
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "playground-initial.png"))
    before = shown_loss(page, "test"), shown_loss(page, "train")
    train_until(page, 60)
    after = shown_loss(page, "test"), shown_loss(page, "train")
    assert after[0] < 0.8 * before[0] and after[1] < 0.8 * before[1], (before, after)
    # Step trains exactly "Epochs per step" epochs; reset goes back to epoch 0.
    epoch = page.evaluate("state.frame.epoch")
    page.select_option("#speed", "5")
    page.click("#step")
    page.wait_for_function(f"state.frame.epoch === {epoch + 5} && !state.busy", timeout=TIMEOUT_MS)
    # The output heatmap and every neuron's are drawn: far from one flat colour.
    assert distinct_colours(page, "#heatmap") > 50
    for selector in ["#neuron-0-0 canvas", "#neuron-1-1 canvas", "#output-node canvas"]:
        assert distinct_colours(page, selector) > 10, selector
    # The loss shown is scratchnn's own loss of the same weights on the same points.
    session = page.evaluate("state.session")
    model = snn.load(_save(fetch(server, f"/api/export.npz?session={session}"), tmp_path))
    _, (X_test, y_test) = _split(Config())
    assert math.isclose(
        float(snn.losses.MSE()(model.predict(X_test), y_test)),
        shown_loss(page, "test"),
        rel_tol=1e-5,
    )
    page.click("#reset")
    page.wait_for_function("state.frame.epoch === 0", timeout=TIMEOUT_MS)
    assert shown_loss(page, "test") == before[0]


def test_trained_xor_and_spiral_screenshots(page, server):
    open_page(page, server, {"problem": "xor", "optimizer": "adam", "hidden": "4,2"})
    train_until(page, 150)
    assert shown_loss(page, "test") < 0.05
    page.screenshot(path=str(IMAGES / "playground-xor.png"))

    features = "x1,x2,x1sq,x2sq,x1x2,sinx1,sinx2"
    config = {"problem": "spiral", "features": features, "hidden": "8,8", "optimizer": "adam"}
    open_page(page, server, {**config, "lr": "0.01", "noise": "0.05"})
    assert page.locator("#n-layers").text_content() == "2"
    # The new run's first frame, not the XOR run's last one (a race under load).
    page.wait_for_function("state.frame.epoch === 0", timeout=TIMEOUT_MS)
    start_loss = shown_loss(page, "test")
    train_until(page, 150)
    assert shown_loss(page, "test") < 0.5 * start_loss
    page.screenshot(path=str(IMAGES / "playground-spiral.png"))


def test_editing_the_network_round_trips_through_the_url(page, server):
    open_page(page, server)
    page.click("#problems button[data-problem='spiral']")
    page.click("#add-layer")  # 3 hidden layers: 4, 2, 2
    page.locator(".add-neuron").nth(2).click()  # the new layer gets 3 neurons
    page.click(".node[data-feature='x1x2']")  # switch a feature on
    page.select_option("#activation", "relu")
    page.select_option("#lr", "0.1")
    page.select_option("#optimizer", "rmsprop")
    page.select_option("#regularization", "l2")
    page.select_option("#reg_rate", "0.001")
    page.check("#batch_norm")
    page.wait_for_function("state.config.batch_norm && !!state.info", timeout=TIMEOUT_MS)
    page.wait_for_function("state.info.config.batch_norm", timeout=TIMEOUT_MS)
    expected = {
        "problem": "spiral",
        "hidden": [4, 2, 3],
        "features": ["x1", "x2", "x1x2"],
        "activation": "relu",
        "lr": 0.1,
        "optimizer": "rmsprop",
        "regularization": "l2",
        "reg_rate": 0.001,
        "batch_norm": True,
    }
    config = page.evaluate("state.config")
    assert {key: config[key] for key in expected} == expected
    assert page.evaluate("state.info.config") == config  # what the server built
    url = page.url
    assert "hidden=4%2C2%2C3" in url and "activation=relu" in url

    # A fresh page from the URL alone shows the same network and controls.
    fresh = page.context.new_page()
    fresh.goto(url)
    fresh.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT_MS)
    assert fresh.evaluate("state.config") == config
    assert fresh.evaluate("state.info.config") == config
    assert fresh.locator("#activation").input_value() == "relu"
    assert fresh.locator("#batch_norm").is_checked()
    assert fresh.locator(".node[data-layer='2']").count() == 3
    assert fresh.locator("#links path").count() == 3 * 4 + 4 * 2 + 2 * 3 + 3 * 1
    # The same configuration trains to the same numbers.
    assert fresh.locator("#test-loss").get_attribute("data-value") == page.locator(
        "#test-loss"
    ).get_attribute("data-value")
    fresh.close()


def test_a_bad_url_says_why_and_starts_from_the_defaults(page, server):
    open_page(page, server, {"lr": "fast", "hidden": "4,4"})
    assert (
        "lr must be a number in [1e-06, 10]; received 'fast'"
        in page.locator("#status").text_content()
    )
    assert page.evaluate("state.info.config") == Config().to_dict()
    assert page.evaluate("state.config.lr") == Config().lr


def test_exported_model_predicts_what_the_page_showed(page, server, tmp_path):
    config = {"problem": "gauss", "hidden": "3", "loss": "cross_entropy", "noise": "0.2"}
    open_page(page, server, config)
    train_until(page, 20, speed=5)
    with page.expect_download(timeout=TIMEOUT_MS) as download_info:
        page.click("#export-npz")
    path = tmp_path / "model.npz"
    download_info.value.save_as(path)
    model = snn.load(path)

    # The page's output heatmap, as shown: bytes of the class-1 probability on the grid.
    shown = np.frombuffer(base64.b64decode(page.evaluate("state.frame.output")), np.uint8)
    run = Config.from_dict(
        {"problem": "gauss", "hidden": [3], "loss": "cross_entropy", "noise": 0.2}
    )
    grid = data.features(data.grid("gauss", GRID), run.features)
    probability = model.loss.output_transform(model.predict(grid)).ravel()
    expected = np.frombuffer(base64.b64decode(encode(probability, 0, 1)), np.uint8)
    assert np.array_equal(shown, expected)
    # and the losses it printed.
    (X_train, y_train), _ = _split(run)
    loss = snn.losses.BinaryCrossEntropy(from_logits=True)
    assert math.isclose(
        float(loss(model.predict(X_train), y_train)), shown_loss(page, "train"), rel_tol=1e-5
    )

    # The exported script retrains to the same weights.
    with page.expect_download(timeout=TIMEOUT_MS) as download_info:
        page.click("#export-py")
    script = tmp_path / "retrain.py"
    download_info.value.save_as(script)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert f"epoch {page.evaluate('state.frame.epoch')}:" in result.stdout
    retrained = snn.load(tmp_path / "playground_model.npz")
    np.testing.assert_array_equal(retrained.get_weights(), model.get_weights())


def test_inspector_shows_scratchnns_own_numbers(page, server, tmp_path):
    open_page(page, server, {"hidden": "3,2", "lr": "0.1"})
    train_until(page, 5, speed=5)
    session = page.evaluate("state.session")
    before = snn.load(_save(fetch(server, f"/api/export.npz?session={session}"), tmp_path))

    page.click("#open-inspector")
    page.click("#neuron-0-1")  # hidden layer 1, neuron 2
    page.click("#inspect-step")
    page.wait_for_function("state.trace !== null", timeout=TIMEOUT_MS)
    while not page.locator("#trace-next").is_disabled():
        page.click("#trace-next")
    rows = page.evaluate("state.trace.batch")

    # scratchnn's own computation on the same weights and batch: forward layer by layer,
    # the loss's gradient, backward layer by layer (layers: Dense Tanh Dense Tanh Dense Sigmoid).
    (X_train, y_train), _ = _split(Config(hidden=[3, 2], lr=0.1))
    xb, yb = X_train[rows].astype(np.float32), y_train[rows].astype(np.float32)
    activations = [xb]
    for layer in before.layers:
        activations.append(layer.forward(activations[-1], training=True))
    loss = snn.losses.MSE()
    loss(activations[-1], yb)
    grads = [loss.backward()]
    for layer in reversed(before.layers):
        grads.insert(0, layer.backward(grads[0]))
    # grads[k] is ∂L/∂(input of layer k); δ of hidden layer 1 is ∂L/∂z1 = grads[1].
    z1, a1, delta1 = activations[1][:, 1], activations[2][:, 1], grads[1][:, 1]

    def shown(kind: str) -> np.ndarray:
        cells = page.locator(f"#inspector-body [data-kind='{kind}']")
        return np.array(
            [float(cells.nth(k).get_attribute("data-value")) for k in range(cells.count())]
        )

    np.testing.assert_allclose(shown("z"), z1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(shown("a"), a1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(shown("delta"), delta1, rtol=1e-4, atol=1e-7)
    db = before.layers[0].grads["b"][1]
    np.testing.assert_allclose(shown("db"), [db], rtol=1e-4, atol=1e-8)
    # The update shown is new minus old value in float32: exact to float32's spacing there.
    spacing = 2 * float(np.spacing(np.float32(4)))
    np.testing.assert_allclose(shown("update_b"), [-0.1 * db], rtol=1e-4, atol=spacing)

    # A weight of the second layer: ∂L/∂W and its SGD update.
    page.click("#weight-1-2-0")
    dW = before.layers[2].grads["W"][2, 0]
    np.testing.assert_allclose(shown("dW"), [dW], rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(shown("update_W"), [-0.1 * dW], rtol=1e-4, atol=spacing)
    np.testing.assert_allclose(shown("a_in"), activations[2][:, 2], rtol=1e-5, atol=1e-6)
    page.click("#neuron-0-1")

    # The step was applied: the page's network moved by exactly that update.
    after = snn.load(_save(fetch(server, f"/api/export.npz?session={session}"), tmp_path))
    np.testing.assert_allclose(
        after.layers[2].params["W"],
        before.layers[2].params["W"] - 0.1 * before.layers[2].grads["W"],
        rtol=1e-5,
        atol=1e-7,
    )

    page.click("#gradcheck")
    page.wait_for_selector("#gradcheck-table", timeout=TIMEOUT_MS)
    assert "gradcheck passed" in page.locator("#gradcheck-body").text_content()
    analytic = shown_cells(page, "analytic")
    numeric = shown_cells(page, "numeric")
    assert len(analytic) >= 8
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-8)
    page.locator("#inspector").scroll_into_view_if_needed()
    page.screenshot(path=str(IMAGES / "playground-inspector.png"), full_page=True)


def test_side_by_side_runs_train_from_the_same_start(page, server):
    open_page(page, server, {"problem": "xor"})
    page.click("#open-compare")
    # ReLU's default initialization differs from tanh's, yet B starts from A's weights.
    page.select_option("#compare-key", "activation")
    page.select_option("#compare-value", "relu")
    page.wait_for_function(
        "compare.b && compare.b.info.config.activation === 'relu'", timeout=TIMEOUT_MS
    )
    assert page.evaluate("compare.b.info.frame.weights") == page.evaluate(
        "state.info.frame.weights"
    )
    page.select_option("#compare-key", "optimizer")
    page.select_option("#compare-value", "adam")
    page.wait_for_function(
        "compare.b && compare.b.info.config.optimizer === 'adam'", timeout=TIMEOUT_MS
    )
    # The step button trains both runs the same number of epochs.
    page.select_option("#speed", "50")
    page.click("#step")
    page.wait_for_function(
        "state.frame.epoch === 50 && compare.b.frame.epoch === 50 && !state.busy",
        timeout=TIMEOUT_MS,
    )
    a = page.evaluate("state.frame.test_loss")
    b = page.evaluate("compare.b.frame.test_loss")
    assert b < 0.5 * a  # Adam learns XOR faster than SGD at the same rate and start
    assert page.locator("#compare-b-loss").text_content() == f"{b:.3f}"
    train_until(page, 60)  # and playing trains both
    page.wait_for_function("compare.b.frame.epoch > 50", timeout=TIMEOUT_MS)
    assert distinct_colours(page, "#compare-b") > 50


def test_the_tutorial_preset_trains_the_tutorials_network(page, server, tmp_path):
    open_page(page, server)
    page.click("#preset-tutorial")
    page.wait_for_function("state.info.config.problem === 'tutorial-xor'", timeout=TIMEOUT_MS)
    config = page.evaluate("state.info.config")
    assert (config["hidden"], config["activation"], config["lr"]) == ([4], "sigmoid", 0.5)
    train_until(page, 300, speed=100)
    epochs = page.evaluate("state.frame.epoch")

    # The README's tour: the same network, trained by the same full-batch gradient descent.
    X, y = snn.datasets.xor()
    tutorial = snn.Sequential(
        [snn.Dense(2, 4), snn.Sigmoid(), snn.Dense(4, 1), snn.Sigmoid()], seed=0
    )
    assert page.evaluate("state.info.layers") == [repr(layer) for layer in tutorial.layers]
    tutorial.fit(
        X,
        y,
        loss=snn.losses.MSE(),
        optimizer=snn.optim.SGD(lr=0.5),
        epochs=epochs,
        batch_size=None,
        verbose=0,
    )
    session = page.evaluate("state.session")
    shown = snn.load(_save(fetch(server, f"/api/export.npz?session={session}"), tmp_path))
    np.testing.assert_allclose(shown.get_weights(), tutorial.get_weights(), rtol=1e-6, atol=1e-7)


def shown_cells(page, kind: str) -> np.ndarray:
    cells = page.locator(f"#gradcheck-body [data-kind='{kind}']")
    return np.array([float(cells.nth(k).text_content()) for k in range(cells.count())])


def _split(config: Config) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The training and test (features, targets) of ``config``, as the server makes them."""
    session = Session(config)
    return (session.X_train, session.y_train), (session.X_test, session.y_test)


def _save(payload: bytes, folder: Path) -> Path:
    path = folder / f"export-{len(list(folder.glob('export-*')))}.npz"
    path.write_bytes(payload)
    return path
