import io
import logging
from collections.abc import Iterator

import pytest

from gateway import logs


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Configure logging into a buffer; put the root logger back as it was afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    filters = {handler: list(handler.filters) for handler in handlers}
    stream = io.StringIO()
    logs.configure(stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for handler, kept in filters.items():
            handler.filters[:] = kept


def test_a_logged_number_comes_out_masked(output: io.StringIO) -> None:
    log = logging.getLogger("gateway.test")

    log.info("hop from +254711000089 on *384*1#")
    log.warning("sms to %s failed", "254722000034")

    text = output.getvalue()
    assert "hop from +2547******89 on *384*1#" in text
    assert "sms to 2547******34 failed" in text
    assert "711000089" not in text and "722000034" not in text


def test_a_number_in_a_traceback_is_masked(output: io.StringIO) -> None:
    try:
        raise ValueError("cannot deliver to +254711000089")
    except ValueError:
        logging.getLogger("gateway.test").exception("send failed")

    text = output.getvalue()
    assert "ValueError: cannot deliver to +2547******89" in text
    assert "711000089" not in text


def test_other_loggers_are_masked_too(output: io.StringIO) -> None:
    logging.getLogger("uvicorn.access").info('"POST /x?to=%2B254711000089 HTTP/1.1" 200')

    assert "%2B2547******89" in output.getvalue()


def test_short_numbers_and_codes_are_left_alone(output: io.StringIO) -> None:
    logging.getLogger("gateway.test").info("ward 12, 12345678 votes, code *384*1#")

    assert "ward 12, 12345678 votes, code *384*1#" in output.getvalue()


def test_configure_twice_keeps_one_handler(output: io.StringIO) -> None:
    logs.configure(stream=output)
    logging.getLogger("gateway.test").info("once")

    assert output.getvalue().count("once") == 1
