"""False alarms and power of every test and of the verdict on real text (manual pages, e5-small).

Pairs of windows are drawn from the corpus of ``realtext_corpus.py`` (or a
fixture slice with ``--data``); ``run_suite`` runs on each pair at every
``--alpha``; one JSON line per (pair, alpha) goes to ``--out`` (resumable),
and ``--table`` prints the markdown tables of RESULTS.md.

Scenarios (``ref`` and ``cur`` are disjoint unless a topic runs out, see
``_take``):

* ``null``     both windows drawn from the whole corpus (the same topic mix);
* ``new-P``    ``cur`` has a share P % of one topic that ``ref`` lacks
               (topic rotates over the pairs);
* ``reweight`` one existing topic's share doubled in ``cur``;
* ``gradual``  one existing topic's share rises linearly across ``cur`` from
               its reference share to 3x it (2x on average).

Besides the verdict it records each test alone (its own p-value <= alpha).

    python benchmarks/realtext_bench.py --n 200 1000 --out benchmarks/.cache/rt.jsonl
    python benchmarks/realtext_bench.py --n 5000 --null-pairs 10 --shift-pairs 5 --out ...
    python benchmarks/realtext_bench.py --table --out benchmarks/.cache/rt.jsonl

Two processes on two cores: ``--part 0/2`` and ``--part 1/2``, each with its
own ``--out`` (``rt.jsonl.0``, ``rt.jsonl.1``); ``--table --out rt.jsonl``
reads every file whose name starts with that name.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from monitor.stats import run_suite

SCENARIOS = ("null", "new-2", "new-5", "new-10", "new-20", "reweight", "gradual")


def _take(
    pool: dict[int, list[int]],
    full: dict[int, list[int]],
    topic: int,
    k: int,
    rng: np.random.Generator,
) -> list[int]:
    """``k`` rows of ``topic`` removed from ``pool``; when it runs out, reuse rows (duplicates)."""
    rows = pool[topic]
    got = rows[:k]
    del rows[:k]
    if len(got) < k:  # only for large n: a topic too small for both windows
        got += [int(i) for i in rng.choice(np.asarray(full[topic]), k - len(got))]
    return got


def make_pair(
    topic: np.ndarray, scenario: str, n: int, index: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, str]:
    """Row indices of (ref, cur) and a description of the change."""
    k = int(topic.max()) + 1
    order = rng.permutation(topic.size)
    pool = {t: [int(i) for i in order if topic[i] == t] for t in range(k)}
    full = {t: list(rows) for t, rows in pool.items()}
    sizes = np.bincount(topic, minlength=k).astype(float)
    if scenario == "null":
        return order[:n], order[n : 2 * n], "none"
    if scenario.startswith("new-"):
        share = int(scenario[4:]) / 100.0
        big = [t for t in range(k) if sizes[t] >= share * n] or [int(sizes.argmax())]
        new = big[index % len(big)]
        others = np.asarray([i for i in order if topic[i] != new])
        m_new = int(round(share * n))
        cur = np.concatenate([others[n : 2 * n - m_new], pool[new][:m_new]])
        return others[:n], cur, f"topic {new} new"
    mix = sizes / sizes.sum()
    moved = int(index % k)
    ref = np.asarray(
        [i for t, c in enumerate(rng.multinomial(n, mix)) for i in _take(pool, full, t, c, rng)]
    )
    if scenario == "reweight":
        w = mix.copy()
        w[moved] *= 2.0
        counts = rng.multinomial(n, w / w.sum())
    else:  # gradual: the moved topic's weight rises linearly over the window
        pos = np.linspace(0.0, 1.0, n)
        p_moved = mix[moved] * (1.0 + 2.0 * pos)
        is_moved = rng.random(n) < p_moved
        rest = rng.multinomial(int((~is_moved).sum()), np.delete(mix, moved) / (1 - mix[moved]))
        counts = np.insert(rest, moved, int(is_moved.sum()))
    cur = np.asarray([i for t, c in enumerate(counts) for i in _take(pool, full, t, c, rng)])
    return ref, cur, f"topic {moved} x2"


def run(args: argparse.Namespace, emb: np.ndarray, topic: np.ndarray) -> None:
    done = set()
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            r = json.loads(line)
            done.add((r["scenario"], r["n"], r["pair"], r["alpha"]))
    # round robin over the cells (three null pairs per round), so that an
    # interrupted run leaves every cell with a similar number of pairs
    rounds = max(args.shift_pairs, -(-args.null_pairs // 3))
    plan = [
        (n, scenario, pair)
        for n in args.n
        for r in range(rounds)
        for scenario in SCENARIOS
        for pair in (
            range(3 * r, min(3 * r + 3, args.null_pairs))
            if scenario == "null"
            else ([r] if r < args.shift_pairs else [])
        )
    ]
    part, parts = (int(x) for x in args.part.split("/"))
    with args.out.open("a") as out:
        for n, scenario, pair in plan[part::parts]:
            todo = [a for a in args.alpha if (scenario, n, pair, a) not in done]
            if todo:
                _run_pair(out, emb, topic, (n, scenario, pair), todo, args.tests)


def _run_pair(
    out: Any,
    emb: np.ndarray,
    topic: np.ndarray,
    cell: tuple[int, str, int],
    alphas: list[float],
    tests: list[str] | None,
) -> None:
    n, scenario, pair = cell
    rng = np.random.default_rng([n, SCENARIOS.index(scenario), pair])
    ref, cur, what = make_pair(topic, scenario, n, pair, rng)
    for alpha in alphas:
        t0 = time.perf_counter()
        res = run_suite(emb[ref], emb[cur], alpha=alpha, seed=pair, explain=False, tests=tests)
        flags = {name: {"p_value": t.p_value, "drift": t.drift} for name, t in res.tests.items()}
        row = {
            "scenario": scenario,
            "n": n,
            "pair": pair,
            "alpha": alpha,
            "change": what,
            "verdict": res.verdict,
            "verdict_p": (res.method or {}).get("p_value"),
            "tests": flags,
            "seconds": time.perf_counter() - t0,
        }
        out.write(json.dumps(row) + "\n")
        out.flush()
    print(f"{scenario} n={n} pair {pair}: {res.verdict}", file=sys.stderr)


COLUMNS = (
    "mmd",
    "knn",
    "isolation",
    "novelty",
    "classifier",
    "energy",
    "centroid",
    "ks",
    "frechet",
    "geometry",
    "psi_norm",
    "psi_centroid_cosine",
    "psi_nn_similarity",
)


def table(rows: list[dict[str, Any]], alpha: float) -> str:
    """Markdown: one row per (scenario, n); rejection rate of the verdict and of each test."""
    cells: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["alpha"] == alpha:
            cells[(r["scenario"], r["n"])].append(r)
    head = ["scenario", "n/side", "pairs", "**verdict**", *COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in sorted({k[1] for k in cells}):
        for sc in SCENARIOS:
            rs = cells.get((sc, n))
            if not rs:
                continue

            def rate(flags: list[bool]) -> str:
                return f"{np.mean(flags):.2f}"

            vals = [
                sc,
                str(n),
                str(len(rs)),
                f"**{rate([r['verdict'] == 'drift' for r in rs])}**",
            ]
            for c in COLUMNS:
                ps = [r["tests"].get(c, {}).get("p_value") for r in rs]
                ran = [p for p in ps if p is not None]
                vals.append(rate([p <= alpha for p in ran]) if ran else "-")
            lines.append("| " + " | ".join(vals) + " |")
    return "\n".join(lines)


def load(path: Path | None, partial: bool) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings float32, topic ids) of the corpus cache or of a fixture file."""
    if path is None:
        import realtext_corpus

        corpus = realtext_corpus.load(allow_partial=partial)
    else:
        with np.load(path, allow_pickle=False) as f:
            corpus = {k: f[k] for k in f.files}
    return corpus["emb"].astype(np.float32), corpus["topic"].astype(int)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, help="a fixture .npz instead of the corpus cache")
    ap.add_argument("--n", type=int, nargs="+", default=[200, 1000, 5000])
    ap.add_argument("--alpha", type=float, nargs="+", default=[0.01, 0.05])
    ap.add_argument("--null-pairs", type=int, default=30)
    ap.add_argument("--shift-pairs", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/.cache/realtext_results.jsonl"))
    ap.add_argument("--tests", nargs="+", help="run only these tests (default: the suite's)")
    ap.add_argument("--partial", action="store_true", help="corpus rows embedded so far")
    ap.add_argument(
        "--part", default="0/1", help="I/K: run every K-th pair from the I-th (parallel runs)"
    )
    ap.add_argument("--table", action="store_true", help="print the tables of --out and exit")
    args = ap.parse_args()
    if args.table:
        rows = [
            json.loads(x)
            for f in sorted(args.out.parent.glob(args.out.name + "*"))
            for x in f.read_text().splitlines()
        ]
        for alpha in sorted({r["alpha"] for r in rows}):
            print(f"\nalpha = {alpha}\n\n{table(rows, alpha)}")
        return
    emb, topic = load(args.data, args.partial)
    print(f"{len(topic)} texts, {topic.max() + 1} topics", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    run(args, emb, topic)


if __name__ == "__main__":
    main()
