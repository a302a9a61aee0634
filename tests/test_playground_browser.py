"""End-to-end tests of the Playground in a real browser: headless Chromium driven by Playwright.

Playwright's wheel brings its driver but cannot download a browser here, so the tests use
Debian's ``chromium`` (``apt-get install chromium``; ``.ci/run`` installs it when missing).
They also take the screenshots of docs/playground.md: into a temporary folder, or into
docs/images/ with ``make screenshots`` (SCRATCHNN_SCREENSHOTS=docs/images), so that a test run
leaves the working tree as it was.
"""

from __future__ import annotations

import base64
import functools
import http.server
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
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
    # bypass_csp: Playwright's wait_for_function evaluates its text, which the page's
    # Content-Security-Policy (no eval) refuses. The tests of the policy itself use a context
    # without it (hostile_page).
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, accept_downloads=True, bypass_csp=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def open_page(page, server, config: dict | None = None) -> None:
    """A fresh load of the page at ``config`` (ready once its first run has started). From
    blank: going from the page to the same page with another hash is no load at all, only a
    hashchange, whose new run would land whenever its request returns, possibly after the
    test's next click (a step then seen undone by the new run's epoch 0)."""
    url = server.url
    if config:
        url += "#" + "&".join(f"{k}={v}" for k, v in config.items())
    page.goto("about:blank")
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
    # The loss curve has axes (0 to a round number above the highest loss; epoch 0 to the
    # last) and a legend for its two lines.
    curve = page.evaluate(
        "({...document.querySelector('#loss-curve').dataset, n: state.train.length,"
        " top: Math.max(...state.train, ...state.test)})"
    )
    assert int(curve["epochs"]) == curve["n"] - 1 and float(curve["ymax"]) >= curve["top"]
    assert page.locator("#output-column .curve-legend").text_content().split() == [
        "training",
        "test",
    ]
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
    assert page.locator("#compare-table td[data-run='b'][data-key='test_loss']").text_content() == (
        f"{b:.4f}"
    )
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


def test_side_by_side_keeps_run_a_and_compares_the_numbers(page, server):
    open_page(page, server, {"problem": "xor", "optimizer": "adam"})
    train_until(page, 30)
    a = page.evaluate("state.frame")
    page.click("#open-compare")
    page.wait_for_function("compare.b && compare.b.frame", timeout=TIMEOUT_MS)
    # Run A is where it was (before, opening the comparison restarted it at epoch 0).
    assert page.evaluate("[state.frame.epoch, state.frame.test_loss]") == [
        a["epoch"],
        a["test_loss"],
    ]

    def cell(run: str, key: str) -> str:
        return page.locator(f"#compare-table td[data-run='{run}'][data-key='{key}']").text_content()

    assert (cell("a", "epoch"), cell("b", "epoch")) == (str(a["epoch"]), "0")
    assert cell("a", "test_loss") == f"{a['test_loss']:.4f}"
    assert float(cell("b", "test_loss")) > 0
    assert cell("a", "test_accuracy").endswith("%") and cell("b", "train_accuracy").endswith("%")
    # B started from A's initial weights.
    assert page.evaluate("compare.b.info.frame.weights") == page.evaluate(
        "state.info.frame.weights"
    )


def test_the_inspector_opens_at_the_clicked_neuron_counting_from_0(page, server):
    open_page(page, server)
    page.click("#preset-tutorial")
    page.wait_for_function("state.info.config.problem === 'tutorial-xor'", timeout=TIMEOUT_MS)
    page.click("#open-inspector")
    page.click("#inspect-step")
    page.wait_for_function("state.trace !== null", timeout=TIMEOUT_MS)
    page.click("#neuron-0-2")  # right after the traced step: its numbers, not "step forward"
    assert page.locator("#inspector-body [data-kind='z']").count() == 4
    title = page.locator("#inspect-title").text_content()
    assert "z1[:, 2]" in title and "trace.stages[0]" in title and "neuron 2" in title
    box = page.locator("#inspector").bounding_box()
    assert box["y"] < page.viewport_size["height"]  # in view
    while not page.locator("#trace-next").is_disabled():
        page.click("#trace-next")
    page.click("#weight-1-3-0")
    assert page.locator("#inspect-title").text_content().startswith("W2[3, 0] = ")
    trace = page.evaluate("state.trace")
    np.testing.assert_allclose(
        [float(v) for v in shown_attr(page, "dW")], [trace["layers"][1]["dW"][3][0]]
    )
    # The tutorial's convention: δ = (y - output)·f', summed error, so -n/2 times ours.
    delta = shown_attr(page, "delta")
    page.check("#tutorial-convention")
    tutorial = shown_attr(page, "delta")
    np.testing.assert_allclose(tutorial, -2 * delta, rtol=1e-5)
    assert "E = ½ Σ (y − a)²" in page.locator("#inspector-body").text_content()


def test_a_diverged_run_shows_its_state_and_resets_in_one_click(page, server):
    config = {"problem": "reg-plane", "activation": "linear", "lr": "10", "batch_size": "30"}
    open_page(page, server, config)
    start = shown_loss(page, "train")
    page.click("#play")
    page.wait_for_selector("#run-status[data-kind='diverged']", timeout=TIMEOUT_MS)
    page.wait_for_function("!state.playing && !state.busy", timeout=TIMEOUT_MS)
    assert "playing" not in page.locator("#play").get_attribute("class")  # the play icon
    assert "Training stopped at epoch 1" in page.locator("#run-status-text").text_content()
    shown = page.locator("#train-loss").text_content()
    assert shown == "diverged" or float(shown) != start  # not the starting loss
    page.click("#play")  # a diverged run does not play, and the button says so
    page.wait_for_function("!state.playing", timeout=TIMEOUT_MS)
    page.click("#run-reset")
    page.wait_for_function("state.frame.epoch === 0 && !state.frame.diverged", timeout=TIMEOUT_MS)
    assert page.locator("#run-status").is_hidden() and shown_loss(page, "train") == start


def test_dead_units_are_named_and_gradcheck_is_inconclusive(page, server):
    open_page(page, server, {"activation": "relu", "lr": "10"})
    page.select_option("#speed", "10")
    page.click("#step")
    page.wait_for_selector("#run-status[data-kind='health']", timeout=TIMEOUT_MS)
    assert "ReLU units dead" in page.locator("#run-status-text").text_content()
    page.click("#open-inspector")
    page.click("#gradcheck")
    page.wait_for_selector("#gradcheck-summary", timeout=TIMEOUT_MS)
    assert page.locator("#gradcheck-summary").get_attribute("data-verdict") == "inconclusive"
    assert "ok" not in page.locator("#gradcheck-verdicts").text_content().split()


# Layout: no overlapping controls and the output on screen, on a laptop and on a phone.

OVERLAPS = """() => {
    const visible = (e) => e.getClientRects().length && getComputedStyle(e).visibility !== "hidden";
    const items = [...document.querySelectorAll(
        "button, select, input, .node, #heatmap, #loss-curve, .layer-controls span, h2")]
        .filter(visible);
    const boxes = items.map((e) => [e, e.getBoundingClientRect()]);
    const name = (e) => e.id ? `#${e.id}` : `${e.tagName.toLowerCase()}.${e.className}`;
    const overlaps = [];
    for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
            const [a, p] = boxes[i], [b, q] = boxes[j];
            if (a.contains(b) || b.contains(a)) continue;
            const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
            const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
            if (w > 1 && h > 1) overlaps.push(`${name(a)} / ${name(b)}`);
        }
    }
    const heat = document.querySelector("#heatmap").getBoundingClientRect();
    return {overlaps, width: document.documentElement.scrollWidth,
            heat: [heat.left, heat.right, heat.width]};
}"""


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_nothing_overlaps_and_the_output_shows(browser, server, width, height):
    # The Content-Security-Policy enforced: the page works under it without a violation.
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_init_script(WATCH)
    page = context.new_page()
    try:
        for config in [None, {"hidden": ",".join(["8"] * 6), "features": "x1,x2,x1sq,sinx1"}]:
            open_page(page, server, config)
            layout = page.evaluate(OVERLAPS)
            assert layout["overlaps"] == [], layout
            assert layout["width"] <= width  # no sideways scrolling of the page
            left, right, size = layout["heat"]
            assert left >= 0 and right <= width and size >= 250
        if width < 900:  # stacked columns: the output comes before the network
            output = page.locator("#output-column").bounding_box()
            assert output["y"] < page.locator("#network-column").bounding_box()["y"]
            page.screenshot(path=str(IMAGES / "playground-phone.png"), full_page=True)
        # Side by side keeps run A's epochs; the inspector shows a clicked neuron's numbers
        # after one traced step, in view; and still nothing overlaps.
        page.select_option("#speed", "5")
        page.click("#step")
        page.wait_for_selector("#epoch >> text=000005", timeout=TIMEOUT_MS)
        page.click("#open-compare")
        page.wait_for_selector("td[data-run='b'][data-key='epoch'][data-value='0']")
        assert page.locator("td[data-run='a'][data-key='epoch']").text_content() == "5"
        assert page.locator("#epoch").text_content() == "000005"
        page.click("#open-inspector")
        page.click("#inspect-step")
        page.wait_for_selector("#trace-loss", timeout=TIMEOUT_MS)
        page.click("#neuron-0-0")
        assert page.locator("#inspector-body [data-kind='z']").count() == 10  # the batch
        top = page.locator("#inspector").bounding_box()["y"]
        assert -40 <= top < height  # scrolled into view
        page.click("#gradcheck")
        page.wait_for_selector("#gradcheck-summary", timeout=TIMEOUT_MS)
        layout = page.evaluate(OVERLAPS)
        assert layout["overlaps"] == [] and layout["width"] <= width, layout
        assert page.evaluate("window.__violations") == 0
    finally:
        context.close()


# Security: nothing from a link runs as script; other sites' pages are refused.

HOSTILE = '<img src=x onerror="window.__pwned=1;alert(1)">'
WATCH = """window.__violations = 0;
document.addEventListener("securitypolicyviolation", () => { window.__violations += 1; });"""


def test_hostile_values_in_every_url_field_run_no_script(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # the CSP enforced
    context.add_init_script(WATCH)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        quoted = urllib.parse.quote(HOSTILE, safe="")
        every = "&".join(f"{key}={quoted}" for key in Config().to_dict())
        lists = f"hidden=4,{quoted}&features=x1,{quoted}"
        for fragment in [every, lists, f"activation={HOSTILE}", f"lr={quoted}"]:
            page.goto(server.url + "#" + fragment)
            page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT_MS)
            result = page.evaluate(
                "({pwned: window.__pwned, violations: window.__violations,"
                " injected: document.querySelectorAll('img, [onerror], script:not([src])').length,"
                " status: document.querySelector('#status').textContent,"
                " config: state.info.config})"
            )
            assert result["pwned"] is None and result["injected"] == 0, (fragment, result)
            assert result["violations"] == 0 and not dialogs, (fragment, result)
            assert "<img src=x" in result["status"]  # named, as text
            assert result["config"] == Config().to_dict()  # the defaults instead
    finally:
        context.close()


ATTACK_PAGE = """<!doctype html><meta charset="utf-8"><title>another site</title>
<script src="attack.js"></script>"""
ATTACK_SCRIPT = """(async () => {
  const query = new URLSearchParams(location.search);
  const target = query.get("target"), key = query.get("session");
  const results = {};
  const send = async (name, path, body) => {
    try {  // a "simple" request: no preflight, so the server itself must refuse it
      await fetch(target + path, {method: "POST", mode: "no-cors", body: JSON.stringify(body),
                                  headers: {"Content-Type": "text/plain"}});
      results[name] = "sent";
    } catch (error) { results[name] = "failed"; }
  };
  await send("create", "/api/session", {config: {}});
  await send("play", "/api/play", {session: key});
  await send("step", "/api/step", {session: key, epochs: 5});
  try {
    const answer = await fetch(target + "/api/frame", {method: "POST",
      body: JSON.stringify({session: key})});
    results.read = "read " + (await answer.text()).length;
  } catch (error) { results.read = "refused"; }
  results.stream = await new Promise((resolve) => {
    const source = new EventSource(`${target}/api/stream?session=${key}`);
    source.onmessage = () => { source.close(); resolve("read"); };
    source.onerror = () => { source.close(); resolve("refused"); };
  });
  window.results = results;
  document.body.dataset.done = "1";
})();"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def test_another_origin_cannot_create_start_or_read_a_run(browser, server, tmp_path):
    (tmp_path / "attack.html").write_text(ATTACK_PAGE)
    (tmp_path / "attack.js").write_text(ATTACK_SCRIPT)
    other = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path))
    )
    threading.Thread(target=other.serve_forever, daemon=True).start()
    context = browser.new_context(bypass_csp=True)
    try:
        own = context.new_page()
        open_page(own, server)
        key = own.evaluate("state.session")
        runs = len(server.runs)
        attacker = context.new_page()
        answers: list[tuple[str, int]] = []  # what the server said to the simple requests
        failed: list[str] = []  # the reads, which the browser reports as failed
        attacker.on("requestfailed", lambda request: failed.append(request.url))
        attacker.on(
            "response",
            lambda response: (
                answers.append((response.url, response.status))
                if response.url.startswith(server.url)
                else None
            ),
        )
        target = server.url.rstrip("/")
        query = urllib.parse.urlencode({"target": target, "session": key})
        attacker.goto(f"http://127.0.0.1:{other.server_address[1]}/attack.html?{query}")
        attacker.wait_for_selector("body[data-done='1']", state="attached", timeout=TIMEOUT_MS)
        results = attacker.evaluate("window.results")
        assert results["read"] == "refused" and results["stream"] == "refused", results
        assert len(answers) == 3 and {status for _, status in answers} == {403}, answers
        assert {url.split("?")[0].rsplit("/", 1)[1] for url in failed} >= {"frame", "stream"}
        assert len(server.runs) == runs and not server.get(key).playing
        assert server.get(key).epoch == 0
        # The page's own requests work: it plays and trains.
        own.bring_to_front()
        train_until(own, 3)
        assert own.evaluate("state.frame.epoch") >= 3
    finally:
        context.close()
        other.shutdown()
        other.server_close()


def shown_attr(page, kind: str) -> np.ndarray:
    cells = page.locator(f"#inspector-body [data-kind='{kind}']")
    return np.array([float(cells.nth(k).get_attribute("data-value")) for k in range(cells.count())])


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
