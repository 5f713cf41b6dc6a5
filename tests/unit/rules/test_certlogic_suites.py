"""CertLogic evaluator: the official test suites, plus budget, safety and spec details.

The suites live in the shared reference data (never copied here):
``vectors/dcc-schema/certlogic/testSuite/*.json`` (one test per assertion) and
``validation-testSuite/*.json`` (one test per case). ``"directive": "skip"`` at
file, case or assertion level skips with that reason; ``"only"`` is ignored
(it must never shrink the run). A line at the end of the session reports how
many assertions passed.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from healthcode.errors import InputError
from healthcode.rules.logic import (
    MAX_DEPTH,
    BudgetExceeded,
    CertLogicError,
    Issue,
    evaluate,
    find_issues,
    validate,
)
from tests.support.shared import shared_path, shared_root

CERTLOGIC = ("vectors", "dcc-schema", "certlogic")


# --- loading the suites ---------------------------------------------------------------


def _files(folder: str) -> list[Path]:
    path = shared_root().joinpath(*CERTLOGIC, folder)
    return sorted(path.glob("*.json")) if path.is_dir() else []


def _skip_reason(where: str, *owners: dict[str, Any]) -> str | None:
    for level, owner in zip(("file", "case", "assertion"), owners, strict=False):
        if owner.get("directive") == "skip":
            return f'"directive": "skip" on the {level} ({where})'
    return None


def _evaluation_params() -> list[Any]:
    params = []
    for path in _files("testSuite"):
        suite = json.loads(path.read_text(encoding="utf-8"))
        for c, case in enumerate(suite["cases"]):
            for a, assertion in enumerate(case["assertions"]):
                test_id = f"{path.stem}/{c}:{case['name']}/{a}"
                expr = assertion.get("certLogicExpression", case.get("certLogicExpression"))
                reason = _skip_reason(test_id, suite, case, assertion)
                params.append(pytest.param(expr, assertion, reason, id=test_id))
    return params or [pytest.param(None, None, None, id="testSuite-missing")]


def _validation_params() -> list[Any]:
    params = []
    for path in _files("validation-testSuite"):
        suite = json.loads(path.read_text(encoding="utf-8"))
        for c, case in enumerate(suite["cases"]):
            test_id = f"{path.stem}/{c}:{case.get('name', json.dumps(case['certLogicExpression']))}"
            reason = _skip_reason(test_id, suite, case)
            params.append(pytest.param(case, reason, id=test_id))
    return params or [pytest.param(None, None, id="validation-testSuite-missing")]


def _json(value: Any) -> str:
    """Canonical JSON, so that ``0`` ≠ ``false`` and ``1`` ≠ ``true``."""
    return json.dumps(value, sort_keys=True)


# --- session summary -----------------------------------------------------------------

_TALLY: Counter[str] = Counter()


class _SuiteSummary:
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not _TALLY:
            return
        terminalreporter.write_line(
            f"CertLogic testSuite: {_TALLY['passed']}/{_TALLY['run']} assertions passed,"
            f" {_TALLY['skipped']} skipped by directive;"
            f" validation-testSuite: {_TALLY['v-passed']}/{_TALLY['v-run']} cases passed,"
            f" {_TALLY['v-skipped']} skipped by directive"
        )


@pytest.fixture(scope="module", autouse=True)
def _report_suite_counts(request: pytest.FixtureRequest) -> None:
    manager = request.config.pluginmanager
    if not manager.has_plugin("certlogic-suite-summary"):
        manager.register(_SuiteSummary(), "certlogic-suite-summary")


# --- the suites ----------------------------------------------------------------------


@pytest.mark.parametrize(("expr", "assertion", "skip_reason"), _evaluation_params())
def test_evaluation_suite(
    expr: Any, assertion: dict[str, Any] | None, skip_reason: str | None
) -> None:
    if assertion is None:
        shared_path(*CERTLOGIC, "testSuite")  # skips (fails in CI): no suite files
        pytest.fail("testSuite folder holds no *.json files")
    if skip_reason:
        _TALLY["skipped"] += 1
        pytest.skip(skip_reason)
    _TALLY["run"] += 1
    result = evaluate(expr, assertion["data"])
    assert _json(result) == _json(assertion["expected"]), assertion.get("message", "")
    _TALLY["passed"] += 1


@pytest.mark.parametrize(("case", "skip_reason"), _validation_params())
def test_validation_suite(case: dict[str, Any] | None, skip_reason: str | None) -> None:
    if case is None:
        shared_path(*CERTLOGIC, "validation-testSuite")
        pytest.fail("validation-testSuite folder holds no *.json files")
    if skip_reason:
        _TALLY["v-skipped"] += 1
        pytest.skip(skip_reason)
    _TALLY["v-run"] += 1
    expr = case["certLogicExpression"]
    issues = find_issues(expr)
    assert _json([{"expr": i.expr, "message": i.message} for i in issues]) == _json(case["issues"])
    assert validate(expr) == [issue["message"] for issue in case["issues"]]
    if case["issues"]:
        with pytest.raises(CertLogicError):
            evaluate(expr, {})
    _TALLY["v-passed"] += 1


# --- errors ----------------------------------------------------------------------------


def test_error_codes() -> None:
    assert issubclass(CertLogicError, InputError)
    assert CertLogicError.code == "certlogic-invalid"
    assert CertLogicError.status == 422
    assert issubclass(BudgetExceeded, CertLogicError)
    assert BudgetExceeded.code == "certlogic-budget-exceeded"


# --- budget and depth ---------------------------------------------------------------------

SUM = {"reduce": [{"var": "xs"}, {"+": [{"var": "accumulator"}, {"var": "current"}]}, 0]}


def test_long_reduce_exceeds_default_budget() -> None:
    data = {"xs": list(range(20_000))}  # 3 operations per element
    with pytest.raises(BudgetExceeded) as info:
        evaluate(SUM, data)
    assert info.value.code == "certlogic-budget-exceeded"
    assert evaluate(SUM, data, budget=100_000) == 20_000 * 19_999 // 2


def test_nested_reduce_exceeds_budget() -> None:
    # 200 × 200 inner steps from a 12-node expression: work grows with the data.
    count_inner = {"reduce": [{"var": "current"}, {"+": [{"var": "accumulator"}, 1]}, 0]}
    expr = {"reduce": [{"var": "rows"}, {"+": [{"var": "accumulator"}, count_inner]}, 0]}
    data = {"rows": [[0] * 200 for _ in range(200)]}
    with pytest.raises(BudgetExceeded):
        evaluate(expr, data)
    small = {"rows": [[0] * 3 for _ in range(4)]}
    assert evaluate(expr, small) == 12


def test_budget_counts_operations() -> None:
    expr = {"+": [{"var": "a"}, {"var": "b"}]}  # 3 operation objects, literals are free
    assert evaluate(expr, {"a": 1, "b": 2}, budget=3) == 3
    with pytest.raises(BudgetExceeded):
        evaluate(expr, {"a": 1, "b": 2}, budget=2)
    assert evaluate("literal", {}, budget=0) == "literal"


def test_untaken_branch_costs_nothing() -> None:
    expr = {"if": [True, 1, {"reduce": [{"var": "xs"}, {"var": "current"}, 0]}]}
    assert evaluate(expr, {"xs": list(range(10**6))}, budget=1) == 1


def _nested(depth: int) -> Any:
    expr: Any = True
    for _ in range(depth):
        expr = {"!": [expr]}
    return expr


def test_nesting_limit() -> None:
    # Each "!" adds one level; an even number of negations of true is true.
    assert evaluate(_nested(MAX_DEPTH), {}) is True
    assert evaluate([[[[1]]]], {}) == [[[[1]]]]
    with pytest.raises(CertLogicError) as info:
        evaluate(_nested(MAX_DEPTH + 1), {})
    assert not isinstance(info.value, BudgetExceeded)


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_nesting_is_rejected_without_recursion_error(depth: int) -> None:
    with pytest.raises(CertLogicError):
        evaluate(_nested(depth), {})
    assert validate(_nested(depth))


def test_cyclic_expression_is_rejected() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(CertLogicError):
        evaluate({"if": [True, cycle, 0]}, {})


# --- malformed expressions ----------------------------------------------------------------

MALFORMED = [
    pytest.param(None, id="null-literal"),
    pytest.param(1.5, id="float-literal"),
    pytest.param(14.0, id="integral-float-literal"),
    pytest.param({}, id="empty-object"),
    pytest.param({"foo": [1]}, id="unknown-operator"),
    pytest.param({"or": [True, False]}, id="or-is-not-certlogic"),
    pytest.param({"==": [1, 1]}, id="loose-equality-is-not-certlogic"),
    pytest.param({"!!": [1]}, id="double-negation-is-not-certlogic"),
    pytest.param({"some": [[1], True]}, id="extension-without-flag"),
    pytest.param({"var": ["x", 0]}, id="var-with-default"),
    pytest.param({"var": 0}, id="var-integer"),
    pytest.param({"var": ".x"}, id="var-leading-dot"),
    pytest.param({"var": "x..y"}, id="var-empty-fragment"),
    pytest.param({"var": "x", "if": [1, 2, 3]}, id="two-keys"),
    pytest.param({"if": [True, 1]}, id="if-2-operands"),
    pytest.param({"if": [True, 1, 2, 3]}, id="if-4-operands"),
    pytest.param({"===": [1]}, id="equality-1-operand"),
    pytest.param({"===": [1, 1, 1]}, id="equality-3-operands"),
    pytest.param({"in": [1]}, id="in-1-operand"),
    pytest.param({"+": [1, 2, 3]}, id="plus-3-operands"),
    pytest.param({"and": [True]}, id="and-1-operand"),
    pytest.param({"<": [1]}, id="less-1-operand"),
    pytest.param({"<": [1, 2, 3, 4]}, id="less-4-operands"),
    pytest.param({"before": [1]}, id="before-1-operand"),
    pytest.param({"!": []}, id="not-0-operands"),
    pytest.param({"!": [1, 2]}, id="not-2-operands"),
    pytest.param({"!": True}, id="operands-not-array"),
    pytest.param({"plusTime": ["2021-01-01", "1", "day"]}, id="plusTime-amount-string"),
    pytest.param({"plusTime": ["2021-01-01", True, "day"]}, id="plusTime-amount-bool"),
    pytest.param({"plusTime": ["2021-01-01", {"var": "n"}, "day"]}, id="plusTime-amount-expr"),
    pytest.param({"plusTime": ["2021-01-01", 1, "week"]}, id="plusTime-unit-week"),
    pytest.param({"plusTime": ["2021-01-01", 1, "days"]}, id="plusTime-unit-plural"),
    pytest.param({"plusTime": ["2021-01-01", 1]}, id="plusTime-2-operands"),
    pytest.param({"reduce": [[], {"var": "current"}]}, id="reduce-2-operands"),
    pytest.param({"extractFromUVCI": ["URN:UVCI:01:NL:1", "1"]}, id="uvci-index-string"),
    pytest.param({"dccDateOfBirth": []}, id="dob-0-operands"),
    pytest.param({"if": [False, 1, {"bogus": []}]}, id="invalid-in-untaken-branch"),
    pytest.param({"and": [False, None]}, id="null-after-short-circuit"),
    pytest.param({"in": ["a", {"a": 1}]}, id="object-literal"),
    pytest.param(("tuple",), id="non-json-tuple"),
    pytest.param({"in": [1, {1, 2}]}, id="non-json-set"),
]


@pytest.mark.parametrize("expr", MALFORMED)
def test_malformed_expression_is_rejected(expr: Any) -> None:
    assert validate(expr)
    assert all(isinstance(issue, Issue) for issue in find_issues(expr))
    with pytest.raises(CertLogicError) as info:
        evaluate(expr, {"x": {"y": 1}, "n": 1})
    assert info.value.code == "certlogic-invalid"


TYPE_ERRORS = [
    pytest.param({"plusTime": [{"var": "n"}, 0, "day"]}, {"n": 20210101}, id="plusTime-on-int"),
    pytest.param({"plusTime": [{"var": "s"}, 0, "day"]}, {"s": None}, id="plusTime-on-null"),
    pytest.param({"plusTime": ["", 0, "day"]}, {}, id="plusTime-on-empty-string"),
    pytest.param({"plusTime": ["2021-09-99", 0, "day"]}, {}, id="plusTime-day-99"),
    pytest.param({"plusTime": ["2022-13", 0, "day"]}, {}, id="plusTime-month-13"),
    pytest.param({"plusTime": ["2021-02-29", 0, "day"]}, {}, id="plusTime-not-a-leap-year"),
    pytest.param({"plusTime": ["21-01-01", 0, "day"]}, {}, id="plusTime-2-digit-year"),
    pytest.param(
        {"plusTime": ["2021-01-01 10:00:00", 0, "day"]}, {}, id="plusTime-space-separator"
    ),
    pytest.param({"plusTime": ["2021-01-01T10:00", 0, "day"]}, {}, id="plusTime-no-seconds"),
    pytest.param(
        {"plusTime": ["2021-01-01T10:00:00+25:00", 0, "day"]}, {}, id="plusTime-offset-25h"
    ),
    pytest.param(
        {"plusTime": ["2021-01-01T10:00:00+01:60", 0, "day"]}, {}, id="plusTime-offset-60m"
    ),
    pytest.param({"plusTime": ["2021-01-01T10:00:00z", 0, "day"]}, {}, id="plusTime-lowercase-z"),
    pytest.param({"plusTime": ["２０２１", 0, "day"]}, {}, id="plusTime-fullwidth-digits"),
    pytest.param({"plusTime": ["2021-01-01\n", 0, "day"]}, {}, id="plusTime-trailing-newline"),
    pytest.param({"plusTime": ["9999-12-31", 1, "day"]}, {}, id="plusTime-past-9999"),
    pytest.param({"plusTime": ["2021-01-01", 10**30, "hour"]}, {}, id="plusTime-huge-amount"),
    pytest.param({"dccDateOfBirth": [{"var": "d"}]}, {"d": None}, id="dob-null"),
    pytest.param({"dccDateOfBirth": ["2004-01-01T00:00:00Z"]}, {}, id="dob-date-time"),
    pytest.param({"dccDateOfBirth": ["1964-XX-XX"]}, {}, id="dob-xx"),
    pytest.param({"in": ["a", {"var": "x"}]}, {"x": None}, id="in-null"),
    pytest.param({"in": ["a", "abc"]}, {}, id="in-string"),
    pytest.param({"+": [True, 1]}, {}, id="plus-bool"),
    pytest.param({"+": ["1", 1]}, {}, id="plus-string"),
    pytest.param({"+": [{"var": "f"}, 1]}, {"f": 1.5}, id="plus-float"),
    pytest.param({"<": ["a", "b"]}, {}, id="less-on-strings"),
    pytest.param({"<": [1, 2, {"var": "missing"}]}, {}, id="less-with-null"),
    pytest.param({"<": [True, 2]}, {}, id="less-on-bool"),
    pytest.param({"after": [1, 2]}, {}, id="after-on-ints"),
    pytest.param({"before": ["2021-01-01", "2021-01-02"]}, {}, id="before-on-strings"),
    pytest.param({"!": [{"var": "f"}]}, {"f": 0.5}, id="not-on-float"),
    pytest.param({"!": [{"plusTime": ["2021", 0, "day"]}]}, {}, id="not-on-date-time"),
    pytest.param({"and": [True, {"var": "f"}, True]}, {"f": 2.5}, id="and-neither-in-middle"),
    pytest.param({"and": [True, {"var": "f"}]}, {"f": 2.5}, id="and-neither-last"),
    pytest.param({"reduce": ["abc", {"var": "current"}, 0]}, {}, id="reduce-on-string"),
    pytest.param(
        {"reduce": [{"var": "x"}, {"var": "current"}, 0]}, {"x": {"a": 1}}, id="reduce-on-object"
    ),
    pytest.param({"extractFromUVCI": [{"var": "n"}, 0]}, {"n": 1}, id="uvci-on-int"),
]


@pytest.mark.parametrize(("expr", "data"), TYPE_ERRORS)
def test_type_mismatch_at_run_time(expr: Any, data: Any) -> None:
    assert validate(expr) == []
    with pytest.raises(CertLogicError):
        evaluate(expr, data)


# --- safety: data access never reaches Python internals -------------------------------------


class _Object:
    secret = "attribute"

    def __init__(self) -> None:
        self.x = "instance attribute"


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("__class__", {"a": 1}),
        ("__class__.__name__", {"a": 1}),
        ("__dict__", {"a": 1}),
        ("keys", {"a": 1}),
        ("get", {"a": 1}),
        ("a.__class__", {"a": 1}),
        ("a.real", {"a": 1}),
        ("__class__", "text"),
        ("upper", "text"),
        ("0", "text"),
        ("__len__", [1, 2]),
        ("0.__class__", [{"b": 1}]),
        ("-1", [1, 2]),
        ("²", [1, 2]),
        ("1e0", [1, 2]),
        ("9" * 5000, [1, 2]),
        ("x", _Object()),
        ("secret", _Object()),
        ("__init__.__globals__", _Object()),
        ("__import__('os')", {"a": 1}),
        ("__proto__", {"a": 1}),
        ("constructor", {"a": 1}),
    ],
)
def test_var_never_reaches_python_internals(path: str, data: Any) -> None:
    assert evaluate({"var": path}, data) is None


def test_operators_are_not_python_names() -> None:
    for operator in ("__class__", "__getattribute__", "eval", "exec", "__import__", "_var"):
        assert validate({operator: [1]}) == [f'unrecognised operator: "{operator}"']


def test_evaluation_does_not_modify_data() -> None:
    data = {"xs": [{"n": 1}, {"n": 2}], "s": "2021-01-01"}
    before = copy.deepcopy(data)
    evaluate(
        {
            "and": [
                {
                    "reduce": [
                        {"var": "xs"},
                        {"+": [{"var": "accumulator"}, {"var": "current.n"}]},
                        0,
                    ]
                },
                {"after": [{"plusTime": [{"var": "s"}, 1, "day"]}, {"dccDateOfBirth": ["2020"]}]},
            ]
        },
        data,
    )
    assert data == before


def test_var_drills_into_object_keys_that_look_like_indices() -> None:
    assert evaluate({"var": "x.0"}, {"x": {"0": "zero"}}) == "zero"
    assert evaluate({"var": "x.01"}, {"x": ["a", "b"]}) == "b"


# --- date-times (spec: "Offset date-time (plusTime)", "DCC Date of birth") ------------------


def _at(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


def _plus(text: str, amount: int = 0, unit: str = "day") -> Any:
    return evaluate({"plusTime": [text, amount, unit]}, None)


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2021", _at(2021, 12, 31)),
        ("2021-02", _at(2021, 2, 28)),
        ("2020-02", _at(2020, 2, 29)),
        ("2021-06-01", _at(2021, 6, 1)),
        ("2021-06-01T10:20:30", _at(2021, 6, 1, 10, 20, 30)),
        ("2021-06-01T10:20:30Z", _at(2021, 6, 1, 10, 20, 30)),
        ("2021-06-01T10:20:30+2", _at(2021, 6, 1, 8, 20, 30)),
        ("2021-06-01T10:20:30-02", _at(2021, 6, 1, 12, 20, 30)),
        ("2021-06-01T10:20:30+530", _at(2021, 6, 1, 4, 50, 30)),
        ("2021-06-01T10:20:30+0530", _at(2021, 6, 1, 4, 50, 30)),
        ("2021-06-01T10:20:30+5:30", _at(2021, 6, 1, 4, 50, 30)),
        ("2021-06-01T10:20:30-05:30", _at(2021, 6, 1, 15, 50, 30)),
        ("2021-06-01T10:20:30.5", _at(2021, 6, 1, 10, 20, 30, 500_000)),
        ("2021-06-01T10:20:30.5Z", _at(2021, 6, 1, 10, 20, 30, 500_000)),
        ("2021-06-01T10:20:30.123999+1", _at(2021, 6, 1, 9, 20, 30, 123_000)),
        ("2021-06-01T10:20:30.12-01", _at(2021, 6, 1, 11, 20, 30, 120_000)),
        ("2021-06-01T10:20:30.999999999+130", _at(2021, 6, 1, 8, 50, 30, 999_000)),
        ("2021-06-01T10:20:30.0+0100", _at(2021, 6, 1, 9, 20, 30)),
        ("2021-06-01T10:20:30.0+1:00", _at(2021, 6, 1, 9, 20, 30)),
        ("2021-06-01T00:20:30.0+01:00", _at(2021, 5, 31, 23, 20, 30)),
    ],
)
def test_plus_time_parses_every_allowed_format(text: str, instant: datetime) -> None:
    result = _plus(text)
    assert result == instant
    assert result.utcoffset() == timedelta(0)
    assert result.microsecond % 1000 == 0


@pytest.mark.parametrize(
    ("date", "unit", "expected"),
    [
        ("2020-02-29", "day", _at(2020, 3, 1)),
        ("2020-02-29", "month", _at(2020, 3, 29)),
        ("2020-02-29", "year", _at(2021, 3, 1)),
    ],
)
def test_plus_time_leap_day_table_from_spec(date: str, unit: str, expected: datetime) -> None:
    assert _plus(date, 1, unit) == expected


def test_plus_time_month_overflow_follows_set_utc_month() -> None:
    # JS: Date.UTC(2021, 1, 31) is 2021-03-03; setUTCMonth keeps the day and rolls over.
    assert _plus("2021-01-31", 1, "month") == _at(2021, 3, 3)
    assert _plus("2021-03-31", -1, "month") == _at(2021, 3, 3)
    assert _plus("2021-12-15", 1, "month") == _at(2022, 1, 15)
    assert _plus("2021-01-15", -13, "month") == _at(2019, 12, 15)
    assert _plus("2022-02-28T13:37:00Z", -18, "year") == _at(2004, 2, 28, 13, 37)


def test_plus_time_works_on_the_utc_instant() -> None:
    # 23:30 at -01:00 is 00:30Z on 1 February, so +1 month is 1 March 00:30Z.
    assert _plus("2021-01-31T23:30:00-01:00", 1, "month") == _at(2021, 3, 1, 0, 30)
    # Across the EU's 2021-03-28 DST change: a day is 24 h on the instant.
    assert _plus("2021-03-27T12:00:00+01:00", 1, "day") == _at(2021, 3, 28, 11)
    assert _plus("2021-03-27T12:00:00+01:00", 24, "hour") == _at(2021, 3, 28, 11)
    assert _plus("2021-06-01T00:00:00+00:00", 40, "hour") == _at(2021, 6, 2, 16)
    assert _plus("2021-06-01", -1, "hour") == _at(2021, 5, 31, 23)


def test_same_instant_with_different_offsets_compares_equal() -> None:
    expr = {
        "not-before": [
            {"plusTime": ["2021-06-01T12:00:00+02:00", 0, "hour"]},
            {"plusTime": ["2021-06-01T10:00:00Z", 0, "hour"]},
            {"plusTime": ["2021-06-01T05:00:00-5", 0, "hour"]},
        ]
    }
    assert evaluate(expr, None) is True
    strictly = {"after": expr["not-before"][:2]}
    assert evaluate(strictly, None) is False


@pytest.mark.parametrize(
    ("dob", "instant"),
    [
        ("2004", _at(2004, 12, 31)),
        ("2004-02", _at(2004, 2, 29)),
        ("2003-02", _at(2003, 2, 28)),
        ("2004-04", _at(2004, 4, 30)),
        ("2004-01-01", _at(2004, 1, 1)),
    ],
)
def test_dcc_date_of_birth_is_last_consistent_date(dob: str, instant: datetime) -> None:
    assert evaluate({"dccDateOfBirth": [dob]}, None) == instant


def test_date_time_guard_of_if_takes_else_branch() -> None:
    # A date-time is neither truthy nor falsy; "if" takes <then> only on truthy.
    assert evaluate({"if": [{"plusTime": ["2021", 0, "day"]}, "then", "else"]}, None) == "else"


# --- other spec details ---------------------------------------------------------------


def test_booleans_are_not_integers() -> None:
    assert evaluate({"===": [1, True]}, None) is False
    assert evaluate({"===": [0, False]}, None) is False
    assert evaluate({"in": [1, [True]]}, None) is False
    assert evaluate({"in": [{"var": "x"}, {"var": "y"}]}, {"y": [None]}) is True
    assert _json(evaluate({"and": [1, 0]}, None)) == "0"


def test_arrays_and_objects_are_never_strictly_equal() -> None:
    assert evaluate({"===": [[1], [1]]}, None) is False
    assert evaluate({"in": [{"var": "a"}, {"var": "b"}]}, {"a": [1], "b": [[1]]}) is False


def test_ternary_comparison_evaluates_all_operands() -> None:
    # (1 < 0) is already false, but the third operand is still type-checked.
    with pytest.raises(CertLogicError):
        evaluate({"<": [1, 0, "x"]}, None)


def test_and_is_lazy() -> None:
    assert evaluate({"and": [False, {"+": ["not", "ints"]}]}, None) is False


def test_uvci_prefix_is_case_sensitive() -> None:
    assert evaluate({"extractFromUVCI": ["urn:uvci:01:NL", 0]}, None) == "urn"
    assert evaluate({"extractFromUVCI": ["URN:UVCI:01:NL", 0]}, None) == "01"


def test_validate_returns_messages_and_find_issues_the_subexpressions() -> None:
    inner = {"if": [True, 1]}
    expr = {"and": [inner, 2.5]}
    assert [issue.expr for issue in find_issues(expr)] == [inner, 2.5]
    assert validate(expr) == [m.message for m in find_issues(expr)]
    assert all(isinstance(message, str) for message in validate(expr))


# --- healthcode extensions: some / all ------------------------------------------------

IS_TWO = {"===": [{"var": ""}, 2]}
UNDER_FIVE = {"<": [{"var": ""}, 5]}


def test_extensions_are_off_by_default() -> None:
    for operator in ("some", "all"):
        expr = {operator: [[1, 2], IS_TWO]}
        assert validate(expr) == [f'unrecognised operator: "{operator}"']
        assert validate(expr, extensions=True) == []
        with pytest.raises(CertLogicError):
            evaluate(expr, None)


@pytest.mark.parametrize(
    ("operator", "items", "expected"),
    [
        ("some", [1, 2, 3], True),
        ("some", [1, 3], False),
        ("some", [], False),
        ("some", None, False),
        ("all", [2, 2], True),
        ("all", [2, 3], False),
        ("all", [], False),
        ("all", None, False),
    ],
)
def test_some_and_all(operator: str, items: Any, expected: bool) -> None:
    expr = {operator: [{"var": "items"}, IS_TWO]}
    assert evaluate(expr, {"items": items}, extensions=True) is expected


def test_some_and_all_see_each_element_as_the_data() -> None:
    expr = {"some": [{"var": "tests"}, {"===": [{"var": "result"}, "negative"]}]}
    data = {"tests": [{"result": "positive"}, {"result": "negative"}], "result": "negative"}
    assert evaluate(expr, data, extensions=True) is True
    data["tests"] = [{"result": "positive"}]
    assert evaluate(expr, data, extensions=True) is False


def test_some_and_all_short_circuit() -> None:
    assert evaluate({"some": [[2, "x"], UNDER_FIVE]}, None, extensions=True) is True
    assert evaluate({"all": [[7, "x"], UNDER_FIVE]}, None, extensions=True) is False
    with pytest.raises(CertLogicError):
        evaluate({"all": [[2, "x"], UNDER_FIVE]}, None, extensions=True)


def test_some_and_all_reject_bad_operands() -> None:
    with pytest.raises(CertLogicError):
        evaluate({"some": ["abc", IS_TWO]}, None, extensions=True)
    with pytest.raises(CertLogicError):  # element predicate neither truthy nor falsy
        evaluate({"some": [[1.5], {"var": ""}]}, None, extensions=True)
    assert validate({"all": [None]}, extensions=True)
    assert validate({"some": [[1], IS_TWO, 3]}, extensions=True)


def test_some_counts_against_the_budget() -> None:
    expr = {"some": [{"var": "xs"}, IS_TWO]}
    with pytest.raises(BudgetExceeded):
        evaluate(expr, {"xs": [0] * 20_000}, extensions=True)
