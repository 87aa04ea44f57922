from __future__ import annotations

import inspect
import re

import twcert_vacancy
from twcert.errors import TwcertError, catalogue
from twcert_vacancy import errors

CJK = re.compile(r"[\u4e00-\u9fff]")


def _classes() -> list[type[errors.VacancyError]]:
    return [
        cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, errors.VacancyError)
    ]


def test_every_vacancy_error_is_catalogued_with_both_languages() -> None:
    classes = _classes()
    assert len(classes) == len(errors.__all__) == 38
    codes = catalogue()
    for cls in classes:
        assert issubclass(cls, TwcertError)
        assert re.fullmatch(r"VACANCY_[A-Z0-9_]+", cls.code), cls
        assert codes[cls.code] is cls
        assert CJK.search(cls.message_zh) and cls.message_en and not CJK.search(cls.message_en), cls


def test_field_errors_name_the_field_in_both_languages() -> None:
    for cls in _classes():
        if issubclass(cls, errors.VacancyFieldError):
            error = cls("detail", field="職稱", field_en="title")
            assert "「職稱」" in error.message, cls
            assert "title" in error.message_english, cls


def test_public_api_is_exact() -> None:
    exported = set(twcert_vacancy.__all__)
    assert len(exported) == len(twcert_vacancy.__all__)
    public = {name for name in vars(twcert_vacancy) if not name.startswith("_")}
    submodules = {
        "audit",
        "changes",
        "cli",
        "feed",
        "feedimport",
        "holidays",
        "model",
        "publish",
        "regions",
        "registration",
        "repository",
        "rocdate",
        "rules",
        "sqlstore",
        "annotations",
    }
    lazy = {"SqlVacancyRepository"}  # imported on first use (it needs SQLAlchemy)
    assert (public - submodules) | lazy == exported
    assert exported <= set(dir(twcert_vacancy))
    for name in exported:
        assert getattr(twcert_vacancy, name) is not None
