#!/usr/bin/env python3
"""Fails when a library or binary source file holds more than LIMIT lines of non-test code.

Counted: lines before the file's `#[cfg(test)] mod tests`, without blank lines and comments (doc
comments included: they are welcome and cost nothing here). A file may be longer when its module doc
says why it must stay one piece (the words "one piece" in a `//!` line).

Usage: .ci/file-size.py [--limit N] [root]
"""
import re
import sys
from pathlib import Path

LIMIT = 600


def code_lines(text: str) -> int:
    m = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod tests", text, re.M)
    if m:
        text = text[: m.start()]
    n = 0
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("//"):
            n += 1
    return n


def main():
    args = sys.argv[1:]
    limit = LIMIT
    if args[:1] == ["--limit"]:
        limit = int(args[1])
        args = args[2:]
    root = Path(args[0]) if args else Path(__file__).resolve().parent.parent
    srcs = list(root.glob("*/src/**/*.rs")) + list(root.glob("bench/*/src/**/*.rs"))
    bad = []
    for f in sorted(srcs):
        if "target" in f.parts:
            continue
        text = f.read_text()
        n = code_lines(text)
        if n > limit and not re.search(r"^//!.*one piece", text, re.M):
            bad.append((n, f.relative_to(root)))
    for n, f in sorted(bad, reverse=True):
        print(f"{f}: {n} lines of non-test code (limit {limit}; or say in the module doc why it is one piece)")
    if bad:
        sys.exit(1)
    print(f"every source file is within {limit} lines of non-test code ({len(srcs)} files)")


if __name__ == "__main__":
    main()
