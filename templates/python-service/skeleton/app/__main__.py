"""Entry point: `python -m app`. Reads PORT, BUCKET_NAME, APP_VERSION and drains on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.request

from .server import Config, State, create_server


def log(level: str, msg: str, **fields: object) -> None:
    print(json.dumps({"level": level, "msg": msg, **fields}), flush=True)


def port_from_env() -> int:
    raw = os.environ.get("PORT") or "${{ values.port }}"
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        print(f"PORT must be a TCP port number, got {raw!r}", file=sys.stderr)
        sys.exit(2)
    return port


def healthcheck(port: int) -> int:
    """Exit status for Docker HEALTHCHECK: 0 when /healthz answers 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as res:
            return 0 if res.status == 200 else 1
    except OSError:
        return 1


def main() -> int:
    port = port_from_env()
    if "--healthcheck" in sys.argv[1:]:
        return healthcheck(port)

    state = State()
    config = Config(
        service_name=os.environ.get("SERVICE_NAME") or "${{ values.name }}",
        version=os.environ.get("APP_VERSION") or "dev",
        bucket_name=os.environ.get("BUCKET_NAME") or None,
    )
    server = create_server(config, state, port=port)

    def on_signal(signum: int, _frame: object) -> None:
        # Kubernetes keeps routing for a moment after SIGTERM: fail readiness, drain, then stop.
        log("info", "shutting down", signal=signal.Signals(signum).name)
        state.mark_not_ready()

        def stop() -> None:
            time.sleep(int(os.environ.get("SHUTDOWN_DRAIN_MS") or "5000") / 1000)
            server.shutdown()

        threading.Thread(target=stop, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log("info", "listening", port=port)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
