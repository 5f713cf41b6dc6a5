"""Identity documents, phone numbers and names: validation and display masks.

Pure functions. Sources:

- 居民身份证 (mainland resident ID): GB 11643-1999 — 6-digit GB/T 2260 address code,
  8-digit birth date, 3-digit sequence, ISO 7064 MOD 11-2 check character (``0-9`` or ``X``).
- 港澳台居民居住证: same 18-character structure and check digit, address code
  ``810000`` (Hong Kong), ``820000`` (Macao) or ``830000`` (Taiwan).
- 外国人永久居留身份证: the 2017 format (15 characters: 3-letter nationality code +
  12 digits) and the 2023 format (18 characters starting with ``9``, GB 11643 check digit).
- 港澳居民来往内地通行证: ``H``/``M`` + 8 digits (older cards: + 10 digits).
- 台湾居民来往大陆通行证: 8 digits (older cards: 10).
- Passport: 5–20 letters/digits, with a nationality (ISO 3166-1 alpha-2 or alpha-3).
- Mainland mobile numbers: 11 digits starting ``1[3-9]``; ``+86``/``86`` accepted and dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from healthcode.errors import InvalidIdNumber, InvalidName, InvalidPhone


class IdType(StrEnum):
    RESIDENT_ID = "resident-id"
    HKMT_RESIDENCE_PERMIT = "hkmt-residence-permit"
    FOREIGN_PERMANENT_RESIDENCE = "foreign-permanent-residence"
    PASSPORT = "passport"
    HKM_TRAVEL_PERMIT = "hkm-travel-permit"
    TW_TRAVEL_PERMIT = "tw-travel-permit"


_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
_CHECK = "10X98765432"
_PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83",
}  # fmt: skip


def gb11643_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of 17 digits (GB 11643-1999 §6)."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


@dataclass(frozen=True)
class IdDocument:
    """A validated identity document.

    :ivar number: normalised number (upper case, no spaces).
    :ivar birth_date: from the number where it encodes one (resident ID, permits), else None.
    :ivar nationality: ISO 3166-1 code for passports and foreign IDs, else ``CN``/``HK``/``MO``/``TW``.
    """

    type: IdType
    number: str
    birth_date: date | None = None
    nationality: str | None = None


def _check_18(number: str, *, allowed_prefixes: set[str] | None, what: str) -> date:
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        raise InvalidIdNumber(f"{what} must be 17 digits and a check character (0-9 or X)")
    if allowed_prefixes is not None and number[:2] not in allowed_prefixes:
        raise InvalidIdNumber(f"{what}: unknown region code {number[:6]}")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise InvalidIdNumber(f"{what}: invalid birth date {number[6:14]}") from exc
    if born.year < 1880:
        raise InvalidIdNumber(f"{what}: implausible birth date {number[6:14]}")
    if gb11643_check_char(number[:17]) != number[17]:
        raise InvalidIdNumber(f"{what}: check character does not match (GB 11643)")
    return born


def validate_id(
    id_type: str, number: str, *, nationality: str | None = None, today: date | None = None
) -> IdDocument:
    """Validate an identity document number.

    :param today: reference day for "birth date not in the future" (UTC date), optional.
    :raises InvalidIdNumber: unknown type, malformed number, bad check digit or birth date,
        passport without nationality.
    """
    try:
        kind = IdType(id_type)
    except ValueError as exc:
        raise InvalidIdNumber(f"unknown ID type {id_type!r}") from exc
    num = re.sub(r"\s+", "", number or "").upper()
    if not num:
        raise InvalidIdNumber("ID number is empty")
    born: date | None = None
    nat = nationality.upper() if nationality else None
    if kind is IdType.RESIDENT_ID:
        born = _check_18(num, allowed_prefixes=_PROVINCES - {"81", "82", "83"}, what="resident ID")
        nat = "CN"
    elif kind is IdType.HKMT_RESIDENCE_PERMIT:
        born = _check_18(num, allowed_prefixes={"81", "82", "83"}, what="residence permit")
        if num[2:6] != "0000":
            raise InvalidIdNumber("residence permit numbers start with 810000, 820000 or 830000")
        nat = {"81": "HK", "82": "MO", "83": "TW"}[num[:2]]
    elif kind is IdType.FOREIGN_PERMANENT_RESIDENCE:
        if re.fullmatch(r"[A-Z]{3}[0-9]{12}", num):
            nat = nat or num[:3]
            try:
                born = date(1900 + int(num[7:9]), int(num[9:11]), int(num[11:13]))
            except ValueError:
                born = None  # the 2017 layout's date field is not reliable enough to reject on
        elif num.startswith("9"):
            born = _check_18(num, allowed_prefixes=None, what="permanent residence ID")
        else:
            raise InvalidIdNumber(
                "permanent residence ID: 3 letters + 12 digits, or 18 characters starting with 9"
            )
    elif kind is IdType.PASSPORT:
        if not re.fullmatch(r"[A-Z0-9]{5,20}", num):
            raise InvalidIdNumber("passport number: 5 to 20 letters or digits")
        if not nat or not re.fullmatch(r"[A-Z]{2,3}", nat):
            raise InvalidIdNumber("a passport needs --nationality (ISO 3166-1 code, e.g. DE)")
    elif kind is IdType.HKM_TRAVEL_PERMIT:
        if not re.fullmatch(r"[HM][0-9]{8}([0-9]{2})?", num):
            raise InvalidIdNumber("Hong Kong/Macao travel permit: H or M and 8 (or 10) digits")
        nat = "HK" if num[0] == "H" else "MO"
    elif kind is IdType.TW_TRAVEL_PERMIT:
        if not re.fullmatch(r"[0-9]{8}([0-9]{2})?", num):
            raise InvalidIdNumber("Taiwan travel permit: 8 (or 10) digits")
        nat = "TW"
    if born is not None and today is not None and born > today:
        raise InvalidIdNumber("birth date in the ID number is in the future")
    return IdDocument(kind, num, born, nat)


def normalise_phone(phone: str) -> str:
    """Return the 11-digit mainland mobile number: spaces and dashes removed, a
    ``+86``/``0086``/``86`` prefix dropped (the same reading as trip record files).

    :raises InvalidPhone: anything else.
    """
    p = re.sub(r"[\s-]", "", phone or "")
    for prefix in ("+86", "0086", "86"):  # as the trip-record readers (one normalisation)
        if p.startswith(prefix) and len(p) == 11 + len(prefix):
            p = p[len(prefix) :]
            break
    if not re.fullmatch(r"1[3-9][0-9]{9}", p):
        raise InvalidPhone("phone must be a mainland mobile number: 11 digits starting 13–19")
    return p


_NAME_PUNCT = {"·", "•", "・", " ", "-", "'", "."}


def normalise_name(name: str) -> str:
    """NFC-normalised name of letters (any script, incl. outside the BMP) and ``·`` etc.

    :raises InvalidName: empty, too long (> 64 characters), or other characters.
    """
    n = unicodedata.normalize("NFC", (name or "").strip())
    if not n:
        raise InvalidName("name is empty")
    if len(n) > 64:
        raise InvalidName("name is longer than 64 characters")
    for ch in n:
        cat = unicodedata.category(ch)
        if not (cat.startswith("L") or cat.startswith("M") or ch in _NAME_PUNCT):
            raise InvalidName(f"name contains a character that is not a letter: {ch!r}")
    if not unicodedata.category(n[0]).startswith("L"):
        raise InvalidName("name must start with a letter")
    return n


def mask_name(name: str) -> str:
    """``张三丰`` → ``张*丰``; ``张三`` → ``张*``; one character stays as it is."""
    chars = list(name)
    if len(chars) <= 1:
        return name
    if len(chars) == 2:
        return chars[0] + "*"
    return chars[0] + "*" * (len(chars) - 2) + chars[-1]


def mask_id(number: str) -> str:
    """First 4 and last 4 characters: ``110101199003071234`` → ``1101**********1234``."""
    if len(number) <= 8:
        return number[:2] + "*" * max(len(number) - 2, 0)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_phone(phone: str) -> str:
    """First 3 and last 4 digits: ``13912345678`` → ``139****5678``."""
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
