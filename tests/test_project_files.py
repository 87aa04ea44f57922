"""The files that ship with the distribution agree with its metadata."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_licence_is_the_mit_text_and_ships() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 twcert contributors\n")
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text
    assert PROJECT["project"]["license"] == "MIT"
    assert PROJECT["project"]["license-files"] == ["LICENSE"]  # into the wheel's .dist-info
    assert "LICENSE" in PROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]


def test_metadata_names_the_project_pages_and_frameworks() -> None:
    urls = PROJECT["project"]["urls"]
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog", "Security"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())
    classifiers = set(PROJECT["project"]["classifiers"])
    assert {
        "Framework :: Flask",
        "Framework :: Django",
        "Framework :: Django :: 5.2",
        "Typing :: Typed",
        "Programming Language :: Python :: 3.11",
    } <= classifiers
    # A licence classifier next to a licence expression is an error under PEP 639.
    assert not any(c.startswith("License ::") for c in classifiers)


def test_the_security_policy_supports_the_current_release() -> None:
    version = Version(PROJECT["project"]["version"])
    policy = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    assert re.search(rf"^\| {version.major}\.{version.minor}\.x\s+\| yes\s+\|$", policy, re.MULTILINE), (
        version
    )
    assert "Report a vulnerability" in policy and "Do not open a public issue" in policy


def test_the_changelog_has_the_release_and_what_is_unreleased() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog
    assert f"## [{PROJECT['project']['version']}] — " in changelog


def test_every_dependency_has_a_lower_bound_and_a_pin() -> None:
    pinned = {
        canonicalize_name(line.split("==")[0])
        for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    requirements = [
        Requirement(text)
        for group in [
            PROJECT["project"]["dependencies"],
            *PROJECT["project"]["optional-dependencies"].values(),
        ]
        for text in group
    ]
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name == "twcert":
            continue  # the extras that gather other extras
        assert name in pinned, f"{name} is not pinned in constraints.txt"
        if not name.startswith("types-"):
            assert any(spec.operator == ">=" for spec in requirement.specifier), f"{name} has no lower bound"
    assert "tqdm" in {canonicalize_name(r.name) for r in map(Requirement, PROJECT["project"]["dependencies"])}
