"""``scratchnn playground``: start the local web app (see docs/playground.md)."""

from __future__ import annotations

import argparse
import sys
import webbrowser


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``playground`` subcommand on ``sub``."""
    parser = sub.add_parser(
        "playground",
        help="train small networks live in the browser",
        description="Start the scratchnn Playground on 127.0.0.1 and open it in the browser: "
        "2-D problems trained by scratchnn, every number inspectable. Ctrl-C stops it.",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)"
    )
    parser.add_argument("--no-browser", action="store_true", help="only print the address")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; returns the exit status."""
    from ..playground.server import PlaygroundServer

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in [0, 65535]; received {args.port}.")
    server = PlaygroundServer(args.port)
    print(f"scratchnn playground: {server.url}  (Ctrl-C stops it)", flush=True)
    if not args.no_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("scratchnn playground: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
