"""Possible matches: another child's contact whose child looks like this one, though no identifier ties them.

The worker joins contacts into one child only on exact identifiers (the NHS number; the names
with the date of birth: mash.domain.persons). A typing mistake or a short form keeps one child in
two records. The case page lists the contacts of other children that look like the same child,
for a coordinator to link by hand: nothing here is ever merged automatically.

Pure (no view, no HTTP): the view passes the details of the contacts it has opened. The rules,
each named by a test (tests/unit/console/test_matches.py):

- a date of birth must be related: the same, the day and month swapped, or two digits swapped;
- with the same date of birth, both names must be the same or similar (a spelling variant,
  "Jon"/"John", "Smyth"/"Smith"), or the given name a short form of the other ("Sam"/"Samuel");
- with a transposed date of birth, both names must be the same or similar;
- the same postcode adds to the score, and never makes a match on its own;
- a contact that an exact identifier already ties (the same names and date of birth, or the same
  NHS number, as keyed hashes) is not a *possible* match: it is the same child, or it was kept apart
  on purpose (an identity to check, or a person's decision).

Spelling is judged by Jaro-Winkler similarity (rapidfuzz) and by sound (jellyfish's metaphone).
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import jellyfish
from rapidfuzz.distance import Hamming, JaroWinkler

from mash.domain.contact import ContactEvent

SHOWN = 5
# Names that sound alike (the same metaphone) and are spelt alike to this degree are one name spelt
# two ways: "Jon"/"John" 0.93, "Smyth"/"Smith" 0.89, "Katie"/"Katy" 0.85; "Lily"/"Lola" 0.67 is not.
SOUND_ALIKE_SIMILARITY = 0.8
# Spelt this alike, two names are one name whatever they sound like ("Thompson"/"Thomson" 0.975).
SPELT_ALIKE_SIMILARITY = 0.92
SHORT_FORM_MIN_LETTERS = 3  # "Sam" for "Samuel"; "Al" would be too many names' start
LIKELY = 0.93  # a score at or above this reads "likely"; any other match "possible"

# How much each part weighs in the score (out of 1), and what each relation is worth.
DATE_WEIGHT, GIVEN_WEIGHT, FAMILY_WEIGHT, POSTCODE_BONUS = 0.4, 0.3, 0.3, 0.1
SHORT_FORM_WORTH = 0.7


class DateRelation(StrEnum):
    SAME = "same date of birth"
    DAY_MONTH_SWAPPED = "date of birth with the day and month swapped"
    DIGITS_SWAPPED = "date of birth with two digits swapped"


class NameRelation(StrEnum):
    SAME = "same"
    SIMILAR = "similar"
    SHORT_FORM = "short form"


DATE_WORTH = {DateRelation.SAME: 1.0, DateRelation.DAY_MONTH_SWAPPED: 0.85, DateRelation.DIGITS_SWAPPED: 0.8}


@dataclass(frozen=True)
class Person:
    """What matching reads of one contact's child (a child already born: an expected date is not a
    date of birth), with the keyed identifiers the worker joined it by."""

    contact_id: str
    given: str
    family: str
    born: date
    postcode: str | None = None
    name_dob: str | None = None  # keyed hashes (mash.domain.identity): equal means tied already
    nhs: str | None = None

    @classmethod
    def of(cls, contact: ContactEvent) -> Person | None:
        child = contact.child
        if child.unborn or child.date_of_birth is None:
            return None
        return cls(
            contact_id=contact.contact_id,
            given=child.given_name,
            family=child.family_name,
            born=child.date_of_birth,
            postcode=child.postcode,
            name_dob=contact.identifiers.name_dob,
            nhs=contact.identifiers.nhs,
        )


@dataclass(frozen=True)
class Match:
    person: Person
    score: float  # up to 1, and 1.1 with the same postcode
    reasons: tuple[str, ...]  # in words, the date of birth first

    @property
    def contact_id(self) -> str:
        return self.person.contact_id

    @property
    def strength(self) -> str:
        return "likely" if self.score >= LIKELY else "possible"

    @property
    def why(self) -> str:
        return ", ".join(self.reasons)


def letters(name: str) -> str:
    """A name as spelling is compared: lower case, accents and everything but letters left out."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if c.isalpha()).casefold()


def _digits(born: date) -> str:
    return f"{born.day:02d}{born.month:02d}{born.year:04d}"  # DDMMYYYY, as a date is typed


def date_relation(a: date, b: date) -> DateRelation | None:
    if a == b:
        return DateRelation.SAME
    if (a.year, a.month, a.day) == (b.year, b.day, b.month):
        return DateRelation.DAY_MONTH_SWAPPED
    one, other = _digits(a), _digits(b)
    # Two positions differ, and each holds the other's digit: a swap.
    if Hamming.distance(one, other) == 2 and sorted(one) == sorted(other):
        return DateRelation.DIGITS_SWAPPED
    return None


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def related_dates(born: date) -> set[date]:
    """Every date a date of birth could have been mistyped as (itself included): what the index of
    dates of birth is looked up by, so a page never compares names with every child's."""
    found = {born, _date(born.year, born.day, born.month)}
    digits = _digits(born)
    for i, j in itertools.combinations(range(len(digits)), 2):
        if digits[i] != digits[j]:
            swapped = list(digits)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            text = "".join(swapped)
            found.add(_date(int(text[4:]), int(text[2:4]), int(text[:2])))
    return {d for d in found if d is not None}


def _similar(a: str, b: str) -> float | None:
    """How alike two different spellings are (0 to 1), or None if they are two names."""
    similarity = JaroWinkler.similarity(a, b)
    if similarity >= SPELT_ALIKE_SIMILARITY:
        return similarity
    if similarity >= SOUND_ALIKE_SIMILARITY and jellyfish.metaphone(a) == jellyfish.metaphone(b):
        return similarity
    return None


def name_relation(a: str, b: str, short_forms: bool = False) -> tuple[NameRelation, float] | None:
    """The same name, a spelling variant of it, or (for given names) a short form, with its worth."""
    one, other = letters(a), letters(b)
    if not one or not other:
        return None
    if one == other:
        return NameRelation.SAME, 1.0
    similarity = _similar(one, other)
    if similarity is not None:
        return NameRelation.SIMILAR, similarity
    short, long = sorted((one, other), key=len)
    if short_forms and len(short) >= SHORT_FORM_MIN_LETTERS and long.startswith(short):
        return NameRelation.SHORT_FORM, SHORT_FORM_WORTH
    return None


def _postcode(value: str | None) -> str | None:
    return "".join(value.split()).upper() if value else None


def tied(a: Person, b: Person) -> bool:
    """An exact identifier already ties the two: the worker decides about them, not a hint."""
    return (a.name_dob is not None and a.name_dob == b.name_dob) or (a.nhs is not None and a.nhs == b.nhs)


def _name_words(relation: NameRelation, part: str) -> str:
    if relation is NameRelation.SHORT_FORM:
        return f"{part} name a short form"
    return f"{relation.value} {part} name"


def compare(subject: Person, other: Person) -> Match | None:
    """`other` as a possible match for `subject`, or None."""
    if tied(subject, other):
        return None
    when = date_relation(subject.born, other.born)
    if when is None:
        return None
    given = name_relation(subject.given, other.given, short_forms=when is DateRelation.SAME)
    family = name_relation(subject.family, other.family)
    if given is None or family is None:
        return None
    score = DATE_WEIGHT * DATE_WORTH[when] + GIVEN_WEIGHT * given[1] + FAMILY_WEIGHT * family[1]
    reasons = [when.value, _name_words(given[0], "given"), _name_words(family[0], "family")]
    here = _postcode(subject.postcode)
    if here is not None and here == _postcode(other.postcode):
        score += POSTCODE_BONUS
        reasons.append("same postcode")
    return Match(person=other, score=round(score, 3), reasons=tuple(reasons))


def best(subject: Person, candidates: Iterable[Person]) -> list[Match]:
    """The candidates that match, best first (then by contact id, for a fixed order)."""
    found = [m for c in candidates if c.contact_id != subject.contact_id and (m := compare(subject, c))]
    return sorted(found, key=lambda m: (-m.score, m.contact_id))
