"""The streaming worker: the faust app, its agents and scheduled jobs. The decisions live in mash.domain.

Every access to a private part of faust or mode is in `faust_internals`, so an upgrade of either
is checked in one place.
"""
