"""The provenance tests' world: three organizations and one agreement, signed for real.

``World`` drives the agreement like the organizations' clients would (``decide`` on the
state it folds itself, sign each resulting event on top of the stream head) and keeps
every envelope in order, so the same history can be posted to a real ledger or turned
into ``Entry`` values for the pure tests.

The story (``phase_one`` then ``phase_two``): the demo's three organizations pool an
accountant, premises and a fundraising campaign; the accountant commitment is amended
(the theatre's declared value lapses, it declares again); three consents to a data
trust; all ratify; four monthly fulfilments (three confirmed, one contested) and one
straddling the year end. Then the centre revokes its first key as compromised and signs
with its second, one more fulfilment, a measure, the festival withdraws its consent and
then from the agreement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec

import ledger.domain as d
from ledger import b64
from ledger.domain import Fact, decide, evolve, initial_state, state_hash
from ledger.domain.state import AgreementState
from ledger.domain.state_hash import expectation_hash
from ledger.domain.values import FairValue, Period, Quantity
from ledger.envelope import Envelope
from ledger.keys import private_key_from_seed, raw_public_key
from ledger.provenance import Entry
from ledger.signer import Signer
from ledger.statement import Statement, event_hash, format_time
from tests.helpers import LEDGER_ID

CA, TF, FR = "centre-arts", "theatre-faubourg", "festival-riverain"
ORGS = (CA, TF, FR)
AID = "rives-2027"
TRUST = "fiducie-culture"
OTHER_TRUST = "autre-fiducie"
TF_CONSENT_EXPIRES = "2030-06-30"
YEAR = Period(start="2027-01-01", end="2027-12-31")


def _seed(n: int) -> bytes:
    return bytes([n]) * 32


class World:
    """Signed history of the scenario, in order; see the module docstring."""

    def __init__(self, ledger_id: str = LEDGER_ID,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.ledger_id = ledger_id
        self.clock = clock or (lambda: datetime.now(UTC))
        self.signers = {o: Signer(o, private_key_from_seed(_seed(i + 40)), ledger_id)
                        for i, o in enumerate(ORGS)}
        self.first_key = {o: s.key_id for o, s in self.signers.items()}
        self.second_key = private_key_from_seed(_seed(60))
        self.heads: dict[str, tuple[int, str | None]] = {}
        self.state: AgreementState = initial_state()
        self.envelopes: list[Envelope] = []
        self.taken = 0

    # --- signing ---------------------------------------------------------------------

    def now(self) -> str:
        return format_time(self.clock())

    def sign(self, signer: Signer, stream: str, type: str, data: dict[str, Any],
             at: str | None = None) -> Envelope:
        version, prev = self.heads.get(stream, (0, None))
        env = signer.event(stream, version + 1, prev, type, data, issued_at=at or self.now())
        self.heads[stream] = (version + 1, event_hash(env.payload_bytes()))
        self.envelopes.append(env)
        return env

    def act(self, org: str, command: type, **fields: Any) -> list[Envelope]:
        at = self.now()
        new = decide(command(**fields, actor=org, at=at), self.state)
        out = []
        for event in new:
            env = self.sign(self.signers[org], f"agreement/{AID}", event.type, event.data, at)
            version = self.heads[f"agreement/{AID}"][0]
            self.state = evolve(self.state, Fact(event.type, event.data, org, at, version))
            out.append(env)
        return out

    def take(self) -> list[Envelope]:
        """The envelopes signed since the last take."""
        out = self.envelopes[self.taken:]
        self.taken = len(self.envelopes)
        return out

    # --- organizations -------------------------------------------------------------------

    def register(self) -> None:
        for org, signer in self.signers.items():
            self.sign(signer, f"org/{org}", "organization.registered",
                      {"name": org.replace("-", " ").title(),
                       "public_key": b64.encode(raw_public_key(signer.key)),
                       "profile": {"region": "Capitale-Nationale"}})

    def add_second_key(self, org: str = CA) -> None:
        self.sign(self.signers[org], f"org/{org}", "organization.key_added",
                  {"public_key": b64.encode(raw_public_key(self.second_key)),
                   "label": "backup"})

    def revoke_first_key(self, org: str = CA, reason: str = "compromised") -> None:
        second = Signer(org, self.second_key, self.ledger_id)
        self.sign(second, f"org/{org}", "organization.key_revoked",
                  {"key_id": self.first_key[org], "reason": reason})
        self.signers[org] = second

    # --- the story -------------------------------------------------------------------

    def phase_one(self) -> None:
        self.register()
        self.add_second_key(CA)
        self.act(CA, d.DraftAgreement, agreement_id=AID, title="Mutualisation des Rives",
                 purpose="Partager une comptable, des locaux et une campagne.",
                 binding=False, invited=[TF, FR])
        self.act(TF, d.JoinAgreement)
        self.act(FR, d.JoinAgreement)
        for org in ORGS:
            self.act(org, d.NamePorteur, person_id="p-" + hashlib.sha256(
                org.encode()).hexdigest()[:12])
        self.act(TF, d.StateExpectation, expectation_id="rapports-mensuels",
                 text="Recevoir un rapport financier mensuel avant le 10.")
        exp = self.state.expectations["rapports-mensuels"]
        for org in (CA, FR):
            self.act(org, d.AcknowledgeExpectation, expectation_id=exp.id,
                     content_hash=expectation_hash(exp))
        self.act(CA, d.ProposeRole, role_id="coordination", name="Coordination",
                 description="Coordonner la campagne commune.", assignee=FR)
        self.act(FR, d.AcceptRole, role_id="coordination", person_id="p-coord-fr")
        self.act(CA, d.OfferCommitment, commitment_id="comptable",
                 category="function_accounting", description="Comptable partagée.",
                 quantity=Quantity("384", "hour"), period=YEAR, receiver=TF,
                 value=Quantity("18000", "CAD"), fair_value=FairValue("21000", "CAD", "market"))
        self.act(TF, d.DeclareReceivedValue, commitment_id="comptable",
                 value=Quantity("24000", "CAD"))
        self.act(CA, d.AmendCommitment, commitment_id="comptable",
                 category="function_accounting", description="Comptable partagée, 400 h.",
                 quantity=Quantity("400", "hour"), period=YEAR, receiver=TF,
                 value=Quantity("18000", "CAD"), fair_value=FairValue("21000", "CAD", "market"))
        self.act(TF, d.DeclareReceivedValue, commitment_id="comptable",
                 value=Quantity("25000", "CAD"))
        self.act(TF, d.OfferCommitment, commitment_id="salle", category="premises",
                 description="Salle de répétition.", quantity=Quantity("100", "evening"),
                 period=YEAR, receiver=FR, value=Quantity("6000", "CAD"))
        self.act(FR, d.OfferCommitment, commitment_id="campagne", category="fundraising",
                 description="Campagne commune.", quantity=Quantity("1", "campaign"),
                 period=YEAR, receiver="collective", value=Quantity("120", "hour"))
        self.act(TF, d.DefineIndicator, indicator_id="heures-comptables",
                 name="Heures de comptabilité reçues", unit="hour",
                 method="Somme des heures confirmées.", target="400")
        self.act(CA, d.GiveConsent, consent_id="c-ca", trust_id=TRUST,
                 purpose="Portrait de la mutualisation", licence="CC BY 4.0",
                 scope=["agreement", "party", "porteur", "role", "expectation", "commitment",
                        "fulfilment", "indicator", "stage", "consent"],
                 expires_on="2099-12-31")
        self.act(TF, d.GiveConsent, consent_id="c-tf", trust_id=TRUST,
                 purpose="Portrait de la mutualisation", licence="CC BY 4.0",
                 scope=["agreement", "commitment"], expires_on=TF_CONSENT_EXPIRES)
        self.act(FR, d.GiveConsent, consent_id="c-fr", trust_id=TRUST,
                 purpose="Portrait de la mutualisation", licence="CC BY-NC 4.0",
                 scope=["agreement", "commitment", "party"], expires_on="2099-12-31")
        for org in ORGS:
            self.act(org, d.RatifyAgreement, terms_version=self.state.terms_version,
                     state_hash=state_hash(self.state))
        months = [("compta-jan", "32", "2027-01-04", "2027-01-29"),
                  ("compta-feb", "30", "2027-02-01", "2027-02-26"),
                  ("compta-mar", "28", "2027-03-01", "2027-03-26"),
                  ("compta-dec", "10", "2027-12-13", "2028-01-07")]
        for fid, hours, start, end in months:
            self.act(CA, d.RecordFulfilment, fulfilment_id=fid, commitment_id="comptable",
                     quantity=Quantity(hours, "hour"), period=Period(start, end),
                     evidence_sha256=hashlib.sha256(fid.encode()).hexdigest())
        for fid in ("compta-jan", "compta-feb", "compta-dec"):
            self.act(TF, d.ConfirmFulfilment, fulfilment_id=fid)
        self.act(TF, d.ContestFulfilment, fulfilment_id="compta-mar",
                 reason="Heures non reçues.")

    def phase_two(self) -> None:
        self.revoke_first_key(CA)
        self.act(CA, d.RecordFulfilment, fulfilment_id="compta-apr", commitment_id="comptable",
                 quantity=Quantity("30", "hour"), period=Period("2027-04-05", "2027-04-30"))
        self.act(TF, d.ConfirmFulfilment, fulfilment_id="compta-apr", comment="Reçu.")
        self.act(TF, d.RecordMeasurement, measurement_id="heures-janvier",
                 indicator_id="heures-comptables", period=Period("2027-01-04", "2027-01-29"),
                 value="32", evidence_sha256=hashlib.sha256(b"releve").hexdigest())
        self.act(FR, d.WithdrawConsent, consent_id="c-fr", reason="Nouvelle politique")
        later = (date.fromisoformat(self.now()[:10]) + timedelta(days=30)).isoformat()
        self.act(FR, d.WithdrawFromAgreement, effective_on=later,
                 reason="Recentrer nos activités.")


def entries_of(envelopes: list[Envelope], *, start: int = 0,
               recorded: Callable[[int, str], str] | None = None) -> list[Entry]:
    """The envelopes as log entries at consecutive positions (recorded_at = issued_at
    unless ``recorded`` says otherwise), without leaf hashes."""
    out = []
    versions: dict[str, int] = {}
    for i, env in enumerate(envelopes):
        st = msgspec.json.decode(env.payload_bytes(), type=Statement)
        versions[st.stream] = st.version
        at = recorded(start + i, st.issued_at) if recorded else st.issued_at
        out.append(Entry(start + i, at, st.stream, st.version,
                         event_hash(env.payload_bytes()), st.type, st.data, st.actor, st.key,
                         st.issued_at))
    return out


def by_stream(entries: list[Entry]) -> dict[str, list[Entry]]:
    out: dict[str, list[Entry]] = {}
    for e in entries:
        out.setdefault(e.stream, []).append(e)
    return out
