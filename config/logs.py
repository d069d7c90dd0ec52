"""Logging set-up from Settings: plain lines for people, one JSON object per line for log shippers."""

from __future__ import annotations

import json
import logging
import sys

from config.settings import Settings


class JSONFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(settings: Settings) -> None:
    """Send logs to stderr at settings.log_level, as text or JSON (WIREDESK_LOG_FORMAT=json)."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for noisy in ("httpx", "httpcore", "trafilatura", "htmldate", "courlan"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def rq_log_level(settings: Settings) -> int:
    """The level rq's loggers get: WARNING, unless wiredesk logs at DEBUG (then DEBUG too) or above WARNING.

    At INFO rq logs three lines a job run (its start, "Successfully completed", "Job OK"), so also for each
    politeness deferral, plus a retry's scheduling and banners as each worker starts and stops: about 40
    lines a URL in `run --once`, where wiredesk's own line per URL (url, state, reason, duration) says what
    matters. rq's warnings and errors still show. rq sets its loggers' levels itself, from the level its
    worker is given (workers/worker.py passes this one).
    """
    level = logging.getLevelName(settings.log_level.upper())
    return level if level == logging.DEBUG else max(level, logging.WARNING)
