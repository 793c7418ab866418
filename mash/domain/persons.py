"""One child, one history: which events are about the same child, from the identifiers partners know.

Partners know a child differently: police and health usually by NHS number, schools by name and
date of birth. Every event that names a child (a contact, or an outcome from the case system) is a
*sighting*: its identifiers as keyed hashes (tokens), never the identifiers themselves. A sighting
carrying two identifiers ties them together, so later sightings with either join the same child.

Conflicting identifiers never merge silently. A sighting whose NHS number is already the child of
another date of birth, or whose name and date of birth are already tied to another NHS number, is
*identity to check*: it is a child of its own (screened on its own facts) until a coordinator
decides "same child" or "different child". Coordinators can also link two records as one child,
or split one; each is a recorded `IdentityDecision`.

`resolve` is a pure function of every sighting and decision, walking the sightings in event-time
order, so the children it finds never depend on the order events arrived in. Decisions are facts
about children, not events in their history: each one holds from whenever it was made (the last
about a pair of sightings wins), and the affected contacts are derived again in event time.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from mash.domain.contact import Identifiers
from mash.domain.decisions import Role, SealedText, seal_text
from mash.domain.sealed import Seal


@dataclass(frozen=True)
class Sighting:
    """An event that names a child, by the tokens of its identifiers (mash.domain.identity)."""

    id: str
    at: datetime
    name_dob: str  # family and given names with the date of birth (or the expected date)
    dob: str  # the date of birth (or expected date) alone
    nhs: str | None = None

    def order(self) -> tuple[datetime, str]:
        return (self.at, self.id)


class IdentityAction(StrEnum):
    SAME_CHILD = "same_child"  # an identity to check is the child of `others`
    DIFFERENT_CHILD = "different_child"  # an identity to check is not the child of `others`
    LINK = "link"  # two records are one child
    SPLIT = "split"  # `subjects` are another child than `others`


@dataclass(frozen=True)
class IdentityDecision:
    id: str
    at: datetime
    action: IdentityAction
    subjects: tuple[str, ...]
    others: tuple[str, ...]


class IdentityDecisionEvent(BaseModel):
    """Identity decision v1 on `mash.identities.v1`: a coordinator's "same child", "different
    child", link or split, by contact ids (sightings), with the rationale recorded."""

    model_config = ConfigDict(extra="forbid", title="IdentityDecisionEventV1")

    schema_version: Literal[1] = 1
    decision_id: str
    action: IdentityAction
    subjects: Annotated[list[str], Field(min_length=1, max_length=500)]
    others: Annotated[list[str], Field(min_length=1, max_length=500)]
    decided_at: AwareDatetime
    by: Annotated[str, Field(min_length=1, max_length=100)]
    role: Role
    rationale: SealedText = Field(
        description="why, as the person wrote it: sealed under the data key of the first subject, "
        "`<decision_id>/rationale` bound in (plain text in events written before decisions were sealed)"
    )

    def sealed(self, seal: Seal) -> IdentityDecisionEvent:
        """The event as Kafka holds it: the rationale sealed under the data key of its first
        subject (the contact the decision was made on), the decision id bound in."""
        rationale = seal_text(seal, self.subjects[0], f"{self.decision_id}/rationale", self.rationale)
        return self.model_copy(update={"rationale": rationale})

    def decision(self) -> IdentityDecision:
        return IdentityDecision(
            self.decision_id, self.decided_at, self.action, tuple(self.subjects), tuple(self.others)
        )


def sighting(sighting_id: str, at: datetime, identifiers: Identifiers) -> Sighting:
    return Sighting(sighting_id, at, identifiers.name_dob, identifiers.dob, identifiers.nhs)


Constraint = Literal["same", "different"]


def constraints(decisions: Iterable[IdentityDecision]) -> dict[frozenset[str], Constraint]:
    """For each pair of sightings a person has decided about, the latest decision: the same child,
    or different children."""
    pairs: dict[frozenset[str], Constraint] = {}
    for d in sorted(decisions, key=lambda d: (d.at, d.id)):
        kind: Constraint = (
            "same" if d.action in (IdentityAction.SAME_CHILD, IdentityAction.LINK) else "different"
        )
        for a in d.subjects:
            for b in d.others:
                if a != b:
                    pairs[frozenset((a, b))] = kind
    return pairs


@dataclass(frozen=True)
class Resolution:
    """Which child each sighting is about (a child key), and the sightings still to check."""

    child_of: Mapping[str, str]
    to_check: frozenset[str]
    # For each sighting to check, a sighting of the child whose identifier it conflicts with.
    conflict_with: Mapping[str, str] = field(default_factory=dict)


def child_key_of(first_sighting: str) -> str:
    """A child's key, named after its earliest sighting: pseudonymous, and the same whatever the
    order the sightings arrived in."""
    return "ck-" + hashlib.blake2b(first_sighting.encode(), digest_size=16).hexdigest()


@dataclass
class _Child:
    members: list[str]
    dobs: set[str] = field(default_factory=set)
    nhs: set[str] = field(default_factory=set)


class _Walk:
    """Sightings joined into children in event-time order."""

    def __init__(self, pairs: Mapping[frozenset[str], Constraint]) -> None:
        self.pairs = pairs
        self.partners: dict[str, dict[str, Constraint]] = defaultdict(dict)
        for pair, kind in pairs.items():
            a, b = tuple(pair)
            self.partners[a][b] = kind
            self.partners[b][a] = kind
        self.parent: dict[str, str] = {}
        self.children: dict[str, _Child] = {}  # by root
        self.holder: dict[str, str] = {}  # token -> a member of the child that first held it
        self.to_check: set[str] = set()
        self.conflict_with: dict[str, str] = {}

    def root(self, sighting: str) -> str:
        parent = self.parent
        while parent[sighting] != sighting:
            parent[sighting] = parent[parent[sighting]]
            sighting = parent[sighting]
        return sighting

    def _different(self, s: str, root: str) -> bool:
        said = self.partners.get(s, {})
        return any(said.get(m) == "different" for m in self.children[root].members)

    def _union(self, roots: list[str]) -> str:
        keep = roots[0]
        for other in roots[1:]:
            if other == keep:
                continue
            self.parent[other] = keep
            merged = self.children.pop(other)
            child = self.children[keep]
            child.members.extend(merged.members)
            child.dobs |= merged.dobs
            child.nhs |= merged.nhs
        return keep

    def add(self, s: Sighting) -> None:
        self.parent[s.id] = s.id
        self.children[s.id] = _Child([s.id], {s.dob}, {s.nhs} if s.nhs else set())
        said = self.partners.get(s.id, {})
        forced = {
            self.root(x) for x, kind in said.items() if kind == "same" and x in self.parent and x != s.id
        }
        joins: list[str] = []
        conflict: str | None = None  # a sighting of the child it conflicts with
        for kind, token in (("nhs", s.nhs), ("name_dob", s.name_dob)):
            if token is None or token not in self.holder:
                continue
            root = self.root(self.holder[token])
            if root in forced or root in joins or self._different(s.id, root):
                continue  # already joined, or a person said these are different children
            child = self.children[root]
            if kind == "nhs" and s.dob not in child.dobs:
                conflict = self.holder[token]  # this NHS number is already another date of birth's
            elif kind == "name_dob" and s.nhs is not None and child.nhs and s.nhs not in child.nhs:
                conflict = self.holder[token]  # this name and date of birth are another NHS number's
            else:
                joins.append(root)
        if len(joins) == 2 and self._clash(joins[0], joins[1]):
            conflict = joins[1]
        if conflict is not None:
            # Its effect on history waits for a person: a child of its own, tying nothing, unless a
            # coordinator has already said whose child it is.
            if not forced:
                self.to_check.add(s.id)
                self.conflict_with[s.id] = conflict
            self._union([s.id, *sorted(forced)])
            return
        roots = [s.id, *sorted(forced), *joins]
        root = self._union(sorted(set(roots), key=roots.index))
        for token in (s.nhs, s.name_dob):
            if token is not None:
                self.holder.setdefault(token, root)

    def _clash(self, a: str, b: str) -> bool:
        """Two children a sighting would tie together, which a person said are different children."""
        left, right = self.children[a].members, self.children[b].members
        return any(self.pairs.get(frozenset((x, y))) == "different" for x in left for y in right)

    def resolution(self, order: Mapping[str, tuple[datetime, str]]) -> Resolution:
        child_of: dict[str, str] = {}
        for child in self.children.values():
            key = child_key_of(min(child.members, key=order.__getitem__))
            for member in child.members:
                child_of[member] = key
        return Resolution(child_of, frozenset(self.to_check), dict(self.conflict_with))


def resolve(sightings: Iterable[Sighting], decisions: Iterable[IdentityDecision] = ()) -> Resolution:
    """Every sighting's child, walking them in event-time order (see the module docstring)."""
    ordered = sorted(sightings, key=Sighting.order)
    walk = _Walk(constraints(decisions))
    for s in ordered:
        walk.add(s)
    return walk.resolution({s.id: s.order() for s in ordered})


@dataclass(frozen=True)
class Changes:
    """What a new sighting or decision changed: the sightings now about another child (old key,
    or None for a new sighting; new key), and those whose identity is now, or no longer, to check."""

    moved: dict[str, tuple[str | None, str]]
    to_check: dict[str, bool]
    conflicts: set[str] = field(default_factory=set)  # sightings to check whose conflict is another


class PersonIndex:
    """Every sighting and identity decision, and the children they resolve to, kept current one
    event at a time. An event re-resolves only the sightings it can affect: those sharing an
    identifier with it, or decided about with it, however indirectly; `resolve` over everything
    would give the same (tests/unit/domain/test_persons.py)."""

    def __init__(self) -> None:
        self.sightings: dict[str, Sighting] = {}
        self.decisions: dict[str, IdentityDecision] = {}
        self.by_token: dict[str, set[str]] = defaultdict(set)
        self.decided_with: dict[str, set[str]] = defaultdict(set)  # sighting -> decisions naming it
        self.child_of: dict[str, str] = {}
        self.to_check: set[str] = set()
        self.conflict_with: dict[str, str] = {}

    def load(self, sightings: Iterable[Sighting], decisions: Iterable[IdentityDecision]) -> None:
        """Every sighting and decision at once (a worker taking over the index): one walk, the
        same children as adding them one at a time."""
        for s in sightings:
            self.sightings[s.id] = s
            for token in (s.nhs, s.name_dob):
                if token is not None:
                    self.by_token[token].add(s.id)
        for d in decisions:
            self.decisions[d.id] = d
            for sighting in {*d.subjects, *d.others}:
                self.decided_with[sighting].add(d.id)
        result = resolve(self.sightings.values(), self.decisions.values())
        self.child_of = dict(result.child_of)
        self.to_check = set(result.to_check)
        self.conflict_with = dict(result.conflict_with)

    def add_sighting(self, s: Sighting) -> Changes:
        if s.id in self.sightings:
            return Changes({}, {})
        self.sightings[s.id] = s
        for token in (s.nhs, s.name_dob):
            if token is not None:
                self.by_token[token].add(s.id)
        return self._resolve_around({s.id})

    def add_decision(self, d: IdentityDecision) -> Changes:
        if d.id in self.decisions:
            return Changes({}, {})
        self.decisions[d.id] = d
        named = {*d.subjects, *d.others}
        for sighting in named:
            self.decided_with[sighting].add(d.id)
        return self._resolve_around(named & self.sightings.keys())

    def _closure(self, start: set[str]) -> set[str]:
        seen, todo = set(start), list(start)
        while todo:
            s = self.sightings[todo.pop()]
            linked: set[str] = set()
            for token in (s.nhs, s.name_dob):
                if token is not None:
                    linked |= self.by_token[token]
            for decision in self.decided_with.get(s.id, ()):
                d = self.decisions[decision]
                linked |= {*d.subjects, *d.others} & self.sightings.keys()
            for other in linked - seen:
                seen.add(other)
                todo.append(other)
        return seen

    def _resolve_around(self, start: set[str]) -> Changes:
        around = self._closure(start)
        decisions = {d for s in around for d in self.decided_with.get(s, ())}
        result = resolve((self.sightings[s] for s in around), (self.decisions[d] for d in decisions))
        moved = {
            s: (self.child_of.get(s), key)
            for s, key in result.child_of.items()
            if self.child_of.get(s) != key
        }
        to_check = {s: s in result.to_check for s in around if (s in result.to_check) != (s in self.to_check)}
        conflicts = {
            s
            for s in around
            if self.conflict_with.get(s) != result.conflict_with.get(s) and s not in to_check
        }
        self.child_of.update(result.child_of)
        self.to_check = (self.to_check - around) | set(result.to_check)
        for s in around:
            self.conflict_with.pop(s, None)
        self.conflict_with.update(result.conflict_with)
        return Changes(moved, to_check, conflicts)

    def component(self, sighting: str) -> set[str]:
        """Every sighting whose child could depend on this one's."""
        return self._closure({sighting}) if sighting in self.sightings else set()
