"""The example EU DCC business rules (``rules/data/dcc-example-rules.json``) do what their
descriptions say — no more, no less.

- Every duration a description names (``48 hours``, ``14 天``) is a ``plusTime`` of the
  rule's logic, in English and in Chinese, and every duration of the logic is named: a
  description that promises a check the logic does not make (VR-CN-0002 once said "from
  14 days to 270 days" but checked only the 14) fails here.
- Each rule is evaluated just before and just after the boundaries it describes.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from healthcode.credentials import dcc_rules

RULES_FILE = Path(dcc_rules.__file__).parents[1] / "rules" / "data" / "dcc-example-rules.json"
RULES = json.loads(RULES_FILE.read_text(encoding="utf-8"))
BY_ID = {r["Identifier"]: r for r in RULES}
VALUE_SETS = {
    "covid-19-lab-test-type": ["LP6464-4", "LP217198-3"],
    "vaccines-covid-19-names": ["EU/1/20/1528", "CoronaVac"],
}
#: How a description names a duration: English and Chinese.
_DURATION = {
    "en": (re.compile(r"(\d+)[ -](hour|day)s?\b"), {"hour": "hour", "day": "day"}),
    "zh": (re.compile(r"(\d+) ?(小时|天)"), {"小时": "hour", "天": "day"}),
}


def _plus_times(logic: Any) -> set[tuple[int, str]]:
    """Every ``plusTime`` of ``logic`` with a non-zero amount: ``{(48, "hour"), …}``."""
    out: set[tuple[int, str]] = set()
    if isinstance(logic, dict):
        for op, args in logic.items():
            if op == "plusTime" and isinstance(args, list) and args[1]:
                out.add((int(args[1]), str(args[2])))
            out |= _plus_times(args)
    elif isinstance(logic, list):
        for item in logic:
            out |= _plus_times(item)
    return out


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r["Identifier"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_descriptions_name_exactly_the_durations_of_the_logic(rule, lang):
    (desc,) = [d["desc"] for d in rule["Description"] if d["lang"] == lang]
    pattern, units = _DURATION[lang]
    named = {(int(n), units[u]) for n, u in pattern.findall(desc)}
    assert named == _plus_times(rule["Logic"]), (rule["Identifier"], lang, desc)


def test_every_rule_is_described_in_english_and_chinese_and_valid():
    for rule in RULES:
        assert {d["lang"] for d in rule["Description"]} == {"en", "zh"}, rule["Identifier"]
    assert dcc_rules.check_rules(RULES, name="example") == RULES


def vaccination(dn: int = 2, sd: int = 2, dt: str = "2024-03-01", mp: str = "CoronaVac"):
    return {"ver": "1.3.0", "v": [{"tg": "840539006", "vp": "1157024006", "mp": mp, "ma": "x",
            "dn": dn, "sd": sd, "dt": dt, "co": "CN", "is": "x", "ci": "URN:UVCI:01:XH:X"}]}  # fmt: skip


def test_result(tt: str, sc: str = "2024-03-01T08:00:00Z", tr: str = "260415000"):
    return {"ver": "1.3.0", "t": [{"tg": "840539006", "tt": tt, "sc": sc, "tr": tr, "co": "CN",
            "is": "x", "ci": "URN:UVCI:01:XH:X"}]}  # fmt: skip


test_result.__test__ = False  # type: ignore[attr-defined]  # a payload builder, not a test


def recovery(df: str = "2024-01-01", du: str = "2024-06-30"):
    return {"ver": "1.3.0", "r": [{"tg": "840539006", "fr": "2023-12-20", "df": df, "du": du,
            "co": "CN", "is": "x", "ci": "URN:UVCI:01:XH:X"}]}  # fmt: skip


def outcome(identifier: str, payload: dict[str, Any], at: datetime) -> str:
    rule = copy.deepcopy(BY_ID[identifier])
    cert_type = next(k for k in ("v", "t", "r") if k in payload)
    (result,) = dcc_rules.evaluate_rules(
        [rule], payload, at=at, country="CN", value_sets=VALUE_SETS, iat=None, exp=None,
        cert_type=cert_type,
    )  # fmt: skip
    return result.result


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


SECOND = timedelta(seconds=1)
SAMPLED = t("2024-03-01T08:00:00+00:00")
DOSE = t("2024-03-01T00:00:00+00:00")
CASES = [
    ("TR-CN-0001", test_result("LP6464-4"), SAMPLED, "passed"),
    ("TR-CN-0001", test_result("LP6464-4", tr="260373001"), SAMPLED, "failed"),
    # rapid antigen: until 48 h after sampling; every other test type passes this rule
    ("TR-CN-0002", test_result("LP217198-3"), SAMPLED + timedelta(hours=48) - SECOND, "passed"),
    ("TR-CN-0002", test_result("LP217198-3"), SAMPLED + timedelta(hours=48), "failed"),
    ("TR-CN-0002", test_result("LP6464-4"), SAMPLED + timedelta(days=30), "passed"),
    ("TR-CN-0003", test_result("LP6464-4"), SAMPLED + timedelta(hours=72) - SECOND, "passed"),
    ("TR-CN-0003", test_result("LP6464-4"), SAMPLED + timedelta(hours=72), "failed"),
    ("TR-CN-0003", test_result("LP217198-3"), SAMPLED + timedelta(days=30), "passed"),
    ("TR-CN-0004", test_result("LP217198-3"), SAMPLED, "passed"),
    ("TR-CN-0004", test_result("94309-2"), SAMPLED, "failed"),
    ("VR-CN-0001", vaccination(dn=1, sd=2), DOSE + timedelta(days=20), "failed"),
    ("VR-CN-0001", vaccination(dn=3, sd=2), DOSE + timedelta(days=20), "passed"),
    # from 14 days after the vaccination date (00:00 UTC); no upper limit in this rule
    ("VR-CN-0002", vaccination(), DOSE + timedelta(days=14) - SECOND, "failed"),
    ("VR-CN-0002", vaccination(), DOSE + timedelta(days=14), "passed"),
    ("VR-CN-0002", vaccination(), DOSE + timedelta(days=400), "passed"),
    # until 270 days after the vaccination date (00:00 UTC)
    ("VR-CN-0003", vaccination(), DOSE + timedelta(days=270), "passed"),
    ("VR-CN-0003", vaccination(), DOSE + timedelta(days=270) + SECOND, "failed"),
    ("VR-CN-0004", vaccination(), DOSE, "passed"),
    ("VR-CN-0004", vaccination(mp="克尔来福"), DOSE, "failed"),
    # from df to du, each at 00:00 UTC: not on the valid-until day itself
    ("RR-CN-0001", recovery(), t("2023-12-31T23:59:59+00:00"), "failed"),
    ("RR-CN-0001", recovery(), t("2024-01-01T00:00:00+00:00"), "passed"),
    ("RR-CN-0001", recovery(), t("2024-06-30T00:00:00+00:00"), "passed"),
    ("RR-CN-0001", recovery(), t("2024-06-30T00:00:01+00:00"), "failed"),
]


@pytest.mark.parametrize(("identifier", "payload", "at", "expected"), CASES)
def test_each_rule_at_the_boundaries_it_describes(identifier, payload, at, expected):
    assert outcome(identifier, payload, at) == expected
