"""Tables for the login state when Django's database is the store (``"django"`` in ``TWCERT``).

* :class:`Challenge` — issued login challenges (nonce store); consumed by a conditional UPDATE.
* :class:`PinFailure` — consecutive wrong PINs per card (PIN ledger); incremented with ``F()``.
* :class:`Binding` — first-use bindings of a citizen certificate identity to an account.
* :class:`Person` — the personnel directory (civil servants who may log in with a citizen card).
* :class:`Agency` — the DGPA agency-code file (``twcert_load_orglist`` fills it).

The store logic is in :mod:`twcert.contrib.django.stores`; these are plain rows. Only a hash of
the session id is stored, never the session id itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models  # type: ignore[import-untyped, unused-ignore]

from ...agency.directory import normalize_agency_name
from ...idnumber import normalize

__all__ = ["Agency", "Binding", "Challenge", "Person", "PinFailure"]


class Challenge(models.Model):  # type: ignore[misc, unused-ignore]
    """One issued login challenge (:class:`twcert.challenge.Challenge`)."""

    challenge_id: models.CharField[str, str] = models.CharField("挑戰碼識別", max_length=64, unique=True)
    nonce: models.BinaryField[bytes, bytes | memoryview] = models.BinaryField("亂數", max_length=64)
    session_hash: models.CharField[str, str] = models.CharField("連線雜湊", max_length=64)
    origin: models.CharField[str, str] = models.CharField("網站來源", max_length=512)
    issued_at: models.DateTimeField[dt.datetime, dt.datetime] = models.DateTimeField("簽發時間")
    expires_at: models.DateTimeField[dt.datetime, dt.datetime] = models.DateTimeField(
        "到期時間", db_index=True
    )
    used_at: models.DateTimeField[dt.datetime | None, dt.datetime | None] = models.DateTimeField(
        "使用時間", null=True, blank=True
    )

    class Meta:
        verbose_name = "登入挑戰碼"
        verbose_name_plural = "登入挑戰碼"

    def __str__(self) -> str:
        return str(self.challenge_id)


class PinFailure(models.Model):  # type: ignore[misc, unused-ignore]
    """Consecutive wrong PINs of one card; deleting the row records an unblock."""

    card: models.CharField[str, str] = models.CharField("卡號", max_length=64, unique=True)
    failures: models.PositiveIntegerField[int, int] = models.PositiveIntegerField("連續錯誤次數")
    updated_at: models.DateTimeField[dt.datetime, dt.datetime] = models.DateTimeField("更新時間")

    class Meta:
        verbose_name = "PIN碼錯誤紀錄"
        verbose_name_plural = "PIN碼錯誤紀錄"

    def __str__(self) -> str:
        return f"{self.card}: {self.failures}"


class Binding(models.Model):  # type: ignore[misc, unused-ignore]
    """A citizen certificate identity bound to a personnel account at first use."""

    identity: models.CharField[str, str] = models.CharField("憑證識別", max_length=200, unique=True)
    account: models.CharField[str, str] = models.CharField("帳號", max_length=200, db_index=True)
    bound_at: models.DateTimeField[dt.datetime, dt.datetime] = models.DateTimeField("綁定時間")
    certificate_sha256: models.CharField[str, str] = models.CharField("憑證SHA-256", max_length=64)

    class Meta:
        verbose_name = "憑證綁定"
        verbose_name_plural = "憑證綁定"

    def __str__(self) -> str:
        return f"{self.identity} → {self.account}"


class Person(models.Model):  # type: ignore[misc, unused-ignore]
    """A civil servant in the personnel directory (:class:`twcert.personnel.Person`)."""

    account: models.CharField[str, str] = models.CharField("自訂帳號", max_length=200, unique=True)
    national_id: models.CharField[str, str] = models.CharField("身分證統一編號", max_length=20, unique=True)
    name: models.CharField[str, str] = models.CharField("姓名", max_length=200)
    in_service: models.BooleanField[bool, bool] = models.BooleanField("現職", default=True)
    agency_code: models.CharField[str, str] = models.CharField(
        "機關代碼", max_length=20, blank=True, default=""
    )

    class Meta:
        verbose_name = "人員"
        verbose_name_plural = "人事資料"

    def __str__(self) -> str:
        return str(self.account)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Lookups compare normalized IDs (upper case, no spaces), so store them that way.
        self.national_id = normalize(self.national_id)
        super().save(*args, **kwargs)


class Agency(models.Model):  # type: ignore[misc, unused-ignore]
    """One row of the DGPA agency-code file (:class:`twcert.agency.Agency`)."""

    code: models.CharField[str, str] = models.CharField("機關代碼", max_length=20, unique=True)
    name: models.CharField[str, str] = models.CharField("機關名稱", max_length=200)
    #: The name with 台/臺 folded and spaces removed, for matching certificate names.
    name_key: models.CharField[str, str] = models.CharField(max_length=200, db_index=True, editable=False)
    english_name: models.CharField[str, str] = models.CharField(
        "機關英文名稱", max_length=500, blank=True, default=""
    )
    postal_code: models.CharField[str, str] = models.CharField(
        "郵遞區號", max_length=500, blank=True, default=""
    )
    address: models.CharField[str, str] = models.CharField("機關地址", max_length=500, blank=True, default="")
    phone: models.CharField[str, str] = models.CharField("機關電話", max_length=500, blank=True, default="")
    parent_code: models.CharField[str, str] = models.CharField(
        "主管機關代碼", max_length=500, blank=True, default=""
    )
    parent_name: models.CharField[str, str] = models.CharField(
        "主管機關名稱", max_length=500, blank=True, default=""
    )
    fax: models.CharField[str, str] = models.CharField("傳真", max_length=500, blank=True, default="")
    effective_date: models.CharField[str, str] = models.CharField(
        "機關生效日期", max_length=500, blank=True, default=""
    )
    abolished_date: models.CharField[str, str] = models.CharField(
        "機關裁撤日期", max_length=500, blank=True, default=""
    )
    level: models.CharField[str, str] = models.CharField("機關層級", max_length=500, blank=True, default="")
    abolished_flag: models.CharField[str, str] = models.CharField(
        "裁撤註記", max_length=500, blank=True, default=""
    )
    successor_code: models.CharField[str, str] = models.CharField(
        "新機關代碼", max_length=500, blank=True, default=""
    )
    successor_name: models.CharField[str, str] = models.CharField(
        "新機關名稱", max_length=500, blank=True, default=""
    )

    class Meta:
        verbose_name = "機關"
        verbose_name_plural = "機關代碼"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.code = str(self.code).strip().upper()
        self.name_key = normalize_agency_name(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)
