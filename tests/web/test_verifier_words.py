"""Every stage and every reason or warning code the ``HC1:`` and ``SMART Health Card``
pipelines can emit has plain words on the verifier page, in Chinese and in English.

The codes are enumerated from the code itself, not from a list kept by hand:

- the ``code`` of every :class:`~healthcode.credentials.errors.CredentialError` subclass
  (what a stage raises);
- the literal codes passed to ``report.warn`` / ``report.fail`` / ``….append`` in the
  pipeline modules, read from their syntax tree;
- the generic ``<stage>-invalid`` that :meth:`VerificationReport.run` records for an
  unexpected decoder error, for every stage of both formats;
- codes computed at run time (``report.warn(deviation)``), which must be listed in
  :data:`DYNAMIC` — a new computed code fails :func:`test_every_emitted_code_is_known`
  until it is listed here.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

from healthcode.credentials import hcert, native, shc
from healthcode.credentials.errors import CredentialError
from healthcode.web.i18n import LOCALES, read_catalog

PACKAGE = Path(hcert.__file__).parent
#: Modules whose report calls can reach an ``HC1:`` / ``shc:/`` report.
SOURCES = [
    PACKAGE / "pipeline.py",
    PACKAGE / "hcert.py",
    PACKAGE / "shc.py",
    PACKAGE / "inputs.py",
    PACKAGE / "report.py",
    PACKAGE.parent / "service.py",
]
#: Codes computed at run time: (module, source text of the argument) → every value it takes.
DYNAMIC: dict[tuple[str, str], set[str]] = {
    # hcert.normalise_date's deviation codes
    ("hcert.py", "deviation"): {"dob-date-time", "dob-placeholder", "dob-invalid"},
    ("shc.py", "f'{name}-milliseconds'"): {"nbf-milliseconds", "exp-milliseconds"},
    # shc.verify_file: the warnings texts_from_file returned (literal appends, below)
    ("shc.py", "code"): set(),
    # report.run's fallback, expanded over the stages below
    ("report.py", "f\"{stage.replace('_', '-')}-invalid\""): set(),
    ("report.py", "code"): set(),
    ("report.py", "exc.code"): set(),
    # CredentialError codes (every subclass is enumerated)
    ("shc.py", "exc.code"): set(),
    # scanned.error is a CredentialError code
    ("service.py", "scanned.error or 'picture-unreadable'"): {"picture-unreadable"},
}
FORMATS = {"hc1": hcert, "shc": shc}


def _calls(path: Path) -> list[tuple[str, str, ast.expr]]:
    """(kind, module, argument) of every report call in ``path``: kind ``reason``/``warning``."""
    out: list[tuple[str, str, ast.expr]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, args = node.func.attr, node.args
        owner = ast.unparse(node.func.value)
        if name == "warn" and args:
            out.append(("warning", path.name, args[0]))
        elif name == "fail" and len(args) == 2:
            stage = args[0].value if isinstance(args[0], ast.Constant) else None
            kind = "warning" if stage in hcert.SOFT_STAGES else "reason"
            out.append((kind, path.name, args[1]))
        elif name == "append" and owner.endswith(("reasons", "warnings")) and args:
            out.append(("reason" if owner.endswith("reasons") else "warning", path.name, args[0]))
    return out


def _error_codes() -> set[str]:
    for info in pkgutil.iter_modules([str(PACKAGE)]):
        importlib.import_module(f"healthcode.credentials.{info.name}")
    seen, todo = set(), [CredentialError]
    while todo:
        cls = todo.pop()
        seen.add(cls.code)
        todo.extend(cls.__subclasses__())
    return seen


def emitted() -> tuple[set[str], set[str], list[str]]:
    """(reason codes, warning codes, computed arguments not listed in DYNAMIC)."""
    reasons, warnings, unknown = set(_error_codes()), set(), []
    for path in SOURCES:
        for kind, module, arg in _calls(path):
            target = reasons if kind == "reason" else warnings
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                target.add(arg.value)
            elif isinstance(arg, ast.Attribute) and arg.attr == "code":
                pass  # a CredentialError's code: enumerated above
            elif (module, ast.unparse(arg)) in DYNAMIC:
                target |= DYNAMIC[(module, ast.unparse(arg))]
            else:
                unknown.append(f"{module}: {ast.unparse(arg)}")
    for mod in FORMATS.values():
        for stage in mod.STAGES:
            code = f"{stage.replace('_', '-')}-invalid"
            (warnings if stage in getattr(mod, "SOFT_STAGES", ()) else reasons).add(code)
    reasons.add("schema-deviation")  # also a reason code of the class (hard elsewhere)
    return reasons, warnings, unknown


REASONS, WARNINGS, UNKNOWN = emitted()
CATALOGS = {loc: read_catalog(loc) for loc in LOCALES}


def words(locale: str, key: str) -> str | None:
    msg = CATALOGS[locale].get(key)
    return str(msg.string) if msg is not None and msg.string and not msg.fuzzy else None


def test_every_emitted_code_is_known():
    assert not UNKNOWN, f"list the values of these computed codes in DYNAMIC: {UNKNOWN}"
    # the enumeration reaches what the pipelines really say
    assert {"expired", "unknown-kid", "unknown-issuer", "rule-failed", "card-invalid"} <= REASONS
    assert {
        "schema-unavailable",
        "schema-deviation",
        "revocation-not-checked",
        "demo",
        "no-applicable-rules",
        "nbf-milliseconds",
        "file-extension-unexpected",
        "dob-placeholder",
    } <= WARNINGS


@pytest.mark.parametrize("locale", LOCALES)
def test_every_reason_has_plain_words(locale):
    # the generic words never need a value the report may lack
    missing = sorted(c for c in REASONS if words(locale, f"reason.{c}") is None)
    assert not missing, (locale, missing)
    placeholders = sorted(c for c in REASONS if "{" in (words(locale, f"reason.{c}") or ""))
    assert not placeholders, (locale, placeholders)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_warning_has_plain_words(locale):
    missing = sorted(c for c in WARNINGS if words(locale, f"warning.{c}") is None)
    assert not missing, (locale, missing)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_stage_has_a_name(locale):
    stages = set(hcert.STAGES) | set(shc.STAGES) | set(native.STAGES)
    missing = sorted(s for s in stages if words(locale, f"stage.{s}") is None)
    assert not missing, (locale, missing)


@pytest.mark.parametrize("locale", LOCALES)
def test_format_specific_words_exist_in_both_languages(locale):
    other = "en" if locale == "zh_CN" else "zh_CN"
    for msg in CATALOGS[other]:
        if isinstance(msg.id, str) and re.match(
            r"^(reason|warning|stage)\.(native|hc1|shc)\.", msg.id
        ):
            assert words(locale, msg.id), (locale, msg.id)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("fmt", ["hc1", "shc"])
def test_certificates_never_get_the_advice_for_our_short_lived_codes(locale, fmt):
    refresh = words(locale, "reason.native.expired")
    assert refresh and words(locale, "reason.expired") != refresh
    for code in ("expired", "not-yet-valid"):
        specific = words(locale, f"reason.{fmt}.{code}")
        assert specific and "{date}" in specific, (fmt, code)
        assert specific != words(locale, f"reason.native.{code}")
    clock = words(locale, f"reason.{fmt}.not-yet-valid") or ""
    assert ("clock" in clock) if locale == "en" else ("时钟" in clock or "时间" in clock)
    assert "{date}" in (words(locale, "reason.hc1.signer-certificate-expired") or "")


def test_format_specific_stage_names_are_stages_of_that_format():
    stages = {"native": native.STAGES, **{f: m.STAGES for f, m in FORMATS.items()}}
    for msg in CATALOGS["en"]:
        m = re.match(r"^stage\.(native|hc1|shc)\.(.+)$", str(msg.id))
        if m:
            assert m.group(2) in stages[m.group(1)], msg.id


def _page_words(locale: str, fmt: str, group: str, code: str) -> str:
    """What the page shows for a code of a format: its format's words first (as verifier.js)."""
    return words(locale, f"{group}.{fmt}.{code}") or words(locale, f"{group}.{code}") or ""


@pytest.mark.parametrize("fmt", ["hc1", "shc"])
def test_certificate_issuers_are_签发机构_our_code_issuers_发码机构(fmt):
    """In Chinese a certificate's issuer is 签发机构; 发码机构 is only our health-code issuers."""
    from tests.test_docs_international import module_codes

    module = FORMATS[fmt]
    reasons, warnings = module_codes(fmt)
    reasons |= {f"{stage.replace('_', '-')}-invalid" for stage in module.STAGES}
    warnings |= {"foreign-trust-unavailable"}
    texts = {f"reason {c}": _page_words("zh_CN", fmt, "reason", c) for c in reasons}
    texts |= {f"warning {c}": _page_words("zh_CN", fmt, "warning", c) for c in warnings}
    texts |= {f"stage {s}": _page_words("zh_CN", fmt, "stage", s) for s in module.STAGES}
    wrong = sorted(k for k, text in texts.items() if "发码机构" in text or "签发方" in text)
    assert not wrong, wrong
    assert any("签发机构" in text for text in texts.values())
    # our own codes keep their 发码机构
    assert "发码机构" in _page_words("zh_CN", "native", "reason", "unknown-kid")
    assert "发码机构" in _page_words("zh_CN", "native", "stage", "signer")
