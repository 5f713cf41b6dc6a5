"""Retention: what is kept how long, and the sweep that deletes the rest.

:mod:`.policy` states the periods (days per kind of record, derived from the
trip-card policies where they come from there); :mod:`.sweep` has one function
per kind, each taking the instant ``at`` it measures from, and
:func:`~.sweep.sweep_all`, which ``healthcode retention sweep`` runs (and audits
as ``retention:sweep`` with the counts).
"""

from healthcode.retention.policy import RetentionPolicy
from healthcode.retention.sweep import sweep_all

__all__ = ["RetentionPolicy", "sweep_all"]
