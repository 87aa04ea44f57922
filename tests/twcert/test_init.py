from __future__ import annotations

import types

import twcert


def test_all_is_exactly_the_public_surface() -> None:
    public = {
        name
        for name, value in vars(twcert).items()
        if not name.startswith("_")
        and not (isinstance(value, types.ModuleType) and name not in twcert.__all__)
    } - {"annotations"}
    assert set(twcert.__all__) - {"__version__"} == public
    assert len(twcert.__all__) == len(set(twcert.__all__))


def test_library_logger_has_only_a_null_handler() -> None:
    import logging

    handlers = logging.getLogger("twcert").handlers
    assert handlers and all(isinstance(h, logging.NullHandler) for h in handlers)
