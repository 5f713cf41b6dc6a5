"""Typed settings, read once at the edge (CLI/web) from ``HEALTHCODE_*`` variables.

Only this module reads ``os.environ``; domain code receives values as arguments.

| variable                     | field               | default                      |
|------------------------------|---------------------|------------------------------|
| ``HEALTHCODE_DB``            | ``db``              | ``healthcode.db`` (SQLite file in the working directory) |
| ``HEALTHCODE_SHARED``        | ``shared``          | ``../shared``                |
| ``HEALTHCODE_ENV``           | ``environment``     | ``local`` (``prod`` refuses dev keys) |
| ``HEALTHCODE_MASTER_KEY``    | ``master_key``      | a fixed development key (refused in ``prod``) |
| ``HEALTHCODE_CODE_TTL``      | ``code_ttl_seconds``| ``180``                      |
| ``HEALTHCODE_CLOCK_SKEW``    | ``clock_skew_seconds`` | ``30``                    |
| ``HEALTHCODE_OUTBOX``        | ``outbox``          | ``healthcode-outbox.log`` (development SMS sender) |
| ``HEALTHCODE_ADMIN_TOKEN``   | ``admin_token``     | empty (in ``prod`` the admin page needs ``Authorization: Bearer`` this token; empty = closed) |
| ``HEALTHCODE_DCC_TRUST``     | ``dcc_trust``       | none: ``;``-separated EU DCC signer certificates (PEM/DER/base64 DER) or DCC trust-list JSON files the server's verifier also trusts |
| ``HEALTHCODE_SHC_ISSUER_KEYS`` | ``shc_issuer_keys`` | none: ``;``-separated SMART Health Card key sets, ``ISS=PATH`` or ``PATH`` |
| ``HEALTHCODE_DCC_RULES``     | ``dcc_rules``       | none: an EU DCC business-rule file (DCC Gateway format) the server's verifier evaluates |
| ``HEALTHCODE_DCC_COUNTRY``   | ``dcc_country``     | ``CN`` when ``HEALTHCODE_DCC_RULES`` is set: the destination whose rules apply (ISO 3166-1 alpha-2) |
| ``HEALTHCODE_PUBLIC_URL``    | ``public_url``      | ``http://127.0.0.1:8000``; ``healthcode serve`` uses the URL it serves, ``http://HOST:PORT`` (:meth:`Settings.served_at`) (base URL of this server as others reach it: SMART Health Card issuers are ``{public_url}/issuers/{region}``) |
| ``HEALTHCODE_CJK_FONT``      | ``cjk_font``        | empty: the e-certificate PDF embeds the first CJK font found in the usual system places (Debian ``fonts-noto-cjk`` …); a path names a TTF/OTF/TTC file instead |
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from healthcode.errors import ConfigError, MissingSharedFile

#: The development master key: derived from a public string, so anyone can
#: recompute it. ``environment="prod"`` refuses to start with it.
DEV_MASTER_KEY = hashlib.sha256(b"healthcode development master key - NOT FOR PRODUCTION").digest()
#: The destination of the server's DCC business rules when ``HEALTHCODE_DCC_COUNTRY`` is unset.
DEFAULT_RULES_COUNTRY = "CN"


@dataclass(frozen=True)
class Settings:
    """All run-time settings; immutable. Build with :func:`load_settings`."""

    db: str = "healthcode.db"
    shared: str = "../shared"
    environment: Literal["local", "prod"] = "local"
    master_key: bytes = field(default=DEV_MASTER_KEY, repr=False)
    code_ttl_seconds: int = 180
    clock_skew_seconds: int = 30
    outbox: str = "healthcode-outbox.log"
    max_upload_bytes: int = 4 * 1024 * 1024
    admin_token: str = field(default="", repr=False)
    public_url: str = "http://127.0.0.1:8000"
    #: ``HEALTHCODE_PUBLIC_URL`` was given: :meth:`served_at` keeps it.
    public_url_set: bool = False
    dcc_trust: tuple[str, ...] = ()
    shc_issuer_keys: tuple[str, ...] = ()
    dcc_rules: str = ""
    dcc_country: str = ""
    cjk_font: str = ""

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def rules_country(self) -> str | None:
        """The destination whose DCC business rules the server applies: ``dcc_country``, or
        ``CN`` when a rules file is set without one; None without rules."""
        if not self.dcc_rules:
            return None
        return self.dcc_country or DEFAULT_RULES_COUNTRY

    @property
    def uses_dev_master_key(self) -> bool:
        return self.master_key == DEV_MASTER_KEY

    @property
    def db_url(self) -> str:
        """SQLAlchemy URL: ``db`` as given when it has a scheme, else a SQLite file path."""
        if "://" in self.db:
            url = self.db
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return url
        return f"sqlite:///{self.db}"

    def with_db(self, db: str | None) -> Settings:
        return self if not db else replace(self, db=db)

    def served_at(self, host: str, port: int) -> Settings:
        """These settings for a server listening on ``host``:``port``: unless
        ``HEALTHCODE_PUBLIC_URL`` was set, ``public_url`` becomes :func:`served_url` — so the
        SMART Health Cards it issues name an issuer URL that really answers."""
        return self if self.public_url_set else replace(self, public_url=served_url(host, port))

    def shared_path(self, *parts: str) -> Path:
        """Path of a reference-data file under ``shared``.

        :raises MissingSharedFile: when it does not exist (names the variable).
        """
        path = Path(self.shared, *parts)
        if not path.exists():
            raise MissingSharedFile(
                f"reference file not found: {path} — set HEALTHCODE_SHARED to the folder "
                f"holding {'/'.join(parts)} (currently {self.shared!r})"
            )
        return path

    def check(self) -> None:
        """Refuse unsafe combinations.

        :raises ConfigError: production mode with the development master key; a token
            lifetime out of range; a malformed public URL; ``HEALTHCODE_DCC_COUNTRY`` that
            is not two letters, or given without ``HEALTHCODE_DCC_RULES``.
        """
        if self.is_prod and self.uses_dev_master_key:
            raise ConfigError(
                "HEALTHCODE_ENV=prod requires HEALTHCODE_MASTER_KEY (32 bytes, base64); "
                "refusing to start with the development master key"
            )
        if self.code_ttl_seconds <= 0 or self.code_ttl_seconds > 86400:
            raise ConfigError("HEALTHCODE_CODE_TTL must be between 1 and 86400 seconds")
        if not self.public_url.startswith(("https://", "http://")) or self.public_url.endswith("/"):
            raise ConfigError(
                "HEALTHCODE_PUBLIC_URL must be an http(s) URL without a trailing slash"
            )
        if self.dcc_country and not re.fullmatch(r"[A-Z]{2}", self.dcc_country):
            raise ConfigError(
                f"HEALTHCODE_DCC_COUNTRY must be an ISO 3166-1 alpha-2 code (two letters, "
                f"e.g. CN), not {self.dcc_country[:20]!r}"
            )
        if self.dcc_country and not self.dcc_rules:
            raise ConfigError(
                "HEALTHCODE_DCC_COUNTRY needs HEALTHCODE_DCC_RULES (a rules file): there is "
                "no default rule set, so a destination alone would check nothing"
            )


def served_url(host: str, port: int) -> str:
    """``http://HOST:PORT``, the base URL of a server listening there. A wildcard address
    (``0.0.0.0``, ``::``, empty) is reached on this machine as its loopback address
    (``127.0.0.1``, ``[::1]``): the server cannot know the name others use for it, which
    is what ``HEALTHCODE_PUBLIC_URL`` is for. IPv6 addresses are bracketed; port 80 is
    left out."""
    host = host.strip().strip("[]")
    if host in ("", "0.0.0.0", "*"):  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}" + ("" if port == 80 else f":{port}")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default ``os.environ``).

    :raises ConfigError: a malformed value.
    """
    env = os.environ if env is None else env
    kwargs: dict[str, object] = {}
    if env.get("HEALTHCODE_DB"):
        kwargs["db"] = env["HEALTHCODE_DB"]
    if env.get("HEALTHCODE_SHARED"):
        kwargs["shared"] = env["HEALTHCODE_SHARED"]
    envname = env.get("HEALTHCODE_ENV", "local")
    if envname not in ("local", "prod"):
        raise ConfigError(f"HEALTHCODE_ENV must be 'local' or 'prod', not {envname!r}")
    kwargs["environment"] = envname
    if env.get("HEALTHCODE_MASTER_KEY"):
        try:
            key = base64.b64decode(env["HEALTHCODE_MASTER_KEY"], validate=True)
        except ValueError as exc:
            raise ConfigError("HEALTHCODE_MASTER_KEY is not valid base64") from exc
        if len(key) != 32:
            raise ConfigError("HEALTHCODE_MASTER_KEY must decode to 32 bytes")
        kwargs["master_key"] = key
    for var, name in (
        ("HEALTHCODE_CODE_TTL", "code_ttl_seconds"),
        ("HEALTHCODE_CLOCK_SKEW", "clock_skew_seconds"),
    ):
        if env.get(var):
            try:
                kwargs[name] = int(env[var])
            except ValueError as exc:
                raise ConfigError(f"{var} must be a whole number of seconds") from exc
    if env.get("HEALTHCODE_OUTBOX"):
        kwargs["outbox"] = env["HEALTHCODE_OUTBOX"]
    if env.get("HEALTHCODE_ADMIN_TOKEN"):
        kwargs["admin_token"] = env["HEALTHCODE_ADMIN_TOKEN"]
    for var, name in (
        ("HEALTHCODE_DCC_TRUST", "dcc_trust"),
        ("HEALTHCODE_SHC_ISSUER_KEYS", "shc_issuer_keys"),
    ):
        if env.get(var):
            kwargs[name] = tuple(part.strip() for part in env[var].split(";") if part.strip())
    if env.get("HEALTHCODE_DCC_RULES", "").strip():
        kwargs["dcc_rules"] = env["HEALTHCODE_DCC_RULES"].strip()
    if env.get("HEALTHCODE_DCC_COUNTRY", "").strip():
        kwargs["dcc_country"] = env["HEALTHCODE_DCC_COUNTRY"].strip().upper()
    if env.get("HEALTHCODE_CJK_FONT"):
        kwargs["cjk_font"] = env["HEALTHCODE_CJK_FONT"]
    if env.get("HEALTHCODE_PUBLIC_URL"):
        kwargs["public_url"] = env["HEALTHCODE_PUBLIC_URL"].strip().rstrip("/")
        kwargs["public_url_set"] = True
    settings = Settings(**kwargs)  # type: ignore[arg-type]
    settings.check()
    return settings
