"""``python -m ingest_server [--host H] [--port P]``: settings from HIREMATE_*.

Makes sure the database answers (starting the embedded store when no
``HIREMATE_MONGODB_URI`` is set), serves until SIGTERM or SIGINT, then
closes every connection (1001), writes what is queued and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from hiremate import db as dbmod
from hiremate.settings import ConfigError, Settings, load_settings
from ingest_server.latency import shorten_gil_switch
from ingest_server.server import IngestServer, freeze_startup_heap

log = logging.getLogger("ingest_server")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ingest_server", description="HireMate ingest server")
    parser.add_argument("--host", help="address to listen on (default HIREMATE_INGEST_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default HIREMATE_INGEST_PORT or 8765)")
    return parser.parse_args(argv)


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    db = await asyncio.to_thread(dbmod.get_db, settings)
    server = IngestServer(settings, db)
    async with server.running():
        freeze_startup_heap()
        shorten_gil_switch()
        log.info(
            "HireMate ingest server listening on %s (candidate links: %s/a/<token>)", server.url, settings.public_url
        )
        await stop.wait()
        log.info("stopping")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        settings = load_settings()
        overrides = {k: v for k, v in (("ingest_host", args.host), ("ingest_port", args.port)) if v is not None}
        settings = settings.model_copy(update=overrides)
        asyncio.run(serve(settings))
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return 2
    except dbmod.StoreUnavailable as exc:
        log.error("%s", exc)
        return 3
    except OSError as exc:
        log.error("cannot serve: %s", exc)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
