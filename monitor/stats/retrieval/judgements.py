"""Checks of ids and cut-offs, and the grades of ranked documents from the qrels."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEFAULT_KS", "NoRelevant", "Qrels"]

Qrels = Mapping[str, Mapping[str, int]]
NoRelevant = Literal["skip", "zero"]

DEFAULT_KS = (1, 5, 10)


def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    if isinstance(ks, int | str) or len(ks) == 0:
        raise ValueError(f"ks must be a non-empty sequence of positive integers, got {ks!r}")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"ks must hold positive integers, got {k!r}")
    return tuple(sorted({int(k) for k in ks}))


def _check_choice(no_relevant: str) -> None:
    if no_relevant not in ("skip", "zero"):
        raise ValueError(f"no_relevant must be 'skip' or 'zero', got {no_relevant!r}")


def _ids(ids: Sequence[str], n: int, name: str) -> list[str]:
    out = [str(i) for i in ids]
    if len(out) != n:
        raise ValueError(f"{name} has {len(out)} ids for {n} rows")
    if len(set(out)) != n:
        raise ValueError(f"{name} holds duplicate ids")
    return out


def _judgements(
    query_ids: list[str],
    doc_ids: list[str],
    qrels: Qrels,
) -> tuple[NDArray[np.int64], NDArray[np.int64], list[list[int]], int, NDArray[np.bool_]]:
    """Sorted keys ``query row * n + doc row`` and their grades; positive grades per
    query (descending); relevant judgements of absent documents; whether in the qrels."""
    row = {d: i for i, d in enumerate(doc_ids)}
    by_query = {str(q): judged for q, judged in qrels.items()}
    keys: list[int] = []
    grades: list[int] = []
    positive: list[list[int]] = []
    missing = 0
    in_qrels = np.zeros(len(query_ids), dtype=bool)
    for qi, qid in enumerate(query_ids):
        judged = by_query.get(qid) or {}
        in_qrels[qi] = bool(judged)
        gains: list[int] = []
        for did, grade in judged.items():
            if isinstance(grade, bool) or not isinstance(grade, numbers.Integral):
                raise ValueError(f"qrels[{qid!r}][{did!r}] must be an integer grade, got {grade!r}")
            if grade > 0:
                gains.append(int(grade))
            di = row.get(str(did))
            if di is None:
                missing += int(grade > 0)
            else:
                keys.append(qi * len(doc_ids) + di)
                grades.append(int(grade))
        positive.append(sorted(gains, reverse=True))
    k = np.array(keys, dtype=np.int64)
    order = np.argsort(k)
    return k[order], np.array(grades, dtype=np.int64)[order], positive, missing, in_qrels
