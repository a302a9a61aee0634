"""The playground's web server: the standard library's ``http.server``, bound to 127.0.0.1.

The page keeps the configuration (in its URL) and asks the server to build a run from it.
Playing starts a thread that trains the run's scratchnn model epoch after epoch and publishes
its weights between batches; a stream of server-sent events (``GET /api/stream``) carries a
frame drawn from the latest weights to the page many times a second, whatever an epoch
costs.

Routes (JSON in and out unless noted):

- ``GET /``, ``GET /static/<file>``: the page (plain HTML, CSS and JavaScript).
- ``GET /api/options``: the choices the controls offer.
- ``POST /api/session`` ``{"config": {...}}``: a new run; its id, points and first frame
  (with ``"same_start": id``, from that run's current weights when the shapes match).
- ``POST /api/play``, ``POST /api/pause`` ``{"session": id}``: start or stop the run's
  training thread (pause returns the frame after its last epoch).
- ``GET /api/stream?session=id&since=n``: server-sent events, one frame each time the
  weights changed (at most ``STREAM_FPS`` a second) while the run plays.
- ``POST /api/frame`` ``{"session": id, "since": n, "version": v}``: the latest weights'
  frame, with the losses from epoch n on (the drawing left out if still version v).
- ``POST /api/step`` ``{"session": id, "epochs": n}``: train n epochs; the frame after them.
- ``POST /api/inspect`` ``{"session": id}``: one traced training step (backprop inspector).
- ``POST /api/gradcheck`` ``{"session": id}``: analytic against finite-difference gradients.
- ``GET /api/export.npz?session=id``, ``GET /api/export.py?session=id``: downloads.

Example:
    >>> server = start(port=0)
    >>> server.url.startswith("http://127.0.0.1:")
    True
    >>> server.shutdown(); server.server_close()
"""

from __future__ import annotations

import collections
import http.server
import importlib.resources
import json
import re
import socket
import threading
import time
import traceback
import urllib.parse
import uuid
from typing import Any

from . import data
from .config import (
    ACTIVATIONS,
    LOSSES,
    MAX_LAYERS,
    MAX_NEURONS,
    OPTIMIZERS,
    REGULARIZATIONS,
    Config,
)
from .session import Session

#: Runs kept in memory; the oldest is dropped beyond this.
MAX_SESSIONS = 16
#: Largest request body accepted, in bytes.
MAX_BODY = 64 * 1024
#: Most epochs one step request may train.
MAX_EPOCHS = 100
#: Most frames per second a stream sends.
STREAM_FPS = 40
#: Deepest nesting of arrays and objects a request body may have.
MAX_DEPTH = 32
#: Connections waiting to be accepted (the listen backlog).
BACKLOG = 512
#: Requests handled at once; more wait in the backlog.
MAX_THREADS = 128
#: Seconds a connection may stay silent, mid-request or between requests, before it is closed.
REQUEST_TIMEOUT = 15.0
#: What the page may load and run: its own files only, no inline script, no framing.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

#: GET routes that read a run (refused to other sites' pages, as every POST is).
_RUN_GETS = ("/api/stream", "/api/export.npz", "/api/export.py")
#: A page file's name: short (a longer one is refused with 404 before the file system sees it,
#: which would raise "File name too long"), lowercase, one of the page's kinds.
_STATIC_NAME = re.compile(r"^[a-z0-9_-]{1,64}\.(html|css|js|txt)$")
_TYPES = {
    "html": "text/html; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}


class PlaygroundServer(http.server.ThreadingHTTPServer):
    """An HTTP server holding the playground's runs by id.

    A thread per connection, at most ``MAX_THREADS`` at once (further connections wait in a
    listen backlog of ``BACKLOG``); a connection silent for ``request_timeout`` seconds (a
    half-sent request, an idle keep-alive) is closed.

    Args:
        port: the port on 127.0.0.1; 0 picks a free one.
        request_timeout: seconds a connection may stay silent before it is closed.
    """

    daemon_threads = True
    request_queue_size = BACKLOG

    def __init__(self, port: int = 0, request_timeout: float = REQUEST_TIMEOUT) -> None:
        self.request_timeout = request_timeout
        self._slots = threading.BoundedSemaphore(MAX_THREADS)
        super().__init__(("127.0.0.1", port), _Handler)
        self.runs: collections.OrderedDict[str, Session] = collections.OrderedDict()
        self.runs_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to a thread once one of the ``MAX_THREADS`` slots is free
        (until then the accept loop waits, and new connections queue in the backlog)."""
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    @property
    def url(self) -> str:
        """The page's address, ``http://127.0.0.1:<port>/``."""
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def add(self, session: Session) -> str:
        """Keep ``session``; returns its new id."""
        key = uuid.uuid4().hex
        with self.runs_lock:
            self.runs[key] = session
            while len(self.runs) > MAX_SESSIONS:
                self.runs.popitem(last=False)[1].stop(wait=False)
        return key

    def get(self, key: Any) -> Session:
        """The run with id ``key``.

        Raises:
            KeyError: for an unknown or expired id.
        """
        with self.runs_lock:
            if not isinstance(key, str) or key not in self.runs:
                raise KeyError(
                    f"No run with id {key!r} (the server keeps the last {MAX_SESSIONS}); "
                    "reload the page."
                )
            self.runs.move_to_end(key)
            return self.runs[key]


def start(port: int = 0, request_timeout: float = REQUEST_TIMEOUT) -> PlaygroundServer:
    """Start a server in a background thread; stop it with ``shutdown()`` then
    ``server_close()``. The arguments are :class:`PlaygroundServer`'s."""
    server = PlaygroundServer(port, request_timeout)
    threading.Thread(target=server.serve_forever, daemon=True, name="playground").start()
    return server


def options() -> dict[str, Any]:
    """The choices the page's controls offer."""
    return {
        "problems": {name: kind for name, (kind, _, _) in data.PROBLEMS.items()},
        "features": {name: label for name, (label, _) in data.FEATURES.items()},
        "activations": list(ACTIVATIONS),
        "optimizers": list(OPTIMIZERS),
        "losses": list(LOSSES),
        "regularizations": list(REGULARIZATIONS),
        "max_layers": MAX_LAYERS,
        "max_neurons": MAX_NEURONS,
        "defaults": Config().to_dict(),
        "thumbnails": {name: _thumbnail(name) for name in data.PROBLEMS},
    }


def _whole(query: dict[str, str], name: str, default: int | None = None) -> int | None:
    """A whole-number query parameter."""
    if name not in query:
        return default
    try:
        return int(query[name])
    except ValueError:
        raise ValueError(f"{name} must be a whole number; received {query[name]!r}.") from None


def _thumbnail(name: str) -> dict[str, Any]:
    """A few points of a problem, for its button."""
    points, targets = data.make_points(name, 120, 0.0, 0)
    _, half, centre = data.PROBLEMS[name]
    return {
        "points": points.round(2).tolist(),
        "targets": targets.ravel().round(2).tolist(),
        "domain": [centre - half, centre + half],
    }


class _Handler(http.server.BaseHTTPRequestHandler):
    server: PlaygroundServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.timeout = self.server.request_timeout  # a half-sent request cannot hold a thread
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold every response ~40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the command prints the address once

    # Plumbing.

    def _send(self, status: int, body: bytes, content_type: str, extra: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        if self.close_connection:
            self.send_header("Connection", "close")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        try:
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the page went away (reloaded, closed) or stopped reading (time-out)
            self.close_connection = True

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, allow_nan=False).encode()
        self._send(status, body, "application/json")

    def _error(self, status: int, message: str) -> None:
        """An error response, and the connection closed after it: whatever the request sent
        that was not read (its body) must never be parsed as the next request."""
        self.close_connection = True
        self._json(status, {"error": message})

    def _discard_rest(self, limit: int = MAX_BODY, seconds: float = 1.0) -> None:
        """After an answer that closes the connection: read and drop what the client is still
        sending (at most ``limit`` bytes, for at most ``seconds``), never parsing it. A client
        that sends its body after the headers (Python's http.client sends chunks one by one)
        then reads the answer, instead of a reset connection that closing with unread bytes
        would give it."""
        deadline = time.monotonic() + seconds
        try:
            self.connection.shutdown(socket.SHUT_WR)  # the answer is complete: EOF after it
            while limit > 0 and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                dropped = self.rfile.read1(min(limit, 65536))
                if not dropped:
                    return
                limit -= len(dropped)
        except OSError:  # a time-out, or the client closed first: nothing more to do
            return

    def _refusal(self, path: str, state_changing: bool) -> str | None:
        """Why the request is refused before its body is read, or None.

        Every request must name the server by a loopback name in its Host header (no DNS
        rebinding); a request that changes state or reads a run must come from the server's
        own page: its Origin header, or where a browser sent none its Referer, must be
        ``http://<Host>``, and Chromium's Sec-Fetch-Site, where sent, must say same-origin
        (a request typed or sent by a program, with none of these, is let through: a web
        page cannot send one without)."""
        port = self.server.server_address[1]
        host = self.headers.get("Host", "")
        if host not in (f"127.0.0.1:{port}", f"localhost:{port}"):
            return f"Requests must be addressed to 127.0.0.1:{port} or localhost:{port}."
        if not state_changing:
            return None
        own = f"http://{host}"
        origin = self.headers.get("Origin")
        referer = self.headers.get("Referer")
        if origin is not None:
            seen = origin
        elif referer is not None:
            parts = urllib.parse.urlsplit(referer)
            seen = f"{parts.scheme}://{parts.netloc}"
        else:
            seen = None
        fetch_site = self.headers.get("Sec-Fetch-Site")
        if seen is not None and seen != own:
            return f"{path} only answers the Playground's own page ({own}); received {seen!r}."
        if fetch_site not in (None, "same-origin", "none"):
            return (
                f"{path} only answers the Playground's own page ({own}); received a "
                f"request from a {fetch_site} page."
            )
        return None

    def _body(self) -> dict[str, Any]:
        """The request's JSON object: a Content-Length of at most ``MAX_BODY`` (``do_POST``
        has refused chunked bodies) and at most ``MAX_DEPTH`` levels of nesting.

        Raises:
            ValueError: for anything else (the caller answers 400 and closes the connection).
        """
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1:
            raise ValueError(f"The request has {len(lengths)} Content-Length headers; one.")
        text = lengths[0].strip() if lengths else "0"
        if not text.isdigit() or not text.isascii():
            raise ValueError(
                f"Content-Length must be a whole number of bytes, 0 to {MAX_BODY}; "
                f"received {text!r}."
            )
        length = int(text)
        if length > MAX_BODY:
            raise ValueError(f"The request body has {length} bytes; at most {MAX_BODY}.")
        raw = self.rfile.read(length)
        if len(raw) < length:
            raise ValueError(f"The request body ended after {len(raw)} of {length} bytes.")
        # Fewer brackets than MAX_DEPTH cannot nest deeper: the common case skips the scan.
        depth = _depth(raw) if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH else 0
        if depth > MAX_DEPTH:
            raise ValueError(
                f"The request body nests {depth} levels of arrays and objects; at most {MAX_DEPTH}."
            )
        payload = json.loads(raw or b"{}")
        if not isinstance(payload, dict):
            raise ValueError("The request body must be a JSON object.")
        return payload

    # Routes.

    def do_GET(self) -> None:
        if "Transfer-Encoding" in self.headers or self.headers.get("Content-Length", "0") != "0":
            self.close_connection = True  # a body on a GET is never read: nor parsed
        url = urllib.parse.urlsplit(self.path)
        refusal = self._refusal(url.path, url.path in _RUN_GETS)
        if refusal:
            return self._error(403, refusal)
        query = dict(urllib.parse.parse_qsl(url.query))
        try:
            if url.path == "/favicon.ico":
                return self._send(204, b"", "image/x-icon")
            if url.path in ("/", "/index.html"):
                return self._static("index.html")
            if url.path.startswith("/static/"):
                return self._static(url.path.removeprefix("/static/"))
            if url.path == "/api/options":
                return self._json(200, options())
            if url.path == "/api/stream":
                session = self.server.get(query.get("session"))
                return self._stream(session, _whole(query, "since", 0), _whole(query, "version"))
            if url.path == "/api/export.npz":
                body = self.server.get(query.get("session")).export_npz()
                return self._send(
                    200,
                    body,
                    "application/octet-stream",
                    {"Content-Disposition": 'attachment; filename="playground_model.npz"'},
                )
            if url.path == "/api/export.py":
                text = self.server.get(query.get("session")).export_script()
                return self._send(
                    200,
                    text.encode(),
                    "text/x-python; charset=utf-8",
                    {"Content-Disposition": 'attachment; filename="playground_model.py"'},
                )
        except KeyError as error:
            return self._error(404, error.args[0])
        except ValueError as error:
            return self._error(400, str(error))
        except Exception as error:  # a bug: say so, close the connection, keep serving
            traceback.print_exc()
            return self._error(500, f"The server failed: {type(error).__name__}: {error}")
        return self._error(404, f"Nothing at {url.path!r}.")

    def _stream(self, session: Session, since: int, version: int | None) -> None:
        """Server-sent events: a frame whenever the weights changed, at most ``STREAM_FPS``
        per second, while the run plays; then its last frame, and the stream ends."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        while True:
            started = time.monotonic()
            playing = session.playing
            frame = session.frame(since, version)
            since = frame["history"]["from"] + len(frame["history"]["train"])
            if not frame.get("unchanged"):
                version = frame["version"]
                try:
                    self.wfile.write(f"data: {json.dumps(frame, allow_nan=False)}\n\n".encode())
                except OSError:
                    return  # the page closed the stream, or stopped reading it (time-out)
            if not playing:
                return
            time.sleep(max(0.0, 1 / STREAM_FPS - (time.monotonic() - started)))

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        refusal = self._refusal(path, state_changing=True)
        if refusal:
            return self._error(403, refusal)  # the body stays unread: the connection closes
        if "Transfer-Encoding" in self.headers:  # 411 Length Required: the body is never parsed
            self._error(
                411,
                "Chunked request bodies are not accepted: send the body with a Content-Length "
                "header instead (411 Length Required).",
            )
            return self._discard_rest()
        try:
            body = self._body()
            if path == "/api/session":
                session = Session(Config.from_dict(body.get("config", {})))
                if body.get("same_start") is not None:
                    session.start_from(self.server.get(body["same_start"]))
                key = self.server.add(session)
                return self._json(200, {"session": key, **session.describe()})
            session = self.server.get(body.get("session"))
            if path == "/api/frame":
                since, version = body.get("since", 0), body.get("version")
                if not isinstance(since, int) or not (version is None or isinstance(version, int)):
                    raise ValueError(
                        f"since and version must be whole numbers; received {since!r}, {version!r}."
                    )
                return self._json(200, session.frame(since, version))
            if path == "/api/play":
                session.play()
                return self._json(200, {"playing": session.playing, "diverged": session.diverged})
            if path == "/api/pause":
                return self._json(200, session.pause())
            if path == "/api/step":
                epochs = body.get("epochs", 1)
                if not isinstance(epochs, int) or not 1 <= epochs <= MAX_EPOCHS:
                    raise ValueError(
                        f"epochs must be a whole number in [1, {MAX_EPOCHS}]; received {epochs!r}."
                    )
                session.stop()
                return self._json(200, session.train(epochs))
            if path == "/api/inspect":
                return self._json(200, session.inspect())
            if path == "/api/gradcheck":
                return self._json(200, session.check_gradients())
        except KeyError as error:
            return self._error(404, error.args[0])
        except (ValueError, TypeError) as error:
            return self._error(400, str(error))
        except Exception as error:  # a bug: say so, close the connection, keep serving
            traceback.print_exc()
            return self._error(500, f"The server failed: {type(error).__name__}: {error}")
        return self._error(404, f"Nothing at {path!r}.")

    def _static(self, name: str) -> None:
        shown = repr(name) if len(name) <= 80 else f"{name[:60]!r}... ({len(name):,} characters)"
        if not _STATIC_NAME.match(name):
            return self._error(404, f"No page file {shown}.")
        resource = importlib.resources.files(__package__) / "static" / name
        if not resource.is_file():
            return self._error(404, f"No page file {shown}.")
        self._send(200, resource.read_bytes(), _TYPES[name.rsplit(".", 1)[1]])


def _depth(raw: bytes) -> int:
    """How deeply the arrays and objects of the JSON text ``raw`` nest (brackets inside
    strings do not count); one pass, so a hostile body costs its length and no more."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest
