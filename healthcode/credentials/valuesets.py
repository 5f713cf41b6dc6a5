"""EU DCC value sets: code → display name, and code lists for CertLogic.

A value-set file (``eu-dcc-valuesets/*.json``) is
``{"valueSetId": ..., "valueSetDate": ..., "valueSetValues": {code: {"display": ...}}}``.
:class:`ValueSets` keys each set by its ``valueSetId`` *and* by its file stem
(``test-manf-example`` also as ``test-manf``), because the DCC schema names
value sets by file (``valueset-uri``) while business rules name them by id.

:func:`parse_value_sets` is pure; :func:`load_value_sets` is the edge loader that
reads a folder (called by the CLI/web, never by verification code).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

__all__ = ["ValueSets", "load_value_sets", "parse_value_sets"]


@dataclass(frozen=True)
class ValueSets(Mapping[str, Mapping[str, str]]):
    """Value sets by id and by file stem: ``vs["vaccine-medicinal-product"]["EU/1/20/1528"]``.

    :ivar sets: key (id or stem) → code → display name.
    :ivar ids: the ``valueSetId`` of each set, in load order.
    """

    sets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    ids: tuple[str, ...] = ()

    def __getitem__(self, key: str) -> Mapping[str, str]:
        return self.sets[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.sets)

    def __len__(self) -> int:
        return len(self.sets)

    def display(self, value_set: str, code: str) -> str | None:
        """Display name of ``code`` in ``value_set`` (id or stem), or None."""
        return self.sets.get(value_set, {}).get(code)

    def codes(self) -> dict[str, list[str]]:
        """``{valueSetId: [codes]}`` — the shape of CertLogic's ``external.valueSets``."""
        return {vid: sorted(self.sets[vid]) for vid in self.ids}


def parse_value_sets(docs: Iterable[tuple[str, Mapping[str, Any]]]) -> ValueSets:
    """Build :class:`ValueSets` from ``(file stem, parsed JSON)`` pairs; other JSON is ignored."""
    sets: dict[str, dict[str, str]] = {}
    ids: list[str] = []
    for stem, doc in docs:
        values = doc.get("valueSetValues") if isinstance(doc, Mapping) else None
        vid = doc.get("valueSetId") if isinstance(doc, Mapping) else None
        if not isinstance(values, Mapping) or not isinstance(vid, str):
            continue
        table = {
            str(code): str(entry.get("display", code)) if isinstance(entry, Mapping) else str(code)
            for code, entry in values.items()
        }
        ids.append(vid)
        for key in {vid, stem, stem.removesuffix("-example")}:
            sets.setdefault(key, table)
    return ValueSets(sets, tuple(ids))


def load_value_sets(folder: str | PathLike[str]) -> ValueSets:
    """Read every ``*.json`` value set in ``folder`` (not recursive).

    :raises FileNotFoundError: ``folder`` does not exist.
    :raises ValueError: a file is not JSON.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"value-set folder not found: {root}")
    docs = []
    for path in sorted(root.glob("*.json")):
        docs.append((path.stem, json.loads(path.read_text(encoding="utf-8"))))
    return parse_value_sets(docs)
