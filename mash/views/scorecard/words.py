"""The scorecard's words and numbers: census source codes in words a committee member would use,
counts and rates as the page prints them ("—" when there is nothing to divide by), and the tiles
at the top of the page with their definitions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple

DASH = "—"

# Children in Need census contact source codes, in words a committee member would use.
SOURCE_NAMES = {
    "1A": "Family member or carer",
    "1B": "Friend or neighbour",
    "1C": "The child themself",
    "1D": "Other individual",
    "2A": "Schools",
    "2B": "Education services",
    "3A": "GP",
    "3B": "Health visitor",
    "3C": "School nurse",
    "3D": "Other primary health",
    "3E": "A&E",
    "3F": "Other health services",
    "4": "Housing",
    "5A": "Council social care",
    "5B": "Other council department",
    "5C": "Another council",
    "5D": "Early help",
    "6": "Police",
    "7": "Courts, probation or prison",
    "8": "Other",
    "9": "Anonymous",
    "10": "Unknown",
}


def source_name(code: str) -> str:
    return f"{SOURCE_NAMES.get(code, 'Source')} ({code})"


def count(n: int) -> str:
    return f"{n:,}"


def percent(rate: float | None) -> str:
    return DASH if rate is None else f"{rate * 100:.1f}%"


def share(part: int, whole: int) -> str:
    return percent(part / whole if whole else None)


def long_date(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def month_label(key: str) -> str:
    return datetime.strptime(key, "%Y-%m").strftime("%b %y")


def largest_first(by_source: dict[str, dict[str, int]]) -> list[tuple[str, dict[str, int]]]:
    """Sources by contacts, largest first; census order on ties (the sort is stable)."""
    return [
        (source_name(code), s) for code, s in sorted(by_source.items(), key=lambda kv: -kv[1]["contacts"])
    ]


class Tile(NamedTuple):
    label: str
    value: str
    detail: str
    definition: str


def tiles(r: dict[str, Any]) -> list[Tile]:
    contacts, referrals = r["contacts"], r["referrals"]
    children, repeat = r["cp_plan_children"], r["cp_plan_children_second_or_subsequent"]
    waiting = r["waiting_past_due_at_end"]
    return [
        Tile(
            "Contacts",
            count(contacts),
            f"About {count(round(contacts / max(1, len(r['by_month']))))} a month",
            "Each child named in a contact counts once: a call about three children is three contacts.",
        ),
        Tile(
            "Referrals",
            count(referrals),
            f"Not counted: {count(r['linked_to_open_case'])} about a child with an open case",
            "Contacts a person decided for children's social care, for a child with no open case.",
        ),
        Tile(
            "Awaiting a decision",
            count(r["awaiting_decision"]),
            f"{count(sum(waiting.values()))} past their due time at the end of the period ("
            + ", ".join(f"{rag} {count(n)}" for rag, n in waiting.items())
            + ")",
            "Contacts nobody has decided yet: counted as contacts and as waiting, never as referrals.",
        ),
        Tile(
            "Conversion rate",
            percent(r["conversion_rate"]),
            f"{count(referrals)} of {count(contacts)} contacts · England: about 22%",
            "Referrals as a share of contacts.",
        ),
        Tile(
            "Re-referral rate",
            percent(r["re_referral_rate"]),
            f"{count(r['re_referrals'])} re-referrals · England: 22.4%",
            "Referrals of a child who was also referred in the 12 months before.",
        ),
        Tile(
            "Contacts ending in no further action",
            count(r["contacts_nfa"]),
            f"{share(r['contacts_nfa'], contacts)} of contacts",
            "Contacts answered with advice or signposting to universal services.",
        ),
        Tile(
            "Referrals ending in no further action",
            count(r["referrals_nfa"]),
            f"{share(r['referrals_nfa'], referrals)} of referrals",
            "Referrals that social care closed with no further action.",
        ),
        Tile(
            "Children starting a child protection plan",
            count(children),
            f"{count(repeat)} ({share(repeat, children)}) second or later · England: about 20%",
            f"{count(r['cp_plans_started'])} plans. Second or later: the child had an earlier plan, "
            "however long ago.",
        ),
        Tile(
            "Decisions within target",
            percent(r["decided_within_target_rate"]),
            f"{count(r['decided_within_target'])} of {count(r['decisions_due'])} due · "
            f"{count(r['undecided_past_due'])} still undecided past due",
            "Contacts a person decided by the due time their urgency (RAG) rating set, of every "
            "contact whose decision was due: one still undecided past its due time is a miss.",
        ),
        Tile(
            "Decisions within 1 working day",
            percent(r["decided_within_1_working_day_rate"]),
            f"{count(r['decided_within_1_working_day'])} of {count(r['decisions_due_1_working_day'])} due",
            "Contacts a person decided (a coordinator or the mid-day meeting) within one working day of "
            "receipt; one still undecided after a working day is a miss.",
        ),
        Tile(
            "Consent basis missing",
            count(r["data_quality"]["consent_basis_missing"]),
            f"{share(r['data_quality']['consent_basis_missing'], contacts)} of contacts",
            "Early help or child-in-need contacts sent with no consent and no reason to go without it: "
            "accepted, and flagged for the partner to put right.",
        ),
    ]
