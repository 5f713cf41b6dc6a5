"""Message catalogues: complete, consistent, and covering every stable code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract
from jinja2.ext import babel_extract

import healthcode.credentials.errors as credential_errors
import healthcode.errors as core_errors
import healthcode.holders.otp as otp
import healthcode.web.errors as web_errors
from healthcode.errors import HealthCodeError
from healthcode.web.i18n import LOCALES, TEMPLATES_DIR, I18n, localtime, negotiate, read_catalog

STATIC_JS = Path(TEMPLATES_DIR).parent / "static" / "js"


@pytest.fixture(scope="module")
def i18n() -> I18n:
    return I18n.load()


def template_ids() -> set[str | tuple[str, ...]]:
    ids: set[str | tuple[str, ...]] = set()
    for path in sorted(TEMPLATES_DIR.glob("*.html")):
        with path.open("rb") as f:
            for _line, msgid, _comments, _ctx in extract(
                babel_extract, f, options={"extensions": "jinja2.ext.i18n"}
            ):
                ids.add(msgid)
    return ids


def keyed_ids(locale: str) -> set[str]:
    return {
        m.id
        for m in read_catalog(locale)
        if isinstance(m.id, str) and re.match(r"^[a-z-]+\.", m.id)
    }


def test_every_template_text_is_translated_to_chinese():
    cat = read_catalog("zh_CN")
    missing = []
    for msgid in template_ids():
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        msg = cat.get(key)
        if (
            msg is None
            or not msg.string
            or msg.fuzzy
            or (isinstance(msg.string, tuple) and not all(msg.string))
        ):
            missing.append(key)
    assert not missing, f"add to zh_CN/LC_MESSAGES/messages.po: {sorted(missing)}"


def test_keyed_messages_exist_in_both_languages():
    zh, en = keyed_ids("zh_CN"), keyed_ids("en")
    assert zh == en, {"only zh_CN": sorted(zh - en), "only en": sorted(en - zh)}
    for loc in LOCALES:
        cat = read_catalog(loc)
        empty = [k for k in zh if not cat.get(k).string]
        assert not empty, (loc, empty)


def test_catalogues_pass_babel_checks():
    for loc in LOCALES:
        problems = [(msg.id, errs) for msg, errs in read_catalog(loc).check()]
        assert not problems, (loc, problems)


def _codes(module, base) -> set[str]:
    return {
        obj.code
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, base) and obj.__module__ == module.__name__
    }


def test_every_reason_code_is_explained(i18n):
    codes = _codes(credential_errors, credential_errors.CredentialError) | {"issuer-mismatch"}
    for loc in LOCALES:
        missing = sorted(c for c in codes if i18n.message(loc, f"reason.{c}") is None)
        assert not missing, (loc, missing)


def test_every_error_code_has_a_title(i18n):
    codes = (
        _codes(core_errors, HealthCodeError)
        | _codes(web_errors, HealthCodeError)
        | _codes(otp, HealthCodeError)
    )
    for loc in LOCALES:
        missing = sorted(c for c in codes if i18n.message(loc, f"error.{c}") is None)
        assert not missing, (loc, missing)


def test_script_keys_exist():
    used = set()
    for js in STATIC_JS.glob("*.js"):
        used |= set(re.findall(r'"(js\.[a-z-]*[a-z])"', js.read_text(encoding="utf-8")))
    assert used, "no message keys found in the page scripts"
    assert used <= keyed_ids("en"), sorted(used - keyed_ids("en"))


def test_script_placeholders_match(i18n):
    for key in i18n.keyed("en"):
        en = set(re.findall(r"\{(\w+)\}", i18n.message("en", key) or ""))
        zh = set(re.findall(r"\{(\w+)\}", i18n.message("zh_CN", key) or ""))
        assert en == zh, key


def test_unknown_key_is_none_and_gettext_falls_back(i18n):
    assert i18n.message("zh_CN", "reason.no-such-code") is None
    assert i18n.gettext("en", "Sign in") == "Sign in"
    assert i18n.gettext("zh_CN", "Sign in") == "登录"


def test_plural_forms(i18n):
    html = i18n.envs["en"].from_string(
        "{% trans count=n %}{{ count }} dose{% pluralize %}{{ count }} doses{% endtrans %}"
    )
    assert html.render(n=1) == "1 dose"
    assert html.render(n=3) == "3 doses"
    zh = i18n.envs["zh_CN"].from_string(
        "{% trans count=n %}{{ count }} dose{% pluralize %}{{ count }} doses{% endtrans %}"
    )
    assert zh.render(n=3) == "已接种 3 剂"


def test_translations_are_autoescaped(i18n):
    tpl = i18n.envs["en"].from_string('{{ _("Clears at %(when)s", when=w) }}')
    assert tpl.render(w="<b>") == "Clears at &lt;b&gt;"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("EN", "en"),
        ("zh", "zh_CN"),
        ("zh-CN", "zh_CN"),
        ("zh_cn", "zh_CN"),
        ("zh-Hans", "zh_CN"),
        ("fr", None),
        ("", None),
        (None, None),
    ],
)
def test_negotiate(value, expected):
    assert negotiate(value) == expected


def test_localtime_is_beijing_time():
    assert localtime("2024-05-01T00:00:00+00:00") == "2024-05-01 08:00"
    assert localtime("not a time") == "not a time"
    assert localtime(None) == ""
