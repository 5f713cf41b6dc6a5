"""Every CertLogic evaluation is bounded by its budget, whatever the size of the arrays
in the expression or the data; a DCC business rule passes only on a boolean true."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from healthcode.credentials import dcc_rules
from healthcode.rules.logic import BudgetExceeded, evaluate

EXAMPLE = Path(dcc_rules.__file__).parents[1] / "rules" / "data" / "dcc-example-rules.json"
RULES: list[dict[str, Any]] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
AT = datetime(2024, 3, 1, 8, tzinfo=UTC)
PAYLOAD = {
    "ver": "1.3.0",
    "t": [{"tg": "840539006", "tt": "LP6464-4", "co": "CN", "sc": "2024-02-29T08:00:00Z"}],
}


def test_an_array_literal_costs_its_elements() -> None:
    assert evaluate([1] * 9, {}, budget=10) == [1] * 9
    with pytest.raises(BudgetExceeded):
        evaluate([1] * 10, {}, budget=10)


def test_in_costs_the_elements_it_searches() -> None:
    expr = {"in": [1, {"var": "xs"}]}  # 2 operations + 1,000 elements searched
    assert evaluate(expr, {"xs": [0] * 1_000}, budget=1_002) is False
    with pytest.raises(BudgetExceeded):
        evaluate(expr, {"xs": [0] * 1_000}, budget=1_001)


def test_reduce_costs_its_elements_even_with_a_literal_lambda() -> None:
    expr = {"reduce": [{"var": "xs"}, True, False]}
    with pytest.raises(BudgetExceeded):
        evaluate(expr, {"xs": [0] * 50_000})


def test_some_and_all_cost_their_elements_even_with_a_literal_lambda() -> None:
    for op in ("some", "all"):
        expr = {op: [{"var": "xs"}, op == "all"]}
        with pytest.raises(BudgetExceeded):
            evaluate(expr, {"xs": [0] * 50_000}, extensions=True)


def test_reduce_over_a_large_literal_with_in_is_refused_early() -> None:
    """The attack rule: 6,000 × a 100,000-element literal took minutes before."""
    expr = {"reduce": [[0] * 6_000, {"in": [{"var": "current"}, [1] * 100_000]}, True]}
    with pytest.raises(BudgetExceeded):
        evaluate(expr, {}, budget=dcc_rules.RULE_BUDGET)


def _rule(logic: Any) -> dict[str, Any]:
    rule = copy.deepcopy(next(r for r in RULES if r["CertificateType"] == "Test"))
    rule["Logic"] = logic
    return rule


def _result(logic: Any) -> dcc_rules.RuleResult:
    (result,) = dcc_rules.evaluate_rules(
        [_rule(logic)], PAYLOAD, at=AT, country="CN", value_sets={}, iat=None, exp=None,
        cert_type="t",
    )  # fmt: skip
    return result


def test_a_rule_over_budget_is_open_with_its_reason() -> None:
    result = _result({"reduce": [[0] * 6_000, {"in": [{"var": "current"}, [1] * 100_000]}, True]})
    assert result.result == "open" and result.error and "budget" in result.error


@pytest.mark.parametrize(
    ("logic", "kind"),
    [
        ({"plusTime": [{"var": "payload.t.0.sc"}, 1, "day"]}, "a date-time"),
        ({"var": "payload"}, "an object"),
        ({"var": "payload.t"}, "an array"),
        ({"var": "payload.ver"}, "a string"),
        ({"+": [1, 1]}, "a number"),
        ({"var": "payload.nothing"}, "null"),
        ({"+": [0, 0]}, "a number"),
    ],
)
def test_a_rule_whose_logic_is_not_boolean_is_open(logic: Any, kind: str) -> None:
    result = _result(logic)
    assert result.result == "open"
    assert result.error == f"the rule's logic gave {kind}, not true or false"


def test_booleans_pass_and_fail() -> None:
    assert _result({"===": [{"var": "payload.ver"}, "1.3.0"]}).result == "passed"
    assert _result({"===": [{"var": "payload.ver"}, "1.0.0"]}).result == "failed"
