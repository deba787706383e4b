"""A worker's log says what happened in a line where nothing is lost (a broker or database away)."""

from __future__ import annotations

import logging


def test_a_lost_ack_is_one_warning_line_without_a_traceback(settings_factory, caplog):
    from adapters.tasks import create_celery

    create_celery(settings_factory())
    logger = logging.getLogger("celery.worker.request")
    try:
        raise ConnectionResetError("connection already closed")
    except ConnectionResetError as exc:
        with caplog.at_level(logging.INFO, logger="celery.worker.request"):
            logger.critical("Couldn't ack %r, reason:%r", 13, exc, exc_info=True)
    [record] = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "deliver it again" in record.getMessage()
    assert "Traceback" not in caplog.text
