"""A safe CertLogic evaluator (CertLogic specification 1.3.3).

CertLogic is the JsonLogic subset in which EU DCC business rules are written
(``dcc-schema/certlogic/SPEC-README.md``; "spec" below). An expression is
JSON: a literal (string, integer, boolean), an array (evaluated item by item),
or an operation object ``{"<operator>": [<operands...>]}`` — except data access,
``{"var": "<path>"}``.

Operations (spec section "Operations"):

======================  ==================================================
``var``                 dotted path into the data; integer fragments index
                        arrays; anything missing gives ``null``
``if``                  ``[guard, then, else]``; only one branch is evaluated
``===``, ``in``, ``+``  exactly 2 operands; ``in`` needs an array on the right,
                        ``+`` two integers
``and``                 2+ operands, lazy; returns the first falsy operand or
                        the last one
``<`` ``>`` ``<=``      2 or 3 integer operands; ``a < b < c`` for 3
``>=``
``after`` ``before``    the same for date-times
``not-after``
``not-before``
``!``                   1 operand
``plusTime``            ``[date(-time) string, integer literal, unit literal]``
``reduce``              ``[array or null, lambda, initial]``
``extractFromUVCI``     ``[string or null, integer literal]``
``dccDateOfBirth``      ``[YYYY | YYYY-MM | YYYY-MM-DD]``
======================  ==================================================

There is no ``!!``, ``or``, ``==``, ``var`` default, object or ``null`` literal.

**healthcode extensions** (not CertLogic; accepted only with
``extensions=True``, so EU rules are checked against the spec alone):

- ``{"some": [array, expr]}`` — true when ``expr`` is truthy for at least one
  element; ``expr`` sees the element as its whole data (``{"var": ""}``).
- ``{"all": [array, expr]}`` — true when ``expr`` is truthy for every element
  *and there is at least one* (as in JsonLogic: an empty list never passes).

  In both, ``null`` counts as an empty array, and ``expr`` must give a truthy
  or falsy value for each element it is evaluated on (else an error).

Values. Truthy/falsy follow the spec's "Truthy and falsy values": ``false``,
``null``, ``""``, ``0``, ``[]``, ``{}`` are falsy; ``true``, non-empty strings,
non-zero integers, non-empty arrays and objects are truthy; anything else
(non-integer numbers, date-times) is neither. Booleans are never integers
(``{"===": [1, true]}`` is false, ``{"+": [true, 1]}`` an error). Date-times
are returned as aware :class:`~datetime.datetime` values in UTC with
millisecond precision.

Safety. Data is only ever read with ``dict`` look-ups and ``list`` indexing
(never ``getattr``, never ``eval``), so ``{"var": "__class__"}`` is ``null``.
:func:`evaluate` validates the whole expression before evaluating anything
(spec, introduction), nesting is limited to :data:`MAX_DEPTH` levels, and evaluation is
charged against ``budget`` for all the work it does: one unit per evaluated
operation, per evaluated array plus one per element (it is copied), per element
``in`` searches, per element ``reduce``/``some``/``all`` walk (besides their
lambda's own operations). Scalar literals are free. So the work of any expression
on any data is bounded by its budget, not by the size of arrays in the expression
or the data.

Choices where the spec is silent or the reference implementations differ:

- ``and`` checks every evaluated operand, including the last, is truthy or
  falsy ("All operands must evaluate to either a truthy or falsy value"); the JS
  and Kotlin implementations skip that check on the last operand.
- ``===`` compares ``null``, booleans, integers, strings and floats by type and
  value; arrays, objects and date-times are never ``===`` (JS compares those by
  reference; the spec calls them unreliable). ``in`` uses the same equality.
- ``reduce`` over ``null`` gives the initial value (as the test suite expects);
  over anything else that is not an array it is an error.
- ``var`` does not index into strings (``"abc".0`` is ``null``), and a float
  such as ``14.0`` is not an integer, in expressions or in data.
- Dates the spec calls undefined (``"2021-09-99"``) or outside years 1–9999
  raise :class:`CertLogicError`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from healthcode.errors import InputError

__all__ = [
    "MAX_DEPTH",
    "BudgetExceeded",
    "CertLogicError",
    "Issue",
    "evaluate",
    "find_issues",
    "validate",
]

MAX_DEPTH: Final = 64
"""Deepest nesting of arrays/operations accepted in an expression, in levels."""

TIME_UNITS: Final = ("year", "month", "day", "hour")
"""The ``plusTime`` units (spec, "Offset date-time (plusTime)")."""


class CertLogicError(InputError):
    """An invalid CertLogic expression, or a type mismatch found while evaluating.

    The spec advises treating this as "rule not satisfied" (``false``).
    """

    code = "certlogic-invalid"


class BudgetExceeded(CertLogicError):
    """Evaluation needed more operations than its ``budget`` allows."""

    code = "certlogic-budget-exceeded"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found by :func:`find_issues`: the offending (sub-)expression and why."""

    expr: Any
    message: str


# --- validation ---------------------------------------------------------------

_COMPARISONS: Final = frozenset(
    {"<", ">", "<=", ">=", "after", "before", "not-after", "not-before"}
)
# operator -> (fewest operands, most operands)
_ARITY: Final[dict[str, tuple[int, int]]] = {
    "if": (3, 3),
    "===": (2, 2),
    "in": (2, 2),
    "+": (2, 2),
    "and": (2, 1 << 62),
    "!": (1, 1),
    "plusTime": (3, 3),
    "reduce": (3, 3),
    "extractFromUVCI": (2, 2),
    "dccDateOfBirth": (1, 1),
    **dict.fromkeys(_COMPARISONS, (2, 3)),
}
_EXTENSION_ARITY: Final[dict[str, tuple[int, int]]] = {"some": (2, 2), "all": (2, 2)}
# operators whose operands after the first are literals, not expressions
_LITERAL_TAIL: Final = frozenset({"plusTime", "extractFromUVCI"})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _valid_path(path: str) -> bool:
    return path == "" or "" not in path.split(".")


def _check(expr: Any, depth: int, extensions: bool, out: list[Issue]) -> None:
    if depth > MAX_DEPTH:
        out.append(Issue(expr, f"expression nested deeper than {MAX_DEPTH} levels"))
        return
    if isinstance(expr, str | bool | int):
        return
    if expr is None:
        out.append(Issue(expr, "invalid CertLogic expression"))
        return
    if isinstance(expr, float):
        out.append(Issue(expr, f"{expr!r} is a non-integer number"))
        return
    if isinstance(expr, list):
        for item in expr:
            _check(item, depth + 1, extensions, out)
        return
    if not isinstance(expr, dict):
        out.append(Issue(expr, "invalid CertLogic expression"))
        return
    if len(expr) != 1:
        out.append(
            Issue(expr, f"expression object must have exactly one key, but it has {len(expr)}")
        )
        return
    ((operator, operands),) = expr.items()
    if operator == "var":
        if not isinstance(operands, str):
            out.append(Issue(expr, 'not of the form { "var": "<path>" }'))
        elif not _valid_path(operands):
            out.append(Issue(expr, f"data access path doesn't have a valid format: {operands}"))
        return
    if not isinstance(operands, list):
        out.append(Issue(expr, 'operation not of the form { "<operator>": [ <values...> ] }'))
        return
    arity = _ARITY.get(operator) or (_EXTENSION_ARITY.get(operator) if extensions else None)
    if arity is None:
        out.append(Issue(expr, f'unrecognised operator: "{operator}"'))
        return
    least, most = arity
    if not least <= len(operands) <= most:
        wanted = str(least) if least == most else f"{least} or {most}"
        if most > 3:
            wanted = f"at least {least}"
        out.append(
            Issue(
                expr,
                f'an operation with operator "{operator}" must have {wanted} operands,'
                f" but it has {len(operands)}",
            )
        )
    elif operator == "plusTime":
        if not _is_int(operands[1]):
            out.append(Issue(expr, 'operand #2 of "plusTime" must be an integer literal'))
        if not isinstance(operands[2], str) or operands[2] not in TIME_UNITS:
            out.append(
                Issue(expr, f'operand #3 of "plusTime" must be one of {", ".join(TIME_UNITS)}')
            )
    elif operator == "extractFromUVCI" and not _is_int(operands[1]):
        out.append(Issue(expr, 'operand #2 of "extractFromUVCI" must be an integer literal'))
    expressions = operands[:1] if operator in _LITERAL_TAIL else operands
    for operand in expressions:
        _check(operand, depth + 1, extensions, out)


def find_issues(expr: Any, *, extensions: bool = False) -> list[Issue]:
    """All problems that make ``expr`` an invalid CertLogic expression.

    Checks structure only (spec, introduction and "Operations"): literal types,
    one key per operation object, known operators, operand counts, literal
    operands of ``plusTime``/``extractFromUVCI``, ``var`` path syntax, nesting
    up to :data:`MAX_DEPTH`. Type mismatches that depend on data are found only
    when evaluating.

    :param expr: a JSON-like value (``dict``/``list``/``str``/``int``/``bool``/...).
    :param extensions: also accept the healthcode ``some``/``all`` operators.
    :param checked: the caller already validated ``expr`` with :func:`find_issues`
        (e.g. a rule set checked when it was loaded); skips that step.
    :returns: one :class:`Issue` per problem, outermost first; empty when valid.
    """
    issues: list[Issue] = []
    _check(expr, 0, extensions, issues)
    return issues


def validate(expr: Any, *, extensions: bool = False) -> list[str]:
    """The messages of :func:`find_issues` — empty when ``expr`` is valid CertLogic.

    :param extensions: also accept the healthcode ``some``/``all`` operators.
    """
    return [issue.message for issue in find_issues(expr, extensions=extensions)]


# --- values ---------------------------------------------------------------------


def _truthiness(value: Any) -> bool | None:
    """True if truthy, False if falsy, None if neither (spec, "Truthy and falsy values")."""
    if value is True:
        return True
    if value is False or value is None:
        return False
    if isinstance(value, str | list | dict):
        return len(value) > 0
    if isinstance(value, int):
        return value != 0
    return None


_SCALARS: Final = (str, int, bool, float, type(None))


def _strict_equal(left: Any, right: Any) -> bool:
    """``===`` (spec, "Operations with infix operators"): same type and value, scalars only."""
    kind = type(left)
    return kind is type(right) and kind in _SCALARS and bool(left == right)


def _is_date_time(value: Any) -> bool:
    return isinstance(value, datetime) and value.utcoffset() is not None


# YYYY[-MM[-DD[Thh:mm:ss[.S+][Z|±h|±hh|±hmm|±hhmm|±h:mm|±hh:mm]]]]
_DATE_TIME: Final = re.compile(
    r"(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})(?:\.(?P<frac>\d+))?"
    r"(?:(?P<z>Z)|(?P<sign>[+-])(?P<oh>\d{1,2})(?::?(?P<om>\d{2}))?)?)?)?)?",
    re.ASCII,
)
_DATE_OF_BIRTH: Final = re.compile(r"(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2}))?)?", re.ASCII)


def _last_day(year: int, month: int) -> int:
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return (following - timedelta(days=1)).day


@functools.lru_cache(maxsize=8192)
def _parse_date_time(text: str, pattern: re.Pattern[str], operator: str) -> datetime:
    """Parse per spec "Offset date-time" / "DCC Date of birth"; partial dates give the last day.

    Cached: bulk evaluation compares many facts against the same few instants
    (datetimes are immutable, so sharing results is safe)."""
    match = pattern.fullmatch(text)
    if match is None:
        raise CertLogicError(f"{operator}: not a date(-time) in an allowed format: {text!r}")
    parts = match.groupdict()
    try:
        year = int(parts["y"])
        month = int(parts["mo"] or 12)
        day = int(parts["d"]) if parts["d"] else _last_day(year, month)
        offset = timedelta()
        if parts.get("sign"):
            minutes = int(parts["om"] or 0)
            if minutes > 59 or int(parts["oh"]) > 23:
                raise ValueError("offset out of range")
            offset = timedelta(hours=int(parts["oh"]), minutes=minutes)
            if parts["sign"] == "-":
                offset = -offset
        milliseconds = int((parts.get("frac") or "0")[:3].ljust(3, "0"))
        local = datetime(
            year,
            month,
            day,
            int(parts.get("h") or 0),
            int(parts.get("mi") or 0),
            int(parts.get("s") or 0),
            milliseconds * 1000,
            tzinfo=timezone(offset),
        )
        return local.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise CertLogicError(f"{operator}: not a valid date(-time): {text!r}") from exc


def _plus_time(moment: datetime, amount: int, unit: str) -> datetime:
    """``moment`` + ``amount`` ``unit``s, computed on UTC fields like JS ``Date.setUTC*``.

    Days and hours are exact durations on the instant (no DST). Months and years
    keep the day of month and time, letting an impossible day roll over into the
    next month: 2020-02-29 + 1 year = 2021-03-01, 2021-01-31 + 1 month = 2021-03-03.
    """
    try:
        if unit == "hour":
            return moment + timedelta(hours=amount)
        if unit == "day":
            return moment + timedelta(days=amount)
        if unit == "month":
            year, month0 = divmod(moment.year * 12 + moment.month - 1 + amount, 12)
        else:
            year, month0 = moment.year + amount, moment.month - 1
        first = moment.replace(year=year, month=month0 + 1, day=1)
        return first + timedelta(days=moment.day - 1)
    except (ValueError, OverflowError) as exc:
        raise CertLogicError(f"plusTime: result outside years 1-9999 ({amount} {unit})") from exc


# --- evaluation -------------------------------------------------------------------


class _Evaluator:
    __slots__ = ("remaining",)

    def __init__(self, budget: int) -> None:
        self.remaining = budget

    def run(self, expr: Any, data: Any) -> Any:
        if isinstance(expr, dict):
            self._spend()
            ((operator, operands),) = expr.items()
            return _OPERATIONS[operator](self, operands, data)
        if isinstance(expr, list):
            self._spend(1 + len(expr))
            return [self.run(item, data) for item in expr]
        return expr

    def _spend(self, units: int = 1) -> None:
        self.remaining -= units
        if self.remaining < 0:
            raise BudgetExceeded("CertLogic evaluation exceeded its operation budget")

    def condition(self, expr: Any, data: Any, operator: str) -> bool:
        value = self.run(expr, data)
        truth = _truthiness(value)
        if truth is None:
            raise CertLogicError(f'an operand of "{operator}" is neither truthy nor falsy')
        return truth


Operation = Callable[[_Evaluator, Any, Any], Any]


def _var(ev: _Evaluator, path: str, data: Any) -> Any:
    if path == "":
        return data
    value = data
    for fragment in path.split("."):
        if isinstance(value, dict):
            value = dict.get(value, fragment)
        elif isinstance(value, list):
            if not (fragment.isascii() and fragment.isdigit() and len(fragment) <= 18):
                return None
            index = int(fragment)
            value = value[index] if index < len(value) else None
        else:
            return None
    return value


def _if(ev: _Evaluator, operands: list[Any], data: Any) -> Any:
    guard = ev.run(operands[0], data)
    return ev.run(operands[1] if _truthiness(guard) else operands[2], data)


def _and(ev: _Evaluator, operands: list[Any], data: Any) -> Any:
    value: Any = None
    for operand in operands:
        value = ev.run(operand, data)
        truth = _truthiness(value)
        if truth is None:
            raise CertLogicError('all operands of "and" must be either truthy or falsy')
        if not truth:
            return value
    return value


def _not(ev: _Evaluator, operands: list[Any], data: Any) -> bool:
    return not ev.condition(operands[0], data, "!")


def _equal(ev: _Evaluator, operands: list[Any], data: Any) -> bool:
    return _strict_equal(ev.run(operands[0], data), ev.run(operands[1], data))


def _in(ev: _Evaluator, operands: list[Any], data: Any) -> bool:
    needle = ev.run(operands[0], data)
    haystack = ev.run(operands[1], data)
    if not isinstance(haystack, list):
        raise CertLogicError('right-hand side of "in" must be an array')
    ev._spend(len(haystack))
    return any(_strict_equal(needle, item) for item in haystack)


def _plus(ev: _Evaluator, operands: list[Any], data: Any) -> int:
    left = ev.run(operands[0], data)
    right = ev.run(operands[1], data)
    if not (_is_int(left) and _is_int(right)):
        raise CertLogicError('operands of "+" must both be integers')
    return int(left + right)


_ORDER: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "before": lambda a, b: a < b,
    "after": lambda a, b: a > b,
    "not-after": lambda a, b: a <= b,
    "not-before": lambda a, b: a >= b,
}


def _comparison(operator: str) -> Operation:
    holds = _ORDER[operator]
    on_dates = operator not in ("<", ">", "<=", ">=")
    kind = "date-times" if on_dates else "integers"
    accepts = _is_date_time if on_dates else _is_int

    def compare(ev: _Evaluator, operands: list[Any], data: Any) -> bool:
        values = [ev.run(operand, data) for operand in operands]
        if not all(accepts(value) for value in values):
            raise CertLogicError(f'all operands of "{operator}" must be {kind}')
        return all(holds(a, b) for a, b in zip(values, values[1:], strict=False))

    return compare


def _plus_time_op(ev: _Evaluator, operands: list[Any], data: Any) -> datetime:
    text = ev.run(operands[0], data)
    if not isinstance(text, str):
        raise CertLogicError('operand #1 of "plusTime" must be a date(-time) string')
    return _plus_time(_parse_date_time(text, _DATE_TIME, "plusTime"), operands[1], operands[2])


def _date_of_birth(ev: _Evaluator, operands: list[Any], data: Any) -> datetime:
    text = ev.run(operands[0], data)
    if not isinstance(text, str):
        raise CertLogicError('operand of "dccDateOfBirth" must be a string')
    return _parse_date_time(text, _DATE_OF_BIRTH, "dccDateOfBirth")


def _reduce(ev: _Evaluator, operands: list[Any], data: Any) -> Any:
    items = ev.run(operands[0], data)
    if items is None:
        return ev.run(operands[2], data)
    if not isinstance(items, list):
        raise CertLogicError('operand #1 of "reduce" must be an array or null')
    ev._spend(len(items))
    lambda_ = operands[1]
    accumulator = ev.run(operands[2], data)
    for current in items:
        accumulator = ev.run(lambda_, {"current": current, "accumulator": accumulator})
    return accumulator


_UVCI_PREFIX: Final = "URN:UVCI:"
_UVCI_SEPARATORS: Final = re.compile(r"[/#:]")


def _extract_from_uvci(ev: _Evaluator, operands: list[Any], data: Any) -> str | None:
    uvci = ev.run(operands[0], data)
    if uvci is None:
        return None
    if not isinstance(uvci, str):
        raise CertLogicError('operand #1 of "extractFromUVCI" must be a string or null')
    index: int = operands[1]
    fragments = _UVCI_SEPARATORS.split(uvci.removeprefix(_UVCI_PREFIX))
    return fragments[index] if 0 <= index < len(fragments) else None


def _elements(ev: _Evaluator, operand: Any, data: Any, operator: str) -> list[Any]:
    items = ev.run(operand, data)
    if items is None:
        return []
    if not isinstance(items, list):
        raise CertLogicError(f'operand #1 of "{operator}" must be an array or null')
    return items


def _some(ev: _Evaluator, operands: list[Any], data: Any) -> bool:
    for item in _elements(ev, operands[0], data, "some"):
        ev._spend()
        if ev.condition(operands[1], item, "some"):
            return True
    return False


def _all(ev: _Evaluator, operands: list[Any], data: Any) -> bool:
    items = _elements(ev, operands[0], data, "all")
    for item in items:
        ev._spend()
        if not ev.condition(operands[1], item, "all"):
            return False
    return bool(items)


_OPERATIONS: Final[dict[str, Operation]] = {
    "var": _var,
    "if": _if,
    "and": _and,
    "!": _not,
    "===": _equal,
    "in": _in,
    "+": _plus,
    **{operator: _comparison(operator) for operator in _ORDER},
    "plusTime": _plus_time_op,
    "dccDateOfBirth": _date_of_birth,
    "reduce": _reduce,
    "extractFromUVCI": _extract_from_uvci,
    "some": _some,
    "all": _all,
}


def evaluate(
    expr: Any, data: Any, *, budget: int = 10_000, extensions: bool = False, checked: bool = False
) -> Any:
    """Evaluate a CertLogic expression against a data context (spec, introduction).

    :param expr: the expression, as parsed JSON.
    :param data: the data context, as parsed JSON (``dict``/``list``/``str``/
        ``int``/``float``/``bool``/``None``); it is read, never modified.
    :param budget: most work done, in units: one per evaluated operation object,
        one per evaluated array and one per its element, one per element an ``in``
        searches or a ``reduce``/``some``/``all`` walks (their lambda's operations
        count on every element too).
    :param extensions: also accept the healthcode ``some``/``all`` operators.
    :param checked: the caller already validated ``expr`` with :func:`find_issues`
        (e.g. a rule set checked when it was loaded); skips that step.
    :returns: a JSON value, or an aware UTC :class:`~datetime.datetime` for
        date-time results (``plusTime``, ``dccDateOfBirth``). May be (part of)
        ``data`` itself, not a copy.
    :raises CertLogicError: ``expr`` is invalid (see :func:`find_issues`; checked
        before anything is evaluated), or an operand has the wrong type at run
        time (e.g. ``plusTime`` on a non-string, ``in`` on a non-array, ``!`` of
        a date-time, an impossible date).
    :raises BudgetExceeded: more than ``budget`` operations would be evaluated.
    """
    issues = [] if checked else find_issues(expr, extensions=extensions)
    if issues:
        raise CertLogicError(
            f"invalid CertLogic expression: {issues[0].message}",
            details={"issues": [issue.message for issue in issues]},
        )
    return _Evaluator(budget).run(expr, data)
