"""Message catalogues (Babel ``.po`` files) and the per-locale Jinja2 environments.

Catalogues live in ``web/locales/<locale>/LC_MESSAGES/messages.po`` and are read
once at start-up with :func:`babel.messages.pofile.read_po`, compiled in memory
to gettext translations, and installed into one Jinja2 environment per locale
(``jinja2.ext.i18n``, new-style gettext), so rendering never shares mutable
state between requests.

Two kinds of message ids:

- **Template text** uses the English source text as the id
  (``{% trans %}Sign in{% endtrans %}`` / ``_("Sign in")``); ``zh_CN`` translates
  it and English needs no entry. ``tests/web/test_i18n.py`` extracts every id
  from the templates and fails when ``zh_CN`` lacks one.
- **Codes** — reason codes, stage names, error codes, fact fields, and the
  strings the page scripts use — have *keyed* ids ``<group>.<code>``
  (``reason.signature-invalid``, ``stage.signature``, ``error.otp-invalid``,
  ``js.refresh-in``) defined in both catalogues. :meth:`I18n.message` returns
  ``None`` for a key no catalogue has, so callers can show the bare code.

Locales: ``zh_CN`` (default) and ``en``. A request picks one with ``?lang=``
(``en``, ``zh-CN``, ``zh``, …), remembered in the ``lang`` cookie.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from healthcode.clock import SHANGHAI

LOCALES_DIR = Path(__file__).with_name("locales")
TEMPLATES_DIR = Path(__file__).with_name("templates")
DEFAULT_LOCALE = "zh_CN"
LOCALES = ("zh_CN", "en")
#: BCP 47 tag for ``<html lang>`` per locale.
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}
#: Keyed groups handed to the page scripts as JSON.
JS_GROUPS = ("js.", "reason.", "warning.", "stage.", "colour.", "verdict.", "format.", "error.")
LANG_COOKIE = "lang"


def negotiate(value: str | None) -> str | None:
    """The supported locale named by ``value`` (``en-US`` → ``en``, ``zh-cn`` → ``zh_CN``), else None."""
    if not value:
        return None
    v = value.strip().replace("_", "-").lower()
    if v == "en" or v.startswith("en-"):
        return "en"
    if v in ("zh", "zh-cn", "zh-hans", "zh-hans-cn"):
        return "zh_CN"
    return None


def read_catalog(locale: str, directory: Path = LOCALES_DIR) -> Catalog:
    """Parse ``<directory>/<locale>/LC_MESSAGES/messages.po``."""
    path = directory / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        return read_po(f, locale=locale, abort_invalid=True)


def _translations(catalog: Catalog) -> Translations:
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def localtime(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Jinja filter: an ISO-8601 instant shown in China Standard Time (the code's own zone)."""
    if value is None or value == "":
        return ""
    try:
        dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if dt.tzinfo is None:
        return dt.strftime(fmt)
    return dt.astimezone(SHANGHAI).strftime(fmt)


@dataclass(frozen=True)
class I18n:
    """Loaded catalogues plus one Jinja2 environment per locale."""

    catalogs: Mapping[str, Catalog]
    translations: Mapping[str, Translations]
    envs: Mapping[str, jinja2.Environment]

    @classmethod
    def load(cls, directory: Path = LOCALES_DIR, templates: Path = TEMPLATES_DIR) -> I18n:
        catalogs = {loc: read_catalog(loc, directory) for loc in LOCALES}
        translations = {loc: _translations(cat) for loc, cat in catalogs.items()}
        loader = jinja2.FileSystemLoader(str(templates))
        envs: dict[str, jinja2.Environment] = {}
        for loc in LOCALES:
            env = jinja2.Environment(
                loader=loader,
                autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
                extensions=["jinja2.ext.i18n"],
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
            )
            env.install_gettext_translations(translations[loc], newstyle=True)  # type: ignore[attr-defined]
            env.filters["localtime"] = localtime
            env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
            env.globals["locale"] = loc
            env.globals["html_lang"] = HTML_LANG[loc]
            envs[loc] = env
        return cls(catalogs=catalogs, translations=translations, envs=envs)

    def gettext(self, locale: str, msgid: str) -> str:
        return str(self.translations[locale].gettext(msgid))

    def message(self, locale: str, key: str) -> str | None:
        """Text of a keyed message (``reason.expired``) in ``locale``; None when no catalogue has it."""
        msg = self.catalogs[locale].get(key)
        if msg is not None and msg.string and not msg.fuzzy:
            return str(msg.string)
        fallback = self.catalogs["en"].get(key)
        if fallback is not None and fallback.string:
            return str(fallback.string)
        return None

    def keyed(self, locale: str, prefixes: tuple[str, ...] = JS_GROUPS) -> dict[str, str]:
        """Every keyed message whose id starts with one of ``prefixes``, in ``locale``."""
        out: dict[str, str] = {}
        for msg in self.catalogs["en"]:
            mid = msg.id
            if isinstance(mid, str) and mid.startswith(prefixes):
                text = self.message(locale, mid)
                if text is not None:
                    out[mid] = text
        return out

    def render(self, locale: str, template: str, **context: Any) -> str:
        return self.envs[locale].get_template(template).render(**context)
