"""``docs/international-formats.md`` agrees with the code.

- Every stage of the ``HC1:`` and ``shc:/`` stage tables is a stage of that format, and
  every stage of the format has a row.
- Every code the format's section names (tables and warning paragraphs) is one the
  pipelines can emit (enumerated from the code by :mod:`tests.web.test_verifier_words`).
- Conversely, every reason code a format module raises and every warning it records
  is named in its section.
- The codes the prefix rows name are the ones a real verification gives.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from healthcode.credentials import hcert, shc
from healthcode.credentials.errors import CredentialError
from healthcode.credentials.pipeline import VerifyOptions, verify
from healthcode.credentials.trust import TrustStore
from tests.web.test_verifier_words import DYNAMIC, REASONS, WARNINGS, _calls

DOC = Path(__file__).parents[1] / "docs" / "international-formats.md"
TEXT = DOC.read_text(encoding="utf-8")
SECTIONS = {"hc1": "## `HC1:` stages", "shc": "## `shc:/` stages"}
MODULES = {"hc1": hcert, "shc": shc}
#: A code in backticks: kebab-case with a hyphen, or one of the one-word codes.
ONE_WORD_CODES = {"expired", "revoked", "demo"}
_TOKEN = re.compile(r"`([a-z][a-z0-9-]*)`")


def section(fmt: str) -> str:
    start = TEXT.index(SECTIONS[fmt])
    end = TEXT.find("\n## ", start + 1)
    return TEXT[start : end if end > 0 else None]


def codes_in(text: str) -> set[str]:
    return {t for t in _TOKEN.findall(text) if "-" in t or t in ONE_WORD_CODES}


def table(fmt: str) -> dict[str, str]:
    """Stage → the row's last cell."""
    rows = {}
    for line in section(fmt).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 3:
            rows[cells[0].strip("`").split("`")[0]] = cells[-1]
    return rows


def module_codes(fmt: str) -> tuple[set[str], set[str]]:
    """(reason codes of the error classes the module imports, warnings it records)."""
    module = MODULES[fmt]
    path = Path(module.__file__)
    imported = {
        alias.name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module == "healthcode.credentials.errors"
        for alias in node.names
    }
    reasons = {
        cls.code
        for name in imported
        if isinstance(cls := getattr(module, name, None), type)
        and issubclass(cls, CredentialError)
        and cls is not CredentialError  # the base class, caught, never raised
    }
    warnings: set[str] = set()
    for kind, mod, arg in _calls(path):
        if kind != "warning":
            continue
        if isinstance(arg, ast.Constant):
            warnings.add(arg.value)
        else:
            warnings |= DYNAMIC.get((mod, ast.unparse(arg)), set())
    return reasons, warnings


@pytest.mark.parametrize("fmt", ["hc1", "shc"])
def test_stage_tables_name_exactly_the_stages(fmt):
    assert set(table(fmt)) == set(MODULES[fmt].STAGES)


@pytest.mark.parametrize("fmt", ["hc1", "shc"])
def test_every_documented_code_is_emitted(fmt):
    unknown = sorted(codes_in(section(fmt)) - REASONS - WARNINGS)
    assert not unknown, f"{DOC.name} names codes the code never emits: {unknown}"


@pytest.mark.parametrize("fmt", ["hc1", "shc"])
def test_every_emitted_code_is_documented(fmt):
    reasons, warnings = module_codes(fmt)
    documented = codes_in(section(fmt))
    missing = sorted((reasons | warnings | {"unknown-format", "payload-too-large"}) - documented)
    assert not missing, f"document in the {fmt} section of {DOC.name}: {missing}"


def test_prefix_rows_say_what_a_verification_gives():
    at = datetime(2024, 5, 1, tzinfo=UTC)
    trust = TrustStore()
    for text in ("HC2:6BFOXN*TS0BI$ZD", "6BFOXN*TS0BI$ZD"):
        report = verify(text, trust=trust, at=at)
        assert report.format == "unknown" and report.reasons == ["unknown-format"]
        assert "`unknown-format`" in table("hc1")["prefix"]
    lenient = verify(
        "HC2:6BFOXN*TS0BI$ZD", trust=trust, at=at, options=VerifyOptions(lenient_prefix=True)
    )
    assert lenient.reasons == ["prefix-invalid"]
    assert "`prefix-invalid`" in table("hc1")["prefix"]
    assert "`unknown-format`" in table("shc")["prefix"]
    assert verify("hello", trust=trust, at=at).reasons == ["unknown-format"]


def test_revocation_and_the_validation_clock_are_documented():
    assert "--revocation" in TEXT and "revocation-not-checked" in section("shc")
    revocation = TEXT[TEXT.index("## Revocation") :]
    assert "Fail closed" in revocation and "crlVersion" in revocation
    assert "without an offset\n  is UTC" in TEXT or "without an offset is UTC" in TEXT
