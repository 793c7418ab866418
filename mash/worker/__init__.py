"""The streaming worker: the faust app, its agents and scheduled jobs. The decisions live in mash.domain.

`faust_app` builds the app from the agents (`identities_agent`, `children_agent`, with what both
do around their step in `agent_support`), the jobs (`imm_agent`, `retention_job`), the pages
(`web_pages`) and metrics (`pipeline_metrics`). `batches`, `consumer`, `output` and `delivery`
are how events come in, how output goes out, and what keeps that at-least-once.

Every access to a private part of faust or mode is in `faust_internals`, so an upgrade of either
is checked in one place.
"""
