"""Per-stage pass counts of the conformance runners, printed at the end of the session."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class Tally:
    """Checks per suite and stage: passed / total, plus the skips with their reasons."""

    checks: dict[str, dict[str, list[int]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(lambda: [0, 0]))
    )
    skips: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    unchecked: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )

    def not_checked(self, suite: str, what: str) -> None:
        """Count a flag left unchecked on purpose (out of scope), printed once per kind."""
        self.unchecked[suite][what] += 1

    def record(self, suite: str, stage: str, ok: bool, case: str = "") -> None:
        entry = self.checks[suite][stage]
        entry[1] += 1
        if ok:
            entry[0] += 1
        else:
            self.failures[suite].append(f"{case}: {stage}")

    def skip(self, suite: str, message: str) -> None:
        self.skips[suite].append(message)

    def lines(self) -> list[str]:
        out: list[str] = []
        for suite in sorted(set(self.checks) | set(self.skips)):
            out.append(f"{suite}: per-stage pass rate")
            total_ok = total = 0
            for stage, (ok, n) in sorted(self.checks[suite].items()):
                out.append(f"  {stage:<22} {ok:>4}/{n:<4} {100.0 * ok / n:6.1f} %")
                total_ok += ok
                total += n
            if total:
                out.append(
                    f"  {'all checks':<22} {total_ok:>4}/{total:<4} {100.0 * total_ok / total:6.1f} %"
                )
            for what, count in sorted(self.unchecked[suite].items()):
                out.append(f"  not checked: {what} x{count}")
            for message in self.skips[suite]:
                out.append(f"  skipped: {message}")
            for message in self.failures[suite][:50]:
                out.append(f"  FAILED: {message}")
        return out


TALLY = Tally()
