"""Provenance: who asserted what, when, with which key, and how it is anchored in the log.

Pure functions (no I/O, no clock) that a data trust's or an auditor's questions
(docs/DOMAIN.md §3, docs/PROVENANCE.md) are answered with:

* ``records``: log entries (``Entry``), key histories folded from ``org/<id>`` streams,
  the latest checkpoint;
* ``evidence``: one event as an answer lists it (key validity, times, position, event
  hash, inclusion proof against the latest signed checkpoint);
* ``walk``: an agreement's entries folded with the domain, step by step;
* ``answers``: the JSON answers (agreement, commitment, expectation, role, indicator,
  organization, search);
* ``consent``: which organizations' data a data trust may receive;
* ``build`` / ``provdoc``: the W3C PROV document and its PROV-JSON and PROV-N forms;
* ``order``: the reference and ordering check the ``prov`` tooling does not make.
"""

from __future__ import annotations

from .answers import (
    agreement_answer,
    commitment_answer,
    everything,
    expectation_answer,
    indicator_answer,
    membership,
    organization_answer,
    role_answer,
    search_answer,
)
from .build import build_prov, type_qname
from .consent import ConsentView, Coverage, coverage
from .evidence import NOT_CHECKPOINTED, Evidence, checkpoint_json, event_record, proof_positions
from .order import check_order
from .provdoc import ProvDoc, dumps_json, to_prov_json, to_provn
from .records import (
    CheckpointInfo,
    Entry,
    KeyValidity,
    OrgKeys,
    apply_org_entry,
    key_verdict,
    org_keys,
)
from .times import Window, parse_bound, window
from .walk import Step, Walk, walk

__all__ = [
    "NOT_CHECKPOINTED",
    "CheckpointInfo",
    "ConsentView",
    "Coverage",
    "Entry",
    "Evidence",
    "KeyValidity",
    "OrgKeys",
    "ProvDoc",
    "Step",
    "Walk",
    "Window",
    "agreement_answer",
    "apply_org_entry",
    "build_prov",
    "check_order",
    "checkpoint_json",
    "commitment_answer",
    "coverage",
    "dumps_json",
    "event_record",
    "everything",
    "expectation_answer",
    "indicator_answer",
    "key_verdict",
    "membership",
    "org_keys",
    "organization_answer",
    "parse_bound",
    "proof_positions",
    "role_answer",
    "search_answer",
    "to_prov_json",
    "to_provn",
    "type_qname",
    "walk",
    "window",
]
