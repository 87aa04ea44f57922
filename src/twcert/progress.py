"""Progress display for the command-line tools (``twcert vacancy import``, ``twcert crl sync`` …).

One policy for every command: a bar on standard error while a long step runs, only when standard
error is a terminal and the user did not ask for ``--quiet``; nothing at all otherwise, so logs,
pipes and cron mails stay clean. The bar is cleared when the step ends: the command then prints
its own one-line summary. Drawing is done by tqdm.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["ProgressBar", "progress", "shows_progress"]


def shows_progress(stream: TextIO | None = None, *, quiet: bool = False) -> bool:
    """Whether a bar would be drawn on ``stream`` (default: standard error)."""
    if quiet:
        return False
    target = stream if stream is not None else sys.stderr
    try:
        return bool(target is not None and target.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class ProgressBar:
    """What a command reports to: :meth:`advance` by an amount, or :meth:`reach` a position."""

    def __init__(self, bar: tqdm[NoReturn] | None) -> None:
        self._bar = bar
        self._position = 0

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def total(self, total: int | None) -> None:
        """Set the end (when it is learnt after the start, e.g. from a first page's count)."""
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def advance(self, amount: int = 1) -> None:
        self._position += amount
        if self._bar is not None:
            self._bar.update(amount)
            if self._bar.total is not None and self._position >= self._bar.total:
                self._bar.refresh()  # the end is drawn even inside the redraw interval

    def reach(self, position: int) -> None:
        if position > self._position:
            self.advance(position - self._position)

    def note(self, text: str) -> None:
        """A short status after the bar (e.g. ``12,345 rows``)."""
        if self._bar is not None:
            total = self._bar.total
            # Between redraws a note waits for the next one; at the end there is none, so draw now.
            self._bar.set_postfix_str(text, refresh=total is not None and self._position >= total)


@contextlib.contextmanager
def progress(
    description: str,
    *,
    total: int | None = None,
    unit: str = "it",
    in_bytes: bool = False,
    quiet: bool = False,
    stream: TextIO | None = None,
) -> Iterator[ProgressBar]:
    """A progress bar for one step; a silent one when :func:`shows_progress` says no.

    :param total: the end, if known (bytes of a file, rows of a count).
    :param in_bytes: show ``12.3MB/209MB`` and a byte rate instead of counts.
    """
    target = stream if stream is not None else sys.stderr
    if not shows_progress(target, quiet=quiet):
        yield ProgressBar(None)
        return
    from tqdm import tqdm  # only when drawing: the library's import stays light

    bar: tqdm[NoReturn] = tqdm(
        total=total,
        desc=description,
        unit="B" if in_bytes else unit,
        unit_scale=in_bytes,
        unit_divisor=1024 if in_bytes else 1000,
        file=target,
        leave=False,
        mininterval=0.2,
        dynamic_ncols=True,
    )
    try:
        yield ProgressBar(bar)
    finally:
        bar.close()
