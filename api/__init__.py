"""The HTTP API of the mutualisation ledger (Litestar).

    from ledger.api import create_app
    app = create_app(settings, dsn=...)   # the lifespan opens and closes the ledger
"""

from .app import ApiConfig, create_app

__all__ = ["ApiConfig", "create_app"]
