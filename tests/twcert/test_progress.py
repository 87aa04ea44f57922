from __future__ import annotations

import io

from twcert.progress import progress, shows_progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as a user's stderr does."""

    def isatty(self) -> bool:
        return True


class Closed(io.StringIO):
    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


def test_a_bar_only_on_a_terminal_and_never_when_quiet() -> None:
    assert shows_progress(Terminal())
    assert not shows_progress(Terminal(), quiet=True)
    assert not shows_progress(io.StringIO())  # a pipe, a file, a cron mail
    assert not shows_progress(Closed())


def test_the_bar_shows_bytes_rows_and_the_end() -> None:
    terminal = Terminal()
    with progress("importing feed.xml", total=4 << 20, in_bytes=True, stream=terminal) as bar:
        assert bar.shown
        bar.reach(1 << 20)
        bar.reach(1 << 19)  # never backwards
        bar.note("12,345 rows")
        bar.reach(4 << 20)
    shown = terminal.getvalue()
    assert "importing feed.xml" in shown
    assert "4.00M/4.00M" in shown and "12,345 rows" in shown


def test_a_total_learnt_later() -> None:
    terminal = Terminal()
    with progress("reading vacancies", unit=" vacancies", stream=terminal) as bar:
        bar.total(1200)
        bar.advance(500)
        bar.advance(700)
    assert "1200/1200" in terminal.getvalue()


def test_silent_where_no_bar_is_drawn() -> None:
    for stream, quiet in ((io.StringIO(), False), (Terminal(), True)):
        with progress("importing", total=10, stream=stream, quiet=quiet) as bar:
            assert not bar.shown
            bar.advance(5)
            bar.total(20)
            bar.note("x")
        assert stream.getvalue() == ""
