"""The Playground's server side without a browser: problems, config, runs, the HTTP API and the
``scratchnn playground`` command. (The page itself: tests/test_playground_browser.py.)"""

from __future__ import annotations

import concurrent.futures
import http.client
import itertools
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.cli.main import build_parser
from scratchnn.playground import data
from scratchnn.playground.config import Config
from scratchnn.playground.server import MAX_BODY, start
from scratchnn.playground.session import Session


@pytest.fixture(scope="module")
def server():
    server = start(port=0)
    yield server
    server.shutdown()
    server.server_close()


def call(server, path: str, body: dict | None = None, headers: dict | None = None):
    """(status, payload) of one request; JSON payloads are decoded."""
    request = urllib.request.Request(
        server.url.rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw, kind = response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        status, raw, kind = error.code, error.read(), error.headers["Content-Type"]
    return status, json.loads(raw) if kind == "application/json" else raw


# Problems and features.


@pytest.mark.parametrize("name", list(data.PROBLEMS))
def test_every_problem_is_reproducible_and_inside_its_square(name):
    X, y = data.make_points(name, n=200, noise=0.1, seed=3)
    again = data.make_points(name, n=200, noise=0.1, seed=3)
    assert np.array_equal(X, again[0]) and np.array_equal(y, again[1])
    kind, half, centre = data.PROBLEMS[name]
    assert X.shape == ((4, 2) if name == "tutorial-xor" else (200, 2)) and y.shape == (len(X), 1)
    assert np.all(np.abs(X - centre) <= half)
    if kind == "classification":
        assert set(np.unique(y)) == {0.0, 1.0}
    else:
        assert np.all(np.abs(y) <= 1) and y.std() > 0.05


def test_xor_labels_follow_the_quadrants_without_noise():
    X, y = data.make_points("xor", n=300, noise=0.0, seed=0)
    np.testing.assert_array_equal(y.ravel(), (X[:, 0] * X[:, 1] >= 0).astype(float))


def test_features_and_grid():
    X = np.array([[1.0, 2.0], [-3.0, 0.5]])
    np.testing.assert_allclose(
        data.features(X, list(data.FEATURES)),
        [[1, 2, 1, 4, 2, np.sin(1), np.sin(2)], [-3, 0.5, 9, 0.25, -1.5, np.sin(-3), np.sin(0.5)]],
    )
    with pytest.raises(ValueError, match=r"Unknown feature\(s\) \['x3'\]"):
        data.features(X, ["x3"])
    grid = data.grid("circle", 4)
    assert grid.shape == (16, 2)
    np.testing.assert_allclose(grid[0], [-4.5, 4.5])  # top left first, rows going down
    np.testing.assert_allclose(grid[-1], [4.5, -4.5])


# Config.


def test_config_round_trips_and_refuses_bad_values():
    config = Config.from_dict({"problem": "spiral", "hidden": [8, 8], "optimizer": "adam"})
    assert Config.from_dict(config.to_dict()) == config
    bad = [
        ({"hidden": [9]}, r"hidden layer size must be a whole number in \[1, 8\]; received 9"),
        ({"hidden": [1] * 7}, "at most 6 layer sizes"),
        ({"activation": "cube"}, "activation must be one of tanh, relu"),
        ({"features": []}, "features must be a non-empty list"),
        ({"features": ["x1", "x1"]}, "must not repeat"),
        ({"noise": 0.9}, r"noise must be a number in \[0, 0.5\]; received 0.9"),
        ({"batch_size": True}, "batch_size must be a whole number"),
        ({"batch_norm": True, "batch_size": 1}, "batch_norm needs batch_size >= 2"),
        ({"colour": "red"}, r"Unknown config key\(s\) \['colour'\]"),
    ]
    for values, message in bad:
        with pytest.raises(ValueError, match=message):
            Config.from_dict(values)
    with pytest.raises(TypeError, match="received list"):
        Config.from_dict([])


# Runs.


def test_a_run_learns_and_its_frames_describe_the_network():
    session = Session(Config(problem="xor", hidden=[4, 2], optimizer="adam"))
    first = session.frame()
    frame = session.train(epochs=40)
    assert frame["epoch"] == 40 and frame["test_loss"] < 0.5 * first["test_loss"]
    assert len(frame["history"]["train"]) == 40
    assert [len(layer) for layer in frame["neurons"]] == [4, 2]
    assert [np.shape(w) for w in frame["weights"]] == [(2, 4), (4, 2), (2, 1)]
    # The output heatmap is the model's own prediction on the grid, quantized.
    shown = np.frombuffer(__import__("base64").b64decode(frame["output"]), np.uint8)
    p = session.model.predict(session.grid_features).ravel()
    np.testing.assert_array_equal(shown, np.rint(np.clip(p, 0, 1) * 255).astype(np.uint8))


def test_a_diverging_run_stops_and_says_so():
    session = Session(Config(problem="reg-plane", activation="linear", lr=10.0, batch_size=30))
    frame = session.train(epochs=50)
    assert "became" in frame["diverged"] and frame["epoch"] < 50
    json.dumps(frame, allow_nan=False)  # still valid JSON for the page


def test_the_exported_script_retrains_to_the_same_weights(tmp_path):
    config = Config(
        problem="circle",
        hidden=[3],
        regularization="l2",
        reg_rate=0.01,
        dropout=0.1,
        batch_norm=True,
        optimizer="momentum",
        n_points=100,
    )
    session = Session(config)
    session.train(epochs=3)
    script = tmp_path / "retrain.py"
    script.write_text(session.export_script())
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    model = snn.load(tmp_path / "playground_model.npz")
    np.testing.assert_array_equal(model.get_weights(), session.model.get_weights())


def test_the_inspector_step_is_trace_step_applied():
    session = Session(Config(hidden=[2], lr=0.1))
    before = session.model.clone()
    trace = session.inspect()
    W, dW = np.array(trace["layers"][0]["W_before"]), np.array(trace["layers"][0]["dW"])
    np.testing.assert_allclose(W, before.layers[0].params["W"])
    np.testing.assert_allclose(session.model.layers[0].params["W"], W - 0.1 * dW, rtol=1e-6)
    assert [p["kind"] for p in trace["phases"]] == [
        "forward",
        "forward",
        "loss",
        "backward",
        "backward",
        "update",
    ]


def test_a_side_by_side_run_starts_from_the_other_runs_weights():
    a = Session(Config(activation="tanh", hidden=[3]))
    b = Session(Config(activation="relu", hidden=[3]))  # He, not Glorot, initialization
    assert not np.array_equal(a.model.get_weights(), b.model.get_weights())
    assert b.start_from(a)
    np.testing.assert_array_equal(a.model.get_weights(), b.model.get_weights())
    assert b.frame()["weights"] == a.frame()["weights"]
    assert b.train_losses == [b.evaluate(b.X_train, b.y_train)]
    assert not Session(Config(hidden=[4])).start_from(a)  # other shapes: its own start
    # A trained run A stays where it is; B starts from A's initial weights.
    start = a.model.get_weights()
    a.train(5)
    c = Session(Config(optimizer="adam", hidden=[3]))
    assert c.start_from(a) and a.epoch == 5
    np.testing.assert_array_equal(c.model.get_weights(), start)
    b.train(1)
    with pytest.raises(ValueError, match="has not trained yet"):
        b.start_from(a)


def test_gradcheck_entries_agree():
    session = Session(Config(hidden=[3], activation="relu", loss="cross_entropy"))
    result = session.check_gradients()
    assert result["passed"]
    analytic = [row["analytic"] for row in result["entries"]]
    numeric = [row["numeric"] for row in result["entries"]]
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-9)


def test_gradcheck_is_inconclusive_where_finite_differences_cannot_judge():
    # A dead network (every ReLU 0 after lr 10): gradients below 1e-12 are not "ok".
    dead = Session(Config(activation="relu", lr=10.0, hidden=[4, 2]))
    dead.train(epochs=20)
    result = dead.check_gradients()
    assert result["verdict"] == "inconclusive" and not result["passed"]
    assert "every gradient is below 1e-12" in result["summary"]
    # A diverged run keeps weights ~1e10: the step ε vanishes beside them; not FAILED.
    diverged = Session(Config(problem="reg-plane", activation="linear", lr=10.0, batch_size=30))
    diverged.train(epochs=50)
    result = diverged.check_gradients()
    assert result["verdict"] == "inconclusive", result["summary"]
    assert "too large for the step" in result["summary"]
    json.dumps(result, allow_nan=False)
    # A healthy network passes, every parameter "ok".
    healthy = Session(Config(hidden=[3]))
    assert {v["verdict"] for v in healthy.check_gradients()["parameters"]} == {"ok"}


def test_dead_relus_and_saturated_units_are_named():
    session = Session(Config(activation="relu", lr=10.0, hidden=[4, 2]))
    assert session.frame()["health"]["message"] is None
    frame = session.train(epochs=20)
    assert frame["health"]["dead"] and "ReLU units dead" in frame["health"]["message"]
    saturated = Session(Config(activation="sigmoid", hidden=[3]))
    for layer in saturated.model.layers[:1]:
        layer.params["W"][...] = 500.0  # every unit at an end of its range
    saturated.record_losses()
    assert saturated.frame()["health"]["saturated"] == [[0, 0], [0, 1], [0, 2]]
    assert "sigmoid units saturated" in saturated.frame()["health"]["message"]


def test_a_diverged_frame_shows_the_weights_and_losses_it_has():
    session = Session(Config(problem="reg-plane", activation="linear", lr=10.0, batch_size=30))
    before = session.frame()
    frame = session.train(epochs=50)
    # The losses of the last finite weights are recorded, not the starting ones kept.
    assert len(frame["history"]["train"]) == 1 and frame["history"]["from"] == 1
    assert frame["train_loss"] != before["train_loss"]
    assert frame["weights"] != before["weights"]
    assert "Reset starts the run again" in frame["diverged"] and not frame["playing"]


def test_a_frame_carries_the_accuracies_of_a_classification():
    session = Session(Config(problem="xor", hidden=[4], optimizer="adam", lr=0.03))
    frame = session.train(epochs=40)
    assert 0.9 <= frame["train_accuracy"] <= 1 and 0.9 <= frame["test_accuracy"] <= 1
    regression = Session(Config(problem="reg-plane")).frame()
    assert regression["train_accuracy"] is None and regression["test_accuracy"] is None


def test_the_inspector_offers_the_tutorials_convention():
    config = Config(problem="tutorial-xor", hidden=[4], activation="sigmoid", lr=0.5)
    result = Session(config).inspect()
    tutorial = result["tutorial"]
    assert result["convention"] == "scratchnn" and tutorial["convention"] == "tutorial"
    n = len(result["batch"])  # δ_tutorial = -n/2 δ for the mean squared error over n outputs
    for ours, theirs in zip(result["layers"], tutorial["layers"], strict=True):
        np.testing.assert_allclose(theirs["delta"], -n / 2 * np.array(ours["delta"]), rtol=1e-5)
        np.testing.assert_allclose(theirs["update_W"], ours["update_W"])  # the same step
    assert tutorial["loss"] == pytest.approx(n / 2 * result["loss"], rel=1e-6)
    assert "y − a2" in tutorial["phases"][3]["formula"]
    cross = Session(Config(loss="cross_entropy", hidden=[2])).inspect()
    assert cross["tutorial"] is None and "needs the MSE loss" in cross["tutorial_note"]


# The HTTP API.


def test_the_api_builds_steps_and_exports_a_run(server, tmp_path):
    status, options = call(server, "/api/options")
    assert status == 200 and options["defaults"] == Config().to_dict()
    status, run = call(server, "/api/session", {"config": {"problem": "gauss", "hidden": [2]}})
    assert status == 200 and run["config"]["problem"] == "gauss"
    status, frame = call(server, "/api/step", {"session": run["session"], "epochs": 3})
    assert status == 200 and frame["epoch"] == 3
    status, payload = call(server, f"/api/export.npz?session={run['session']}")
    (tmp_path / "m.npz").write_bytes(payload)
    assert snn.load(tmp_path / "m.npz").epochs_trained == 3
    status, page = call(server, "/")
    assert status == 200 and b"scratchnn" in page


def test_a_playing_run_streams_frames_until_paused(server):
    _, run = call(server, "/api/session", {"config": {"problem": "xor", "hidden": [3]}})
    key = run["session"]
    assert call(server, "/api/play", {"session": key}) == (
        200,
        {"playing": True, "diverged": None},
    )
    url = server.url + f"api/stream?session={key}&since=0"
    frames = []
    with urllib.request.urlopen(url, timeout=30) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        for line in stream:
            if line.startswith(b"data: "):
                frames.append(json.loads(line[6:]))
            if len(frames) == 5:
                break
    status, last = call(server, "/api/pause", {"session": key})
    assert status == 200 and not last["playing"]
    versions = [frame["version"] for frame in frames]
    assert versions == sorted(set(versions))  # each frame shows newer weights
    assert all(frame["playing"] for frame in frames) and "output" in frames[-1]
    # The histories fit together: each frame carries the epochs after the previous one's.
    for before, after in itertools.pairwise(frames):
        assert after["history"]["from"] == before["history"]["from"] + len(
            before["history"]["train"]
        )
    # Paused, the run stays where it stopped; the stream sends that frame and ends.
    status, again = call(server, "/api/frame", {"session": key, "since": 0})
    assert again["epoch"] == last["epoch"] >= frames[-1]["epoch"]
    with urllib.request.urlopen(url, timeout=30) as stream:
        events = [line for line in stream.read().splitlines() if line.startswith(b"data: ")]
    assert len(events) == 1 and json.loads(events[0][6:])["epoch"] == last["epoch"]


def test_play_right_after_pause_keeps_playing():
    session = Session(Config(problem="xor", hidden=[2]))
    session.play()
    session.stop(wait=False)  # a pause still finishing its epoch...
    session.play()  # ...does not swallow the next play
    assert session.playing
    epoch = session.epoch
    frame = session.pause()
    assert not session.playing and frame["epoch"] == session.epoch >= epoch


def test_play_and_pause_are_safe_under_concurrent_requests():
    # 72 mixed play/pause calls from as many threads on one run (issue 27 found
    # "RuntimeError: cannot join thread before it is started"): none raises, and the run ends
    # either playing one trainer or paused.
    session = Session(Config(problem="xor", hidden=[2], n_points=40))
    errors: list[BaseException] = []
    barrier = threading.Barrier(72)

    def hit(k: int) -> None:
        try:
            barrier.wait(timeout=30)
            session.play() if k % 2 else session.pause()
        except BaseException as error:  # the test reports any of them
            errors.append(error)

    for _ in range(3):  # a race: three rounds make a regression show
        threads = [threading.Thread(target=hit, args=(k,)) for k in range(72)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        frame = session.pause()
        assert not session.playing and frame["epoch"] == session.epoch


def test_a_diverged_run_does_not_play():
    session = Session(Config(problem="reg-plane", activation="linear", lr=10.0, batch_size=30))
    session.train(epochs=50)
    assert session.diverged
    session.play()
    assert not session.playing


def test_the_api_refuses_bad_requests(server):
    assert call(server, "/api/session", {"config": {"lr": "fast"}}) == (
        400,
        {"error": "lr must be a number in [1e-06, 10]; received 'fast'."},
    )
    status, payload = call(server, "/api/step", {"session": "nope"})
    assert status == 404 and "No run with id 'nope'" in payload["error"]
    _, run = call(server, "/api/session", {"config": {}})
    status, payload = call(server, "/api/step", {"session": run["session"], "epochs": 10**6})
    assert status == 400 and "epochs must be a whole number in [1, 100]" in payload["error"]
    assert call(server, "/static/../server.py")[0] == 404
    assert call(server, "/static/app.py")[0] == 404
    status, payload = call(server, "/", headers={"Host": "evil.example:80"})
    assert status == 403
    status, payload = call(server, "/api/session", {"config": {"x": "y" * MAX_BODY}})
    assert status == 400 and "at most" in payload["error"]


# The server under attack (issue 27): every refused request closes its connection.


def exchange(server, raw: bytes, timeout: float = 30) -> bytes:
    """Everything the server answers to the bytes ``raw`` on one connection, until it closes."""
    with socket.create_connection(server.server_address, timeout=timeout) as connection:
        connection.sendall(raw)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def post(server, path: str, body: bytes, *headers: str, host: str | None = None) -> bytes:
    """The raw bytes of a POST request."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host or f'127.0.0.1:{server.server_address[1]}'}",
        "Content-Type: application/json",
        *headers,
    ]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def responses(answer: bytes) -> list[int]:
    """The status of every HTTP response in ``answer``."""
    return [int(m) for m in re.findall(rb"(?:^|\r\n)HTTP/1\.[01] (\d{3}) ", answer)]


def test_a_refused_request_smuggles_nothing(server):
    # The body of a refused (403) or too-large (400) POST is a complete request of its own;
    # before, the server parsed it as the next request on the keep-alive connection.
    smuggled = post(server, "/api/session", b'{"config": {}}')
    runs = len(server.runs)
    answer = exchange(server, post(server, "/api/session", smuggled, host="evil.example"))
    assert responses(answer) == [403] and b"Connection: close" in answer
    big = smuggled + b" " * MAX_BODY
    answer = exchange(server, post(server, "/api/session", big))
    assert responses(answer) == [400] and b"at most 65536" in answer
    # A GET with a body: answered, and its body never read as a request.
    port = server.server_address[1]
    get = f"GET /api/options HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    answer = exchange(server, f"{get}Content-Length: {len(smuggled)}\r\n\r\n".encode() + smuggled)
    assert responses(answer) == [200]
    chunked = post(server, "/api/session", b"0\r\n\r\n" + smuggled, "Transfer-Encoding: chunked")
    answer = exchange(server, chunked)
    assert responses(answer) == [411] and b"Chunked request bodies are not accepted" in answer
    assert len(server.runs) == runs


@pytest.mark.parametrize("encoding", ["chunked", "Chunked", "gzip, chunked"])
def test_a_chunked_post_is_answered_411_length_required(server, encoding):
    # Before, a chunked body was refused with 400 (and before that, ignored: the run got the
    # default problem); 411 says what the client must do: send a Content-Length.
    runs = len(server.runs)
    body = json.dumps({"config": {"problem": "spiral"}}).encode()
    chunks = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    answer = exchange(
        server, post(server, "/api/session", chunks, f"Transfer-Encoding: {encoding}")
    )
    assert responses(answer) == [411], answer
    assert b"Connection: close" in answer and b"send the body with a Content-Length" in answer
    # The standard library's client, sending its body in chunks.
    connection = http.client.HTTPConnection(*server.server_address, timeout=30)
    try:
        connection.request(
            "POST",
            "/api/session",
            body=iter([body]),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        assert (response.status, response.reason) == (411, "Length Required")
        assert "Content-Length" in json.loads(response.read())["error"]
    finally:
        connection.close()
    assert len(server.runs) == runs


@pytest.mark.parametrize("length", [65, 255, 256, 5000])
def test_a_long_static_name_is_404_not_a_server_error(server, length):
    # Before, a 5,000-character name reached the file system ("File name too long"): a 500
    # with the OSError's traceback on the server's terminal.
    name = "a" * (length - 4) + ".css"
    connection = http.client.HTTPConnection(*server.server_address, timeout=30)
    try:
        connection.request("GET", "/static/" + name)
        response = connection.getresponse()
        payload = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 404
    assert payload["error"].startswith("No page file 'aaaa")
    assert len(payload["error"]) < 200  # the name is quoted, not echoed whole
    assert call(server, "/static/style.css")[0] == 200  # and the server still serves


@pytest.mark.parametrize("length", ["-1", "+5", "5 5", "0x10", "1e3", "", "٣"])
def test_content_length_must_be_a_whole_number_within_the_limit(server, length):
    answer = exchange(server, post(server, "/api/frame", b"{}", f"Content-Length: {length}"))
    assert responses(answer) == [400], answer
    assert b"Content-Length must be a whole number of bytes, 0 to 65536" in answer


def test_a_negative_length_with_a_flood_keeps_the_memory_bounded(server):
    # Before, Content-Length: -1 made the server read until EOF: 300 MB sent grew it by
    # 300 MB. Now it answers 400 at once and closes; the rest never reaches a buffer.
    def resident() -> int:
        pages = int(pathlib.Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")

    before = resident()
    sent = 0
    chunk = b"[" * (1 << 20)
    with socket.create_connection(server.server_address, timeout=30) as connection:
        connection.sendall(post(server, "/api/frame", b"", "Content-Length: -1"))
        with pytest.raises(OSError):  # reset or broken pipe: the server closed
            for _ in range(200):
                connection.sendall(chunk)
                sent += len(chunk)
    assert sent < 64 << 20  # what the kernel's buffers took before the close was seen
    assert resident() - before < 32 << 20


def test_deep_nesting_is_refused_without_a_traceback(server, capfd):
    for body in [b"[" * 20_000 + b"]" * 20_000, b'{"a":' * 1000 + b"1" + b"}" * 1000]:
        answer = exchange(server, post(server, "/api/session", body))
        assert responses(answer) == [400] and b"levels of arrays and objects; at most 32" in answer
    # Brackets inside strings are text, not nesting.
    status, payload = call(server, "/api/session", {"config": {"problem": "[" * 100}})
    assert status == 400 and "problem must be one of" in payload["error"]
    assert "Traceback" not in capfd.readouterr().err


def test_200_concurrent_requests_are_all_served(server):
    barrier = threading.Barrier(200)

    def fetch(_: int) -> int:
        barrier.wait(timeout=60)
        with urllib.request.urlopen(server.url + "static/style.css", timeout=60) as response:
            response.read()
            return response.status

    with concurrent.futures.ThreadPoolExecutor(200) as pool:
        statuses = list(pool.map(fetch, range(200)))
    assert statuses == [200] * 200


def test_a_half_sent_request_is_closed_after_the_time_out():
    server = start(port=0, request_timeout=0.5)
    try:
        with socket.create_connection(server.server_address, timeout=30) as connection:
            connection.sendall(b"POST /api/session HTTP/1.1\r\nHost: 127.0.0.1")
            started = time.monotonic()
            assert connection.recv(1024) == b""  # closed, unanswered
            assert time.monotonic() - started < 10
    finally:
        server.shutdown()
        server.server_close()


def test_other_origins_are_refused_the_page_is_not(server):
    port = server.server_address[1]
    own = f"http://127.0.0.1:{port}"
    _, run = call(server, "/api/session", {"config": {}}, headers={"Origin": own})
    key = run["session"]
    other = {"Origin": f"http://127.0.0.1:{port + 1}"}
    for path, body in [
        ("/api/session", {"config": {}}),
        ("/api/play", {"session": key}),
        ("/api/step", {"session": key}),
        ("/api/frame", {"session": key}),
    ]:
        status, payload = call(server, path, body, headers=other)
        assert status == 403 and "only answers the Playground's own page" in payload["error"]
    for get in [f"/api/stream?session={key}", f"/api/export.npz?session={key}"]:
        assert call(server, get, headers=other)[0] == 403
        assert call(server, get, headers={"Referer": "http://evil.example/page"})[0] == 403
        assert call(server, get, headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert call(server, "/api/play", {"session": key}, headers={"Origin": "null"})[0] == 403
    assert not server.get(key).playing
    # The page itself: its Origin (POST) or Referer (GET), and programs that send neither.
    assert call(server, "/api/step", {"session": key}, headers={"Origin": own})[0] == 200
    referer = {"Referer": own + "/#problem=xor", "Sec-Fetch-Site": "same-origin"}
    assert call(server, f"/api/export.py?session={key}", headers=referer)[0] == 200
    assert call(server, "/api/frame", {"session": key})[0] == 200


def test_every_response_forbids_inline_script(server):
    with urllib.request.urlopen(server.url, timeout=30) as response:
        policy = response.headers["Content-Security-Policy"]
        page = response.read().decode()
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script src=" in page and not re.search(r"<script>|\son[a-z]+=", page)


# The command.


def test_the_command_serves_until_interrupted():
    args = build_parser().parse_args(["playground", "--no-browser"])
    assert args.port == 0 and args.no_browser
    process = subprocess.Popen(
        [sys.executable, "-m", "scratchnn", "playground", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a test run started in the background inherits an ignored SIGINT,
        # which the command (like any Python program) would keep ignoring.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("scratchnn playground: http://127.0.0.1:"), line
        url = line.split()[2]
        with urllib.request.urlopen(url + "api/options", timeout=30) as response:
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()  # closes the pipes
    assert process.returncode == 0 and "stopped" in err


def test_import_scratchnn_does_not_load_the_playground():
    code = (
        "import sys, scratchnn; print('http.server' in sys.modules, "
        "'scratchnn.playground' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"]
