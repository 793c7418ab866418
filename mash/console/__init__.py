"""The coordinator console: live queues, explainable cases, recorded decisions and the mid-day meeting.

`app` builds the web app around one `runtime.ConsoleRuntime`; `routes/` holds the handlers; `forms`
and `imm_forms` turn posted fields into events, which the use cases in mash.services record;
`present`, `case_pages` and `imm_present` say what the pages show; `live` streams updates.
"""
