"""Token estimates, truncation of over-long inputs, and batching by count and token budget."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Prepared", "estimate_tokens", "plan_batches", "prepare_texts", "truncate_text"]

Rule = Literal["end", "start", "skip", "none"]


def estimate_tokens(text: str, chars_per_token: float = 4.0) -> int:
    """A tokenizer-free upper-leaning estimate: ASCII at ``chars_per_token``, other chars 1 each.

    Never fewer than the number of whitespace-separated words.
    """
    if text.isascii():
        chars = len(text) / chars_per_token
    else:
        ascii_len = len(text.encode("ascii", "ignore"))
        chars = ascii_len / chars_per_token + (len(text) - ascii_len)
    return max(math.ceil(chars), len(text.split()))


def truncate_text(
    text: str,
    max_tokens: int,
    *,
    keep: Literal["start", "end"] = "start",
    prefix: str = "",
    chars_per_token: float = 4.0,
) -> str:
    """The longest head (keep="start") or tail of ``text`` that fits with ``prefix``."""

    def fits(n: int) -> bool:
        part = text[:n] if keep == "start" else text[len(text) - n :]
        return estimate_tokens(prefix + part, chars_per_token) <= max_tokens

    lo, hi = 0, len(text)
    while lo < hi:  # largest n with fits(n); fits is monotone in n
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] if keep == "start" else text[len(text) - lo :]


@dataclass(frozen=True)
class Prepared:
    """Inputs ready to send: original ``indices``, final ``texts``, estimated ``tokens``."""

    indices: list[int]
    texts: list[str]
    tokens: list[int]
    skipped: list[int]
    empty: list[int]
    truncated: int


def prepare_texts(
    texts: Sequence[str], prefix: str, *, max_tokens: int, rule: Rule, chars_per_token: float
) -> Prepared:
    """Add the prefix, apply the truncation rule, and estimate tokens of every input."""
    indices: list[int] = []
    out: list[str] = []
    tokens: list[int] = []
    skipped: list[int] = []
    empty: list[int] = []
    truncated = 0
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
        if not text or text.isspace():
            empty.append(i)
            continue
        full = prefix + text
        est = estimate_tokens(full, chars_per_token)
        if est > max_tokens and rule != "none":
            if rule == "skip":
                skipped.append(i)
                continue
            cut = truncate_text(
                text,
                max_tokens,
                keep="start" if rule == "end" else "end",
                prefix=prefix,
                chars_per_token=chars_per_token,
            )
            if not cut.strip():
                skipped.append(i)
                continue
            full = prefix + cut
            est = estimate_tokens(full, chars_per_token)
            truncated += 1
        indices.append(i)
        out.append(full)
        tokens.append(est)
    return Prepared(indices, out, tokens, skipped, empty, truncated)


def plan_batches(tokens: Sequence[int], max_items: int, max_tokens: int) -> list[range]:
    """Split positions ``0..len(tokens)`` into consecutive runs within both limits.

    A single input above ``max_tokens`` forms a batch of its own. ``max_tokens <= 0``
    means no token budget.
    """
    batches: list[range] = []
    start = 0
    total = 0
    for pos, cost in enumerate(tokens):
        count = pos - start
        over_budget = max_tokens > 0 and total + cost > max_tokens
        if count and (count >= max_items or over_budget):
            batches.append(range(start, pos))
            start, total = pos, 0
        total += cost
    if start < len(tokens):
        batches.append(range(start, len(tokens)))
    return batches
