"""Read models of the ledger, derived from its events alone.

* **The current agreement** (``agreements`` and its ``agreement_*`` child tables):
  parties, expectations and acknowledgements, roles, commitments with each side's
  declared value kept apart, fulfilments and who confirmed or contested them,
  indicators with their latest measure, stages, ratifications, consents.
* **The audit history** (view ``agreement_history``): one row per agreement event,
  what was signed and a short summary of what it changed.
* **The organization portfolio** (views ``org_commitments``, ``org_declared_totals``):
  commitments given and received, and each organization's own declared values.

The tables are in ``ledger/migrations/0003_read_models.sql``. Keep them current with a
``ProjectionRunner`` (in the background, or ``catch_up()``), or replace them with
``rebuild(pool)``; both produce the same rows.

    >>> runner = ProjectionRunner(pool)          # doctest: +SKIP
    >>> await runner.catch_up()                  # doctest: +SKIP
    >>> report = await rebuild(pool)             # doctest: +SKIP
"""

from __future__ import annotations

from .replay import RebuildReport, rebuild
from .runner import ProjectionRunner
from .status import ProjectionStatus, status

__all__ = ["ProjectionRunner", "ProjectionStatus", "RebuildReport", "rebuild", "status"]
