"""Structured JSON logs that never carry a child's personal data.

Every log line, from our code and from the libraries underneath (faust, aiokafka,
uvicorn), goes through one structlog pipeline. `drop_personal_data` removes fields that
can hold personal data and masks anything that looks like an NHS number, so a careless
`log.info(..., child=child)` still cannot leak a name into the logs.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

PERSONAL_FIELDS = frozenset(
    {
        "given_name",
        "family_name",
        "name",
        "date_of_birth",
        "expected_date",
        "nhs_number",
        "postcode",
        "address",
        "narrative",
        "email",
        "phone",
        "child",
        "children",
        "referrer",
        "submission",
        "body",
    }
)
_NHS_LIKE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return _NHS_LIKE.sub("[redacted-number]", value)
    return value


def drop_personal_data(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in PERSONAL_FIELDS:
            event_dict[key] = "[redacted]"
        else:
            event_dict[key] = _mask(event_dict[key])
    return event_dict


def configure_logging(level: str = "info", process: str = "mash") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        drop_personal_data,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    structlog.contextvars.bind_contextvars(process=process)
    for noisy in ("aiokafka", "faust", "mode", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
