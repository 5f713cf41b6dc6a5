"""From a holder's records to e-certificate contents (电子证照) — pure: no database, no keys.

Two formats, one source: the holder's vaccination and test facts
(:func:`healthcode.facts.service.gather_facts`) and their sealed name and birth date.

**EU DCC payload** (schema version :data:`DCC_VERSION`), one event per certificate,
as the DCC specification requires:

- vaccination certificate ``v``: the latest dose (highest date, then dose number);
- test certificate ``t``: the latest test (by sampling time).

| our fact | DCC field | value |
| --- | --- | --- |
| (always) | ``tg`` | ``840539006`` (COVID-19, SNOMED CT) |
| vaccination ``product`` (free text) | ``vp`` / ``mp`` / ``ma`` | from :data:`VACCINES`; unknown → ``28531000087107`` / the text as recorded / ``unknown`` |
| vaccination ``dose`` | ``dn``, ``sd`` | ``sd`` = the product's primary series (2 when unknown); a booster past it is ``n/n`` (EU encoding) |
| vaccination ``date`` | ``dt`` | ``YYYY-MM-DD`` |
| test ``kind`` | ``tt`` | ``pcr`` → ``LP6464-4`` (NAAT), ``antigen`` → ``LP217198-3`` (RAT) |
| test ``result`` | ``tr`` | ``negative`` → ``260415000``, ``positive`` → ``260373001`` |
| test ``sampled_at`` | ``sc`` | ISO 8601, UTC (``Z``) |
| test ``lab`` | ``tc`` | the testing centre (left out when not recorded) |
| where the event happened | ``co`` | ``CN`` (facts are recorded in China) |
| — | ``is`` | ``healthcode <region> (<code>)`` + `` DEMO`` for DEMO keys |
| — | ``ci`` | UVCI ``URN:UVCI:01:XH:<region>/<random>#<check>`` (Luhn mod N check character) |

A RAT's device identifier (``ma`` of ``t``, the JRC list) is not among our facts and is
left out; rules that need it cannot accept such a certificate.

**SMART Health Card**: a FHIR R4 bundle with a ``Patient`` (name as in the passport —
the ICAO 9303 transliteration — then the name in its own script) and one
``Immunization`` per recorded dose (CVX codes from :data:`VACCINES`, ``500``
"non-US vaccine, product unknown" otherwise) or one ``Observation`` for the latest
test (LOINC ``94500-6`` PCR / ``94558-4`` antigen, SNOMED ``260385009`` negative /
``10828004`` positive).

**Names.** The DCC wants the name as written (``fn``/``gn``) and transliterated
per ICAO 9303 (``fnt``/``gnt``: ``A–Z`` and ``<``). Chinese names are split into
surname (one character, or a compound surname from :data:`COMPOUND_SURNAMES`)
and given name, and written in Hanyu Pinyin without tones, syllables joined, ü
as ``YU`` — as Chinese passports do (张三丰 → ``ZHANG`` / ``SANFENG``, 吕 → ``LYU``);
surnames read differently from the everyday reading come from
:data:`SURNAME_READINGS` (单 → ``SHAN``).

Names of the ethnic minorities (Uyghur, Kazakh, Tibetan …) are written in
Chinese characters as *given name·family name* (the family part is often the
father's name), with a middle dot — ``·`` or a look-alike of :data:`MIDDLE_DOTS`;
an ASCII ``.`` counts too in a name of Chinese characters. For
``阿依古丽·买买提``:

| field | value | rule |
| --- | --- | --- |
| DCC ``fn`` / FHIR ``family`` (as written) | ``买买提`` | the part after the last dot |
| DCC ``gn`` / FHIR ``given`` (as written) | ``阿依古丽`` | the part(s) before it, joined with ``·`` (FHIR: one ``given`` each) |
| DCC ``fnt`` / ``gnt``, FHIR Latin name | ``MAIMAITI`` / ``AYIGULI`` | Hanyu Pinyin of the characters, syllables joined, parts joined with ``<`` (ICAO 9303), as Chinese passports spell them |
| printout, FHIR ``text`` | ``阿依古丽·买买提`` | the name exactly as written |

Such names are transcriptions read with the characters' ordinary readings, so
:data:`SURNAME_READINGS` (readings of Han surnames) does not apply to them, but
:data:`NAME_READINGS` — characters common in transcribed names whose most
frequent reading elsewhere differs (卜 → ``BU``: 阿卜杜 → ``ABUDU``) — does.
Spaces around the dot are dropped. A name in Latin letters with a middle dot
(``Ayigul·Mamat``) is split the same way; otherwise a name in Latin letters is
taken in passport order, family name first (``SMITH JOHN``, or ``SMITH, JOHN``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: CWT ``iss`` and the UVCI's country: ``XH`` is in the ISO 3166-1 user-assigned
#: range (``XA``–``XZ``), never given to a country. healthcode is not a national
#: authority, so it must not sign as ``CN``: a verifier should never mistake our
#: certificates for the Chinese authorities' (nor for any other country's).
ISSUER_COUNTRY = "XH"
#: ``co`` of every event we certify: the vaccinations and tests recorded here happened in China.
EVENT_COUNTRY = "CN"
DCC_VERSION = "1.3.0"
DISEASE_COVID19 = "840539006"
TEST_TYPES = {"pcr": "LP6464-4", "antigen": "LP217198-3"}
TEST_RESULTS = {"negative": "260415000", "positive": "260373001"}
#: SHC: LOINC codes of the test and SNOMED codes of the result.
SHC_TEST_CODES = {"pcr": "94500-6", "antigen": "94558-4"}
SHC_RESULTS = {"negative": "260385009", "positive": "10828004"}
SHC_CVX_UNKNOWN = "500"
DCC_VP_UNKNOWN = "28531000087107"  # "COVID-19 vaccine" (SNOMED), the generic code

HEALTH_CARD = "https://smarthealth.cards#health-card"
SHC_COVID19 = "https://smarthealth.cards#covid19"
SHC_IMMUNIZATION = "https://smarthealth.cards#immunization"
SHC_LABORATORY = "https://smarthealth.cards#laboratory"
FHIR_VERSION = "4.0.1"

KINDS = ("vaccination", "test")
FORMATS = ("hc1", "shc")


@dataclass(frozen=True)
class Vaccine:
    """A vaccine we can name in both formats.

    :ivar mp: EU ``vaccines-covid-19-names`` code; :ivar ma: ``vaccines-covid-19-auth-holders``;
    :ivar vp: ``sct-vaccines-covid-19`` type; :ivar cvx: CDC CVX code (SHC);
    :ivar series: doses of the primary series; :ivar aliases: lower-case spellings found in
        recorded ``product`` text (brand, company, Chinese names).
    """

    name: str
    mp: str
    ma: str
    vp: str
    cvx: str
    series: int
    aliases: tuple[str, ...]


#: Codes from the EU value sets' ``vaccine-encoding-instructions.json`` and the CDC CVX list.
VACCINES: tuple[Vaccine, ...] = (
    Vaccine(
        "CoronaVac (Sinovac)", "CoronaVac", "Sinovac-Biotech", "1157024006", "511", 2,
        ("coronavac", "sinovac", "科兴", "克尔来福"),
    ),
    Vaccine(
        "WIBP-CorV (Sinopharm, Wuhan)", "WIBP-CorV", "Sinopharm-WIBP", "1157024006", "500", 2,
        ("wibp", "武汉生物", "国药中生武汉"),
    ),
    Vaccine(
        "BBIBP-CorV (Sinopharm, Beijing)", "BBIBP-CorV", "ORG-100020693", "1157024006", "510", 2,
        ("bbibp", "sinopharm", "北京生物", "国药中生北京", "众爱可维", "国药"),
    ),
    Vaccine(
        "Convidecia (CanSino)", "Convidecia", "ORG-100013793", "29061000087103", "506", 1,
        ("convidecia", "cansino", "康希诺", "克威莎", "ad5-ncov"),
    ),
    Vaccine(
        "Comirnaty (BioNTech/Pfizer)", "EU/1/20/1528", "ORG-100030215", "1119349007", "208", 2,
        ("comirnaty", "biontech", "pfizer", "复必泰"),
    ),
    Vaccine(
        "Spikevax (Moderna)", "EU/1/20/1507", "ORG-100031184", "1119349007", "207", 2,
        ("spikevax", "moderna"),
    ),
)  # fmt: skip


def find_vaccine(product: str) -> Vaccine | None:
    """The :data:`VACCINES` entry whose alias occurs in ``product`` (case-insensitive), if any."""
    text = re.sub(r"[\s_]+", "", unicodedata.normalize("NFKC", product or "")).lower()
    if not text:
        return None
    for vaccine in VACCINES:
        if any(alias in text for alias in vaccine.aliases):
            return vaccine
    return None


# --- names --------------------------------------------------------------------------
COMPOUND_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "夏侯", "慕容", "宇文", "长孙",
    "司徒", "尉迟", "公孙", "轩辕", "端木", "澹台", "南宫", "呼延", "独孤", "西门", "万俟",
    "闻人", "申屠", "太史", "单于", "司空", "公冶", "百里", "东郭", "钟离", "赫连", "濮阳",
)  # fmt: skip
#: Surnames whose reading differs from the character's everyday reading.
SURNAME_READINGS = {
    "单": "shan", "曾": "zeng", "区": "ou", "仇": "qiu", "解": "xie", "查": "zha",
    "朴": "piao", "乐": "yue", "覃": "qin", "缪": "miao", "翟": "zhai", "盖": "ge",
    "种": "chong", "召": "shao", "秘": "bi", "员": "yun", "繁": "po", "宿": "su",
    "万俟": "moqi", "尉迟": "yuchi", "单于": "chanyu", "长孙": "zhangsun", "澹台": "tantai",
    "那": "na", "沈": "shen", "纪": "ji", "燕": "yan", "华": "hua", "任": "ren",
}  # fmt: skip
#: Separators of the parts of a name written given·family: middle dot, bullet, katakana
#: and hyphenation points, dot operators (what IMEs and ID-card systems put there).
MIDDLE_DOTS = "·•・･‧∙⋅"
#: Characters of transcribed (ethnic-minority) names whose reading in names differs from
#: the one pypinyin picks by default.
NAME_READINGS = {"卜": "bu", "都": "du", "拉": "la", "伽": "jia", "茜": "xi"}
_DOTS = re.compile(f"[{MIDDLE_DOTS}.]")
_MIDDLE_DOT = re.compile(f"[{MIDDLE_DOTS}]")
_ICAO_SPECIAL = {
    "Ä": "AE",
    "Ö": "OE",
    "Ü": "UE",
    "Å": "AA",
    "ß": "SS",
    "Æ": "AE",
    "Ø": "OE",
    "Œ": "OE",
    "Þ": "TH",
    "Ð": "D",
    "Ł": "L",
}


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or ch >= "\U00020000"


@dataclass(frozen=True)
class PersonName:
    """A name split for certificates: as written, and transliterated (ICAO 9303).

    :ivar written: the whole name as recorded (``张三丰``, ``阿依古丽·买买提``).
    :ivar dotted: written given·family, split at the dot (``阿依古丽·买买提``).
    """

    written: str
    family: str
    given: str
    family_icao: str
    given_icao: str
    dotted: bool = False

    @property
    def latin(self) -> str:
        """``ZHANG SANFENG`` — family name first, as in the passport."""
        return " ".join(p.replace("<", " ") for p in (self.family_icao, self.given_icao) if p)


def _pinyin(text: str, *, surname: bool = False, transcribed: bool = False) -> str:
    from pypinyin import lazy_pinyin

    if surname and text in SURNAME_READINGS:
        return SURNAME_READINGS[text]
    if surname and len(text) > 1 and text[0] in SURNAME_READINGS:
        return SURNAME_READINGS[text[0]] + _pinyin(text[1:])
    syllables = lazy_pinyin(text)
    if transcribed and len(syllables) == len(text):  # one syllable per character
        syllables = [NAME_READINGS.get(ch, s) for ch, s in zip(text, syllables, strict=True)]
    return "".join(s.replace("v", "yu") if s.isascii() else s for s in syllables)


def icao_transliterate(text: str, *, surname: bool = False) -> str:
    """Text → ``A–Z`` and ``<`` (ICAO 9303 style): Chinese as Hanyu Pinyin (ü → ``YU``),
    Latin letters without diacritics, spaces and hyphens as ``<``, everything else dropped.

    :param surname: ``text`` is a Han family name (:data:`SURNAME_READINGS` apply). Text
        with a dot is a transcribed name instead: its parts are read with
        :data:`NAME_READINGS` and joined with ``<``.
    """
    if any(_is_cjk(c) for c in text):
        parts = [p.strip() for p in _DOTS.split(text) if p.strip()]
        if len(parts) > 1:
            text = "<".join(_pinyin(p, transcribed=True) for p in parts)
        else:
            text = _pinyin(parts[0] if parts else "", surname=surname)
    out: list[str] = []
    for ch in text.upper():
        if ch in _ICAO_SPECIAL:
            out.append(_ICAO_SPECIAL[ch])
            continue
        base = unicodedata.normalize("NFKD", ch)[0]
        if "A" <= base <= "Z":
            out.append(base)
        elif ch in " -<,·":
            out.append("<")
    return re.sub(r"<+", "<", "".join(out)).strip("<")[:80]


def split_name(name: str) -> PersonName:
    """Split a recorded name into family and given name (rules in the module docstring).

    ``written`` keeps the name exactly as recorded (only NFC-normalised and trimmed).
    """
    name = unicodedata.normalize("NFC", name.strip())
    cjk = any(_is_cjk(c) for c in name)
    dots = _DOTS if cjk else _MIDDLE_DOT
    parts = [p.strip() for p in dots.split(name) if p.strip()]
    if len(parts) > 1:  # given·family (ethnic-minority names, see the module docstring)
        family, given = parts[-1], "·".join(parts[:-1])
        return PersonName(
            written=name,
            family=family,
            given=given,
            family_icao=_transcribed_icao(family),
            given_icao="<".join(_transcribed_icao(p) for p in parts[:-1]),
            dotted=True,
        )
    if name and _is_cjk(name[0]):
        size = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
        family, given = name[:size], name[size:]
    elif "," in name:
        family, given = (p.strip() for p in name.split(",", 1))
    else:
        tokens = name.split()
        family, given = (tokens[0], " ".join(tokens[1:])) if tokens else ("", "")
    return PersonName(
        written=name,
        family=family,
        given=given,
        family_icao=icao_transliterate(family, surname=True),
        given_icao=icao_transliterate(given),
    )


def _transcribed_icao(part: str) -> str:
    """ICAO spelling of one part of a dotted name: a transcription, read without the Han
    surname readings (:data:`NAME_READINGS` apply)."""
    if any(_is_cjk(c) for c in part):
        return icao_transliterate(_pinyin(part, transcribed=True))
    return icao_transliterate(part)


# --- EU DCC -------------------------------------------------------------------------
#: Code points of the UVCI check character (eHealth Network guidelines on verifiable
#: vaccination certificates, Annex 2, as fixed by the DCC schema project's reference
#: implementation): ``A``–``Z``, ``0``–``9``, ``/``, ``:`` — ``#`` only separates the check
#: character and is not part of the alphabet.
UVCI_CHECK_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:"
_UVCI = re.compile(r"URN:UVCI:01:([A-Z]{2}):([0-9A-Z]{1,12})/([0-9A-Z]{8,40})(?:#([0-9A-Z/:]))?")


def _luhn_mod_n_sum(text: str, *, factor: int) -> int:
    n = len(UVCI_CHECK_ALPHABET)
    total = 0
    for ch in reversed(text):
        addend = factor * UVCI_CHECK_ALPHABET.index(ch)
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return total % n


def uvci_check_character(text: str) -> str:
    """The Luhn mod N check character of a UVCI (N = 38, :data:`UVCI_CHECK_ALPHABET`),
    computed over the whole text including the ``URN:UVCI:`` prefix
    (``URN:UVCI:01:NL:MY/INPUT/STRING`` → ``S``).

    :raises ValueError: a character outside the alphabet (lower case, ``#`` …).
    """
    if not text or any(ch not in UVCI_CHECK_ALPHABET for ch in text):
        raise ValueError("a UVCI is written in A-Z, 0-9, '/' and ':'")
    n = len(UVCI_CHECK_ALPHABET)
    return UVCI_CHECK_ALPHABET[(n - _luhn_mod_n_sum(text, factor=2)) % n]


def uvci_checksum_valid(text: str) -> bool:
    """Whether ``text`` (a UVCI followed by ``#`` and its check character) checks out."""
    body, sep, check = text.rpartition("#")
    if not sep or len(check) != 1:
        return False
    try:
        return uvci_check_character(body) == check
    except ValueError:
        return False


def uvci(region_code: str, serial: str) -> str:
    """``URN:UVCI:01:XH:<region>/<serial>#<check>``: version 01, our user-assigned country
    code, the issuing region, a random serial (``[0-9A-Z]``) and the optional check
    character (Annex 2 of the eHealth Network guidelines; see :func:`uvci_check_character`),
    so a UVCI typed from a printout is checked before it is looked up."""
    if not re.fullmatch(r"[0-9A-Z]{8,40}", serial):
        raise ValueError("a UVCI serial is 8 to 40 characters of 0-9 A-Z")
    body = f"URN:UVCI:01:{ISSUER_COUNTRY}:{region_code}/{serial}"
    return f"{body}#{uvci_check_character(body)}"


def uvci_serial(text: str) -> str | None:
    """The serial (our certificate ID) of one of our UVCIs, ``None`` when ``text`` is not one.

    Accepts the UVCI with or without its check character, any letter case.

    :raises ValueError: a check character is given and does not match (a typing error).
    """
    match = _UVCI.fullmatch(text.strip().upper())
    if match is None or match.group(1) != ISSUER_COUNTRY:
        return None
    if match.group(4) is not None and not uvci_checksum_valid(match.group(0)):
        raise ValueError("the UVCI's check character does not match: mistyped?")
    return match.group(3)


def dcc_name(person: PersonName) -> dict[str, str]:
    nam = {"fn": person.family, "fnt": person.family_icao}
    if person.given:
        nam.update(gn=person.given, gnt=person.given_icao)
    return nam


def latest_vaccination(vaccinations: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The last dose: latest date, then highest dose number."""
    if not vaccinations:
        return None
    return max(vaccinations, key=lambda v: (str(v.get("date") or ""), int(v.get("dose") or 0)))


def latest_test(tests: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if not tests:
        return None
    return max(tests, key=lambda t: datetime.fromisoformat(str(t["sampled_at"])))


def dose_numbers(dose: int, vaccine: Vaccine | None) -> tuple[int, int]:
    """``(dn, sd)``: a dose past the primary series is written ``n/n`` (EU booster encoding)."""
    series = vaccine.series if vaccine is not None else 2
    return dose, max(series, dose)


def dcc_vaccination_entry(
    dose: Mapping[str, Any], *, issuer: str, certificate_id: str
) -> dict[str, Any]:
    """The ``v`` entry of one recorded dose (``{"dose", "date", "product"}``)."""
    product = str(dose.get("product") or "").strip()
    vaccine = find_vaccine(product)
    dn, sd = dose_numbers(int(dose["dose"]), vaccine)
    return {
        "tg": DISEASE_COVID19,
        "vp": vaccine.vp if vaccine else DCC_VP_UNKNOWN,
        "mp": vaccine.mp if vaccine else (product[:80] or "unknown"),
        "ma": vaccine.ma if vaccine else "unknown",
        "dn": dn,
        "sd": sd,
        "dt": str(dose["date"]),
        "co": EVENT_COUNTRY,
        "is": issuer[:80],
        "ci": certificate_id,
    }


def utc_text(instant: str) -> str:
    """ISO 8601 instant → ``YYYY-MM-DDTHH:MM:SSZ``."""
    from datetime import UTC

    return datetime.fromisoformat(instant).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dcc_test_entry(test: Mapping[str, Any], *, issuer: str, certificate_id: str) -> dict[str, Any]:
    """The ``t`` entry of one recorded test (``{"kind", "result", "sampled_at", "lab"}``)."""
    entry: dict[str, Any] = {
        "tg": DISEASE_COVID19,
        "tt": TEST_TYPES[str(test["kind"])],
        "sc": utc_text(str(test["sampled_at"])),
        "tr": TEST_RESULTS[str(test["result"])],
    }
    lab = str(test.get("lab") or "").strip()
    if lab:
        entry["tc"] = lab[:80]
    entry["co"] = EVENT_COUNTRY
    entry["is"] = issuer[:80]
    entry["ci"] = certificate_id
    return entry


def dcc_payload(
    person: PersonName, birth_date: str | None, group: str, entry: Mapping[str, Any]
) -> dict[str, Any]:
    """``{"ver", "nam", "dob", group: [entry]}`` (``dob`` empty when unknown, as the schema allows)."""
    if group not in ("v", "t"):
        raise ValueError("group is v or t")
    return {"ver": DCC_VERSION, "nam": dcc_name(person), "dob": birth_date or "", group: [entry]}


# --- SMART Health Cards -------------------------------------------------------------
def fhir_patient(person: PersonName, birth_date: str | None) -> dict[str, Any]:
    """The ``Patient``: the passport spelling first (``family``, one ``given`` per given
    name), then — when it differs — the name in its own script, with ``text`` the name as
    written (阿依古丽·买买提: family 买买提, given [阿依古丽])."""
    names: list[dict[str, Any]] = []
    latin: dict[str, Any] = {"family": person.family_icao.replace("<", " ")}
    if person.given_icao:
        latin["given"] = (
            person.given_icao.split("<") if person.dotted else [person.given_icao.replace("<", " ")]
        )
    names.append(latin)
    if person.family and (person.family, person.given) != (latin["family"], person.given_icao):
        native: dict[str, Any] = {"family": person.family}
        if person.given:
            native["given"] = person.given.split("·") if person.dotted else [person.given]
        if person.dotted:
            native["text"] = person.written  # order and dot as written (given·family)
        names.append(native)
    patient: dict[str, Any] = {"resourceType": "Patient", "name": names}
    if birth_date:
        patient["birthDate"] = birth_date
    return patient


def fhir_immunization(dose: Mapping[str, Any]) -> dict[str, Any]:
    vaccine = find_vaccine(str(dose.get("product") or ""))
    return {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {
            "coding": [
                {
                    "system": "http://hl7.org/fhir/sid/cvx",
                    "code": vaccine.cvx if vaccine else SHC_CVX_UNKNOWN,
                }
            ]
        },
        "patient": {"reference": "resource:0"},
        "occurrenceDateTime": str(dose["date"]),
    }


def fhir_observation(test: Mapping[str, Any]) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {
            "coding": [{"system": "http://loinc.org", "code": SHC_TEST_CODES[str(test["kind"])]}]
        },
        "subject": {"reference": "resource:0"},
        "effectiveDateTime": utc_text(str(test["sampled_at"])),
    }
    lab = str(test.get("lab") or "").strip()
    if lab:
        observation["performer"] = [{"display": lab[:80]}]
    observation["valueCodeableConcept"] = {
        "coding": [{"system": "http://snomed.info/sct", "code": SHC_RESULTS[str(test["result"])]}]
    }
    return observation


def shc_vc(
    kind: str, patient: Mapping[str, Any], resources: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The ``vc`` claim: types and a FHIR ``collection`` bundle (``resource:N`` URLs)."""
    entries = [
        {"fullUrl": f"resource:{i}", "resource": dict(r)}
        for i, r in enumerate([patient, *resources])
    ]
    detail = SHC_IMMUNIZATION if kind == "vaccination" else SHC_LABORATORY
    return {
        "type": [HEALTH_CARD, SHC_COVID19, detail],
        "credentialSubject": {
            "fhirVersion": FHIR_VERSION,
            "fhirBundle": {"resourceType": "Bundle", "type": "collection", "entry": entries},
        },
    }
