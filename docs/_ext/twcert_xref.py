"""Resolve cross-references to the standard library and third-party packages to their online docs.

The docs build offline (no intersphinx inventories can be downloaded), yet ``nitpicky`` must stay on
so a broken reference to twcert's own API fails the build. This extension answers Sphinx's
``missing-reference`` event for names outside twcert with a link to the package's published page.
It resolves only names listed here or under a standard-library module it knows; anything else is
left unresolved, so nitpicky still reports it.
"""

from __future__ import annotations

import importlib
from typing import Any, ParamSpec, TypeVar

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util.nodes import make_refnode

PYTHON_DOCS = "https://docs.python.org/3/library/"

# Standard-library modules whose names appear in twcert's signatures: module -> page.
STDLIB_PAGES = {
    "abc": "abc",
    "collections": "collections",
    "collections.abc": "collections.abc",
    "concurrent.futures": "concurrent.futures",
    "contextlib": "contextlib",
    "datetime": "datetime",
    "decimal": "decimal",
    "enum": "enum",
    "hashlib": "hashlib",
    "http": "http",
    "io": "io",
    "ipaddress": "ipaddress",
    "json": "json",
    "logging": "logging",
    "mmap": "mmap",
    "os": "os",
    "pathlib": "pathlib",
    "re": "re",
    "socket": "socket",
    "sqlite3": "sqlite3",
    "threading": "threading",
    "types": "types",
    "typing": "typing",
    "urllib": "urllib",
    "uuid": "uuid",
    "zoneinfo": "zoneinfo",
}

# Module aliases used in annotations (``import datetime as dt``).
ALIASES = {"dt.": "datetime.", "x509.": "cryptography.x509.", "sa.": "sqlalchemy."}

# Bare third-party names as annotations leave them (``from x import Name`` under TYPE_CHECKING).
SHORT_NAMES = {
    "Engine": "sqlalchemy.engine.Engine",
    "Table": "sqlalchemy.schema.Table",
    "MappingProxyType": "types.MappingProxyType",
    "Markup": "markupsafe.Markup",
    "tqdm": "tqdm.tqdm",
}

# Private implementation paths that autodoc reports instead of the public name.
CANONICAL = {
    "cryptography.hazmat.bindings._rust.x509.Certificate": "cryptography.x509.Certificate",
    "cryptography.hazmat.bindings._rust.x509.CertificateRevocationList": (
        "cryptography.x509.CertificateRevocationList"
    ),
    "cryptography.x509.extensions.ReasonFlags": "cryptography.x509.ReasonFlags",
    "cryptography.x509.base.Certificate": "cryptography.x509.Certificate",
    "cryptography.x509.name.Name": "cryptography.x509.Name",
    "sqlalchemy.engine.base.Engine": "sqlalchemy.engine.Engine",
    "sqlalchemy.engine.base.Connection": "sqlalchemy.engine.Connection",
    "sqlalchemy.sql.schema.MetaData": "sqlalchemy.schema.MetaData",
    "sqlalchemy.sql.schema.Table": "sqlalchemy.schema.Table",
    "sqlalchemy.sql.selectable.Select": "sqlalchemy.sql.expression.Select",
    "flask.app.Flask": "flask.Flask",
    "flask.wrappers.Response": "flask.Response",
    "flask.wrappers.Request": "flask.Request",
    "flask.blueprints.Blueprint": "flask.Blueprint",
    "werkzeug.wrappers.response.Response": "werkzeug.wrappers.Response",
    "werkzeug.wrappers.request.Request": "werkzeug.wrappers.Request",
    "django.http.request.HttpRequest": "django.http.HttpRequest",
    "django.http.response.HttpResponse": "django.http.HttpResponse",
    "django.http.response.HttpResponseBase": "django.http.HttpResponse",
    "django.http.response.JsonResponse": "django.http.JsonResponse",
    "django.http.response.FileResponse": "django.http.FileResponse",
    "cryptography.x509.extensions.ExtendedKeyUsage": "cryptography.x509.ExtendedKeyUsage",
    "Flask": "flask.Flask",
    "models.BinaryField": "django.db.models.BinaryField",
    "models.BooleanField": "django.db.models.BooleanField",
    "models.DateTimeField": "django.db.models.DateTimeField",
    "models.PositiveIntegerField": "django.db.models.PositiveIntegerField",
    "_pytest.tmpdir.TempPathFactory": "pytest.TempPathFactory",
    "redis.client.Redis": "redis.Redis",
    "sqlalchemy.Engine": "sqlalchemy.engine.Engine",
    "sqlalchemy.Table": "sqlalchemy.schema.Table",
    "cryptography.x509.extensions.KeyUsage": "cryptography.x509.KeyUsage",
    "cryptography.x509.extensions.ExtensionType": "cryptography.x509.ExtensionType",
    "django.core.checks.messages.CheckMessage": "django.core.checks.CheckMessage",
    "django.contrib.admin.options.ModelAdmin": "django.contrib.admin.ModelAdmin",
    "ImproperlyConfigured": "django.core.exceptions.ImproperlyConfigured",
    "django.db.models.base.Model": "django.db.models.Model",
    "models.CharField": "django.db.models.CharField",
}

CRYPTOGRAPHY = "https://cryptography.io/en/latest/"
SQLALCHEMY = "https://docs.sqlalchemy.org/en/20/"
FLASK = "https://flask.palletsprojects.com/en/stable/api/"
WERKZEUG = "https://werkzeug.palletsprojects.com/en/stable/"
DJANGO = "https://docs.djangoproject.com/en/5.2/"

# Third-party names: canonical name -> page (the anchor is the canonical name itself).
THIRD_PARTY = {
    "cryptography": CRYPTOGRAPHY,
    "cryptography.x509": CRYPTOGRAPHY + "x509/reference/",
    "cryptography.x509.Certificate": CRYPTOGRAPHY + "x509/reference/",
    "cryptography.x509.CertificateRevocationList": CRYPTOGRAPHY + "x509/reference/",
    "cryptography.x509.Name": CRYPTOGRAPHY + "x509/reference/",
    "cryptography.x509.ObjectIdentifier": CRYPTOGRAPHY + "x509/reference/",
    "cryptography.x509.ReasonFlags": CRYPTOGRAPHY + "x509/reference/",
    "cryptography.x509.ExtensionType": CRYPTOGRAPHY + "x509/reference/",
    "cryptography.x509.ocsp.OCSPResponse": CRYPTOGRAPHY + "x509/ocsp/",
    "cryptography.hazmat.primitives.hashes.HashAlgorithm": (
        CRYPTOGRAPHY + "hazmat/primitives/cryptographic-hashes/"
    ),
    "cryptography.hazmat.primitives.asymmetric.rsa.RSAPrivateKey": (
        CRYPTOGRAPHY + "hazmat/primitives/asymmetric/rsa/"
    ),
    "cryptography.hazmat.primitives.asymmetric.rsa.RSAPublicKey": (
        CRYPTOGRAPHY + "hazmat/primitives/asymmetric/rsa/"
    ),
    "cryptography.hazmat.primitives.asymmetric.ec.EllipticCurvePrivateKey": (
        CRYPTOGRAPHY + "hazmat/primitives/asymmetric/ec/"
    ),
    "sqlalchemy.engine.Engine": SQLALCHEMY + "core/connections.html",
    "sqlalchemy.engine.Connection": SQLALCHEMY + "core/connections.html",
    "sqlalchemy.schema.MetaData": SQLALCHEMY + "core/metadata.html",
    "sqlalchemy.schema.Table": SQLALCHEMY + "core/metadata.html",
    "sqlalchemy.sql.expression.Select": SQLALCHEMY + "core/selectable.html",
    "sqlalchemy.exc.SQLAlchemyError": SQLALCHEMY + "core/exceptions.html",
    "flask.Flask": FLASK,
    "flask.Blueprint": FLASK,
    "flask.Request": FLASK,
    "flask.Response": FLASK,
    "werkzeug.wrappers.Request": WERKZEUG + "wrappers/",
    "werkzeug.wrappers.Response": WERKZEUG + "wrappers/",
    "django.http.HttpRequest": DJANGO + "ref/request-response/",
    "django.http.HttpResponse": DJANGO + "ref/request-response/",
    "django.http.JsonResponse": DJANGO + "ref/request-response/",
    "django.http.FileResponse": DJANGO + "ref/request-response/",
    "cryptography.x509.ExtendedKeyUsage": CRYPTOGRAPHY + "x509/reference/",
    "redis.Redis": "https://redis.readthedocs.io/en/stable/connections.html",
    "cryptography.x509.KeyUsage": CRYPTOGRAPHY + "x509/reference/",
    "cryptography.x509.ocsp": CRYPTOGRAPHY + "x509/ocsp/",
    "cryptography.x509.load_der_x509_crl": CRYPTOGRAPHY + "x509/reference/",
    "cryptography.hazmat.primitives.hashes.SHA256": (
        CRYPTOGRAPHY + "hazmat/primitives/cryptographic-hashes/"
    ),
    "cryptography.hazmat.primitives.hashes.SHA384": (
        CRYPTOGRAPHY + "hazmat/primitives/cryptographic-hashes/"
    ),
    "cryptography.hazmat.primitives.hashes.SHA512": (
        CRYPTOGRAPHY + "hazmat/primitives/cryptographic-hashes/"
    ),
    "asn1crypto": "https://github.com/wbond/asn1crypto#readme",
    "asn1crypto.cms.CMSAttributes": "https://github.com/wbond/asn1crypto/blob/master/docs/cms.md",
    "markupsafe.Markup": "https://markupsafe.palletsprojects.com/en/stable/escaping/",
    "tqdm.tqdm": "https://tqdm.github.io/docs/tqdm/",
    "django.core.checks.CheckMessage": DJANGO + "topics/checks/",
    "django.contrib.admin.ModelAdmin": DJANGO + "ref/contrib/admin/",
    "django.contrib.auth.backends.BaseBackend": DJANGO + "ref/contrib/auth/",
    "django.core.exceptions.ImproperlyConfigured": DJANGO + "ref/exceptions/",
    "django.core.exceptions.PermissionDenied": DJANGO + "ref/exceptions/",
    "django.core.exceptions.ObjectDoesNotExist": DJANGO + "ref/exceptions/",
    "django.core.exceptions.MultipleObjectsReturned": DJANGO + "ref/exceptions/",
    "django.db.models.Model": DJANGO + "ref/models/instances/",
    "django.db.models.CharField": DJANGO + "ref/models/fields/",
    "django.db.models.BinaryField": DJANGO + "ref/models/fields/",
    "django.db.models.BooleanField": DJANGO + "ref/models/fields/",
    "django.db.models.DateTimeField": DJANGO + "ref/models/fields/",
    "django.db.models.PositiveIntegerField": DJANGO + "ref/models/fields/",
    "flask.sessions.SessionMixin": FLASK,
    "pytest.TempPathFactory": "https://docs.pytest.org/en/stable/reference/reference.html",
}


def external_url(target: str) -> str | None:
    """The documentation address of a standard-library or listed third-party name, else None."""
    for alias, real in ALIASES.items():
        if target.startswith(alias):
            target = real + target[len(alias) :]
    target = SHORT_NAMES.get(target, target)
    target = CANONICAL.get(target, target)
    if target in THIRD_PARTY:
        page = THIRD_PARTY[target]
        return page if "." not in target else f"{page}#{target}"
    # Longest standard-library module that prefixes the name.
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        if module in STDLIB_PAGES:
            return f"{PYTHON_DOCS}{STDLIB_PAGES[module]}.html#{target}"
    return None


def defining_name(target: str) -> str | None:
    """``twcert.Principal.as_dict`` -> ``twcert.login.Principal.as_dict``: where a re-exported name lives."""
    if target.partition(".")[0] not in ("twcert", "twcert_vacancy"):
        return None
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        obj = getattr(module, parts[cut], None)
        home = getattr(obj, "__module__", None)
        if not isinstance(home, str) or home == module_name:
            return None
        return ".".join([home, getattr(obj, "__qualname__", parts[cut]), *parts[cut + 1 :]])
    return None


def is_type_variable(target: str) -> bool:
    """A ``TypeVar``/``ParamSpec`` of twcert's: it has no page of its own."""
    name = target.lstrip("~")
    module_name, _, attribute = name.rpartition(".")
    if not module_name.startswith("twcert"):
        return attribute.isupper() and len(attribute) == 1  # bare ``P``/``R`` from a signature
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    return isinstance(getattr(module, attribute, None), (TypeVar, ParamSpec))


def is_private(target: str) -> bool:
    """A private name of twcert's (``_Buffer``, ``crl_index._ExtCache``): an implementation detail
    named in a signature, shown as text because private names have no page."""
    last = target.lstrip("~").rpartition(".")[2]
    return last.startswith("_") and not last.startswith("__") and (
        "." not in target or target.lstrip("~").startswith(("twcert.", "twcert_vacancy."))
    )


def unique_suffix_match(env: BuildEnvironment, target: str, refdoc_module: str | None) -> str | None:
    """A short name (``CRLCache``, ``Challenge.tbs``) that names exactly one documented object."""
    objects = env.get_domain("py").objects  # type: ignore[attr-defined]
    matches = [name for name in objects if name.endswith("." + target)]
    if refdoc_module:
        near = [name for name in matches if name.startswith(refdoc_module.rpartition(".")[0] + ".")]
        if len(near) == 1:
            return near[0]
    return matches[0] if len(matches) == 1 else None


def resolve_external(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.reference | None:
    if node.get("refdomain") != "py":
        return None
    documented = env.get_domain("py").objects.get(node["reftarget"])  # type: ignore[attr-defined]
    if documented is not None:
        # Documented under another role (a type alias is data, referenced as a class).
        return make_refnode(
            app.builder, node["refdoc"], documented.docname, documented.node_id, contnode, node["reftarget"]
        )
    home = defining_name(node["reftarget"])
    if home is not None:
        # Re-resolve at the defining module; a miss there is reported as usual.
        domain = env.get_domain("py")
        retry = node.deepcopy()
        retry["reftarget"] = home
        found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], home, retry, contnode)
        return found  # type: ignore[return-value]
    if node["reftarget"].startswith(("'", '"')):
        # A fragment of a quoted annotation (a slots dataclass's field type): text, not a name.
        return contnode  # type: ignore[return-value]
    if is_type_variable(node["reftarget"]) or is_private(node["reftarget"]):
        return contnode  # type: ignore[return-value]
    url = external_url(node["reftarget"])
    if url is None and not node["reftarget"].startswith(("twcert", "twcert_vacancy")):
        full = unique_suffix_match(env, node["reftarget"], node.get("py:module"))
        if full is not None:
            entry = env.get_domain("py").objects[full]  # type: ignore[attr-defined]
            return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, full)
    if url is None:
        return None
    reference = nodes.reference("", "", internal=False, refuri=url, reftitle=node["reftarget"])
    reference.append(contnode)
    return reference


def qualify_from_module(app: Sphinx, doctree: nodes.document) -> None:
    """Give a bare name in a signature or docstring (``Challenge``, ``Challenge.tbs``) the full name
    of the object it denotes in the module it was written in, as Python resolves it. Two documented
    classes can share a short name (``twcert.challenge.Challenge`` and the Django model
    ``Challenge``); Sphinx would otherwise guess between them."""
    for node in doctree.findall(pending_xref):
        if node.get("refdomain") != "py":
            continue
        target = node["reftarget"].lstrip("~")
        module_name = node.get("py:module")
        if not module_name or not module_name.startswith(("twcert", "twcert_vacancy")):
            continue
        head, _, rest = target.partition(".")
        if not head or head in ("twcert", "twcert_vacancy"):
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        obj = getattr(module, head, None)
        class_name = node.get("py:class")
        if obj is None and class_name:
            # A re-exported class documented here: look the name up where the class was written.
            cls = getattr(module, class_name.split(".")[0], None)
            written_in = getattr(cls, "__module__", None)
            if isinstance(written_in, str) and written_in.startswith(("twcert", "twcert_vacancy")):
                obj = getattr(importlib.import_module(written_in), head, None)
        home = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None)
        if not isinstance(home, str) or not isinstance(qualname, str):
            continue
        if not home.startswith(("twcert", "twcert_vacancy")) or "<" in qualname:
            continue
        node["reftarget"] = ".".join(filter(None, [home, qualname, rest]))
        node["refspecific"] = False


def drop_private_bases(app: Sphinx, name: str, obj: object, options: object, bases: list[type]) -> None:
    """Private base classes are implementation details: list only the public ones."""
    bases[:] = [base for base in bases if not base.__name__.startswith("_")]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("missing-reference", resolve_external)
    app.connect("autodoc-process-bases", drop_private_bases)
    app.connect("doctree-read", qualify_from_module)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
