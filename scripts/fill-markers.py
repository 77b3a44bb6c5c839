#!/usr/bin/env python3
"""Replaces the text between `<!-- NAME begin -->` and `<!-- NAME end -->` in a file with standard
input (the regenerated tables of the docs).

Usage: COMMAND | scripts/fill-markers.py FILE NAME
"""
import sys

path, name = sys.argv[1], sys.argv[2]
begin, end = f"<!-- {name} begin -->\n", f"<!-- {name} end -->"
text = open(path).read()
a = text.index(begin) + len(begin)
b = text.index(end)
table = sys.stdin.read().rstrip("\n")
old = text[a:b]
trailing = old[len(old.rstrip("\n")):] or "\n"  # the blank lines the file keeps before the end marker
open(path, "w").write(text[:a] + table + trailing + text[b:])
