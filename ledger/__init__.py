"""A signed, event-sourced, verifiable ledger of pooling agreements between organizations.

The core (this package) holds the byte formats, the signature and chain rules, the
admission rules for a batch of signed events, and the PostgreSQL store. Nothing here
imports the HTTP layer.
"""

__version__ = "0.1.0"
