"""`mash simulate`: synthetic contacts, decisions and outcomes for a council of a given size, for replay.

Everything here is made up, and meant to look it: names are built from nonsense syllables
("Quibix Snibthorpe"), NHS numbers come from the 999 range that is reserved for test data and
never issued to a patient (they still pass the Modulus 11 check), referrers' e-mail addresses
are at `.example` domains and their phone numbers in Ofcom's 01632 960xxx drama range.

The generator is pure: `simulate` draws only from `random.Random(config.seed)` and never
reads the clock, so one seed and one config always give byte-identical lines, in event-time
order (at one instant an outcome comes before a contact and a decision after it, as the
service orders them). The package:

- `config`: what to simulate (`SimulationConfig`);
- `catalogue`: the static data (indicators, sources and their level mixes, hours, names);
- `generator`: the days and the contacts, in event-time order, from
  - `population` (the children and families, and who a contact is about),
  - `partners` (what a partner reports: level, indicators, consent, referrer),
  - `people` (who decides a contact, what, and when),
  - `case_system` (the outcomes that follow the people's decisions);
- `lines`: the line format (docs/figures.md, "Replay files");
- `writer`: a JSONL file, or posting to a running intake.

How the figures in `docs/domain-primer.md` shape the data (national figures for England):

- **Volume.** Referrals run at about 5.4% of all children a year and about 22% of contacts
  convert to a referral, so a council receives about one contact a year for every four of
  its children. `children` is the pool who may come to notice, taken as about a quarter of
  the council's children, so the default is one contact per pool child a year
  (`children / 365` a day): a 5,000-child pool gives ~14 a day, ~5,000 a year.
- **Sources.** Police are the biggest single source, about a quarter of contacts
  (`police_share`); the rest follow the census mix: schools and education ~24%, health ~16%,
  the council's own services ~14% (early help the largest), then legal agencies, individuals,
  housing, anonymous and other. A contact is one child, so the shares are shares of
  children named, not of submissions. Every submission names its CIN source code; the
  agency is one of the five demo agencies: police, school (schools, education services),
  health (3A-3F), and early-help, the council's own account, for everything that reaches
  a MASH through the council (its services, housing, legal agencies, the public).
- **Bursts.** Police domestic-abuse notifications are batched: on some days (Mondays most,
  after the weekend) a run of police submissions naming the children of a household, with
  `domestic_abuse_in_home` or `domestic_abuse_marac`, arrives within a few minutes.
- **When.** Schools, primary health and council services send in working hours on working
  days (England bank holidays from the service's own calendar), schools much less in the
  summer and Christmas holidays; police, A&E and the public send around the clock, police
  mostly in the evening and at night.
- **Levels.** Each source has its own mix of levels of need, and the indicators come from the
  default ruleset's catalogue, chosen to fit the child's age. The service's history rules
  raise a third separate incident in 90 days (never above level 3) and a contact after a
  child protection plan has ended, so the generator screens every contact with the service's
  own `screen`, from what the service knew of the child just before (earlier contacts with
  the level their own indicators gave them, plans, an open case), as the service would: that
  is the recommendation people decide on. About 22% of contacts become referrals, and a
  quarter go to social care, linked contacts included.
- **Decisions.** The service closes a level 1 contact about a child with no history itself
  (`Ruleset.service_decides`): no decision line. Every other contact waits for a person
  (mash.simulate.people): a coordinator decides in working hours at a delay set by the
  recommendation's RAG (red within its 4 clock hours, out of hours too; amber within a
  working day; green within three), `late_share` after the target and `undecided_share`
  never in the run. Most confirm the recommendation, naming its level and RAG; `change_share`
  change it by one level (`raise_share` of them up, where the level allows), and a
  coordinator's lowering of a level 4 is signed off by a manager within the next hour or two.
  `imm_share` of the level 2-3 contacts not linked to an open case are decided at the
  integrated mid-day meeting instead, recorded at 12:30 on the day of the first meeting whose
  agenda could list them, with its outcome, lead agency and consent basis. A contact whose
  decision would come after the run's end is still waiting when it ends, so the timeliness
  figures drift as a real queue does.
- **Repeats and re-referrals.** Some families come to notice more than others (a log-normal
  weight per family), a share of contacts are about children seen in the last 90 days, and
  after a case closes concerns come back for some children within months: this gives repeat
  contacts, contacts linked to open cases and, once a year of history has built up, a
  re-referral rate near the national ~22% (the first year has no earlier referrals to count).
- **Outcomes.** The case system follows the people's decisions, not the screening: a
  referral (a contact a person decided for social care, for a child with no open case at
  that moment) opens a case from the decision's time, which the case system later closes:
  within weeks after an assessment with no further action (~40% of closures), months later
  after child-in-need work. A share of referrals decided at level 4 (or to a strategy
  discussion) lead to a child protection plan (started within weeks, after the conference),
  which ends months later; the case closes after the plan. Plan outcomes carry the case
  system's `plan_id`. Children whose plan ended often come back, and at the next plan count
  as "second or subsequent". Nationally ~20% of children starting a plan had one before,
  however long ago; a run starts with no history, so the share starts at nil and builds up
  (to roughly 10-25% in a two-year run's second year, depending on the seed).
- **Paperwork.** Missing paperwork is accepted and flagged, never refused: now and then a
  partner shares a level 2-3 concern without consent and records no reason, an anonymous
  caller leaves no number, and a few members of the public none either.
- **Children.** Stable fictional identities: ~80% with an NHS number, the rest known by name
  and date of birth; families of one to four children share a family name, and a few
  submissions name two or three siblings. A few contacts are about unborn babies (expected
  date, no NHS number) from midwives, police and early help.
"""

from __future__ import annotations

from mash.simulate.config import SimulationConfig
from mash.simulate.generator import simulate
from mash.simulate.lines import Line
from mash.simulate.writer import PostError, PostResult, post_to_service, write_jsonl

__all__ = [
    "Line",
    "PostError",
    "PostResult",
    "SimulationConfig",
    "post_to_service",
    "simulate",
    "write_jsonl",
]
