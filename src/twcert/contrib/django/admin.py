"""Admin pages: bindings (unbind), PIN failure records (record an unblock), personnel, agencies."""

from __future__ import annotations

from typing import Any

from django.contrib import admin  # type: ignore[import-untyped, unused-ignore]

from . import models
from ._decorators import decorate
from .stores import unbind_queryset

__all__ = ["AgencyAdmin", "BindingAdmin", "PersonAdmin", "PinFailureAdmin"]


@admin.register(models.Binding)
class BindingAdmin(admin.ModelAdmin):  # type: ignore[misc, type-arg, unused-ignore]
    list_display = ("account", "identity", "bound_at")
    search_fields = ("account",)
    readonly_fields = ("identity", "account", "bound_at", "certificate_sha256")

    actions = ("unbind_selected",)

    def has_add_permission(self, request: Any) -> bool:
        return False  # bindings are made by a first-use login, never by hand

    @decorate(admin.action(description="解除綁定（持卡人下次登入時重新綁定新卡）"))
    def unbind_selected(self, request: Any, queryset: Any) -> None:
        # Through the binding store, so the removal is audited like `twcert unbind`.
        removed = unbind_queryset(queryset, actor=str(request.user.get_username()))
        self.message_user(request, f"已解除 {removed} 筆憑證綁定。")


@admin.register(models.PinFailure)
class PinFailureAdmin(admin.ModelAdmin):  # type: ignore[misc, type-arg, unused-ignore]
    list_display = ("card", "failures", "updated_at")
    search_fields = ("card",)
    readonly_fields = ("card", "failures", "updated_at")
    actions = ("record_unblock",)

    def has_add_permission(self, request: Any) -> bool:
        return False

    @decorate(admin.action(description="卡片已至發卡機構解鎖（清除錯誤次數）"))
    def record_unblock(self, request: Any, queryset: Any) -> None:
        # The card itself was unblocked at MOICA/GCA; the ledger must accept it again.
        count, _ = queryset.delete()
        self.message_user(request, f"已清除 {count} 張卡片之PIN碼錯誤紀錄。")


@admin.register(models.Person)
class PersonAdmin(admin.ModelAdmin):  # type: ignore[misc, type-arg, unused-ignore]
    list_display = ("account", "name", "in_service", "agency_code")
    list_filter = ("in_service",)
    search_fields = ("account", "agency_code")


@admin.register(models.Agency)
class AgencyAdmin(admin.ModelAdmin):  # type: ignore[misc, type-arg, unused-ignore]
    list_display = ("code", "name", "parent_name", "abolished_date")
    search_fields = ("code", "name")
