"""HireMate ingest server: the candidate page, the candidate socket, the live
socket and ``/healthz`` on one port (docs/protocol.md). Start it with
``python -m ingest_server``; embed it with ``IngestServer(...).running()``."""

from ingest_server.server import IngestServer

__all__ = ["IngestServer"]
