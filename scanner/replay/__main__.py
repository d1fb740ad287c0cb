"""``python -m scanner.replay FILE... [--host H] [--port N]``: serve until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence

from scanner.replay.corpus import Corpus
from scanner.replay.server import ReplayServer


def main(argv: Sequence[str] | None = None) -> int:
    """Load the PubMed XML files, serve them, print the base URL, wait for Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m scanner.replay",
        description="Serve PubMed XML files as a local NCBI E-utilities look-alike.")
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="PubMed XML files (plain or gzip), applied in order")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    try:
        corpus = Corpus.from_files(args.files)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"loaded {len(corpus)} records from {len(args.files)} file(s) "
          f"in {time.perf_counter() - started:.1f} s", flush=True)
    with ReplayServer(corpus, host=args.host, port=args.port) as server:
        print(server.base_url, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
