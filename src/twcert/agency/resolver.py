"""From an agency certificate to a DGPA agency code (機關代碼).

No public table maps GPKI organisation OIDs (SDA 2.16.886.1.100.2.102, under 2.16.886.101)
to DGPA agency codes — they are different registries — so the mapping is configuration:

1. ``oid_map``: organisation OID → agency code;
2. ``serial_map``: certificate subject serialNumber → agency code;
3. ``match_names``: the certificate's agency name (its first OU) against the agency-code file,
   used only when exactly one active agency has that name.

The first strategy that answers wins. Abolished agencies (裁撤) are refused, or mapped to their
successor code (新機關代碼) with ``abolished="successor"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from ..certificate import TaiwanCertificate
from ..errors import AgencyAbolished, AgencyCodeUnknown
from .directory import Agency, AgencyDirectory

__all__ = ["AgencyResolver"]


class AgencyResolver:
    def __init__(
        self,
        directory: AgencyDirectory,
        *,
        oid_map: Mapping[str, str] | None = None,
        serial_map: Mapping[str, str] | None = None,
        match_names: bool = True,
        abolished: Literal["refuse", "successor"] = "refuse",
    ) -> None:
        self.directory = directory
        self.oid_map = dict(oid_map or {})
        self.serial_map = dict(serial_map or {})
        self.match_names = match_names
        self.abolished = abolished

    def code_for(self, cert: TaiwanCertificate) -> str | None:
        """The agency code the certificate stands for, by the configured strategies."""
        if cert.agency_oid and cert.agency_oid in self.oid_map:
            return self.oid_map[cert.agency_oid]
        if cert.subject_serial and cert.subject_serial in self.serial_map:
            return self.serial_map[cert.subject_serial]
        if self.match_names and cert.subject_ous:
            candidates = [a for a in self.directory.find_by_name(cert.subject_ous[0]) if not a.abolished]
            if len(candidates) == 1:
                return candidates[0].code
        return None

    def agency_for(self, cert: TaiwanCertificate) -> Agency:
        """The active agency for the certificate, or the manual's refusal.

        :raises AgencyCodeUnknown: no code could be resolved, or it is not in the file.
        :raises AgencyAbolished: the agency is abolished (and no successor mapping applies).
        """
        code = self.code_for(cert)
        if code is None:
            shown = cert.agency_oid or cert.subject_serial or "?"
            raise AgencyCodeUnknown("no agency code for this certificate", agency_code=shown)
        agency = self.directory.get(code)
        if agency is None:
            raise AgencyCodeUnknown(f"code {code} not in the agency-code file", agency_code=code)
        if agency.abolished:
            if self.abolished == "successor" and agency.successor_code:
                successor = self.directory.get(agency.successor_code)
                if successor is not None and not successor.abolished:
                    return successor
            raise AgencyAbolished(f"{code} abolished {agency.abolished_date}".strip(), agency_code=code)
        return agency
