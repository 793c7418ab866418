"""Pseudonymous identifiers: how events about one child are joined without naming the child.

Each identifier a partner gives (the NHS number; the names with the date of birth; the date of
birth alone) becomes a keyed hash (HMAC-SHA256) under a secret from configuration, so it is
stable for the same child and meaningless without the secret. The worker finds which contacts
are about one child from them (mash.domain.persons). Contact ids are derived the same way from
the agency and its own reference, so a retried submission gets the same ids.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from mash.domain.contact import Child, Identifiers


def _norm(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(folded.replace("-", " ").split())


def child_identity(child: Child) -> str:
    """A label for the child in a world where each child always gives the same identifiers (the
    simulator's, the tests'): the NHS number when known, otherwise names and date of birth. The
    service itself joins contacts from `identifiers` (mash.domain.persons).
    """
    if child.nhs_number:
        return f"nhs:{child.nhs_number}"
    born = f"dob:{child.date_of_birth}" if not child.unborn else f"edd:{child.expected_date}"
    return f"name:{_norm(child.family_name)}|{_norm(child.given_name)}|{born}"


def identifiers(secret: bytes, child: Child) -> Identifiers:
    """The child's identifiers as keyed hashes: stable for the same child, meaningless without the secret."""
    born = f"dob:{child.date_of_birth}" if not child.unborn else f"edd:{child.expected_date}"
    name = f"name:{_norm(child.family_name)}|{_norm(child.given_name)}|{born}"
    return Identifiers(
        nhs="id-" + keyed(secret, f"nhs:{child.nhs_number}")[:32] if child.nhs_number else None,
        name_dob="id-" + keyed(secret, name)[:32],
        dob="id-" + keyed(secret, born)[:32],
    )


def keyed(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


def contact_id(secret: bytes, agency: str, agency_reference: str, child_index: int) -> str:
    return "ct-" + keyed(secret, f"contact\x1f{agency}\x1f{agency_reference}\x1f{child_index}")[:24]


def reference_key(secret: bytes, agency: str, agency_reference: str) -> str:
    """Identifies one submission (agency + its reference) for idempotency, without the reference itself."""
    return "sub-" + keyed(secret, f"submission\x1f{agency}\x1f{agency_reference}")[:32]
