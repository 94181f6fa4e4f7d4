"""HireMate's REST API v1 (issue 19): an adapter, like the recruiter pages.

FastAPI, mounted at ``/api/v1`` on the recruiter app's server (``asgi.py``);
every route calls the domain in ``hiremate/`` through a ``Scope`` of the
API key's organisation. ``docs/integrations.md`` ("REST API v1") is the
user's guide; ``docs/architecture.md`` says how it is served.
"""

from api.app import PREFIX, create_app

__all__ = ["PREFIX", "create_app"]
