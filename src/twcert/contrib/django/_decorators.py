"""Apply Django's untyped decorators without losing the decorated function's type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["decorate"]

_F = TypeVar("_F", bound=Callable[..., Any])


def decorate(*decorators: Any) -> Callable[[_F], _F]:
    """``@decorate(a, b)`` is ``@a`` over ``@b``: the first decorator is the outermost."""

    def apply(fn: _F) -> _F:
        wrapped: Any = fn
        for decorator in reversed(decorators):
            wrapped = decorator(wrapped)
        return cast(_F, wrapped)

    return apply
