"""The `mash` command line: the face that starts the processes and runs the council's tools.

`main` is the group; the commands are in `processes`, `data`, `rules`, `operations` and `privacy`,
by topic, with the helpers they share in `options`. The work behind the longer ones has a module
of its own: `dev` (with `dev_settings`, `embedded` and `lifetime`), `replay`, `report`, `schemas`.
"""
