#!/usr/bin/env python3
"""Gives the generated `EdgePointsException` subclasses the SDK's own
message.

uniffi words a Kotlin exception's `message` as its fields
("balance=3, needed=4"); the Rust error's `Display` (exported, so it is the
exception's `toString()`) reads "not enough points: the balance is 3, 4 are
needed". Android developers read `message` (and crash reporters show it),
so each subclass's `message` is made its `toString()`. Fails, leaving the
file as it was, unless every subclass got it.

    bindings/kotlin/readable-messages.py GENERATED.kt
"""
import re
import sys

path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    source = f.read()

start = source.index("sealed class EdgePointsException")
end = source.index("\n}\n", start)
block = source[start:end]
variants = len(re.findall(r"\n    class \w+\(", block))
block, replaced = re.subn(
    r'(override val message\n\s*get\(\) = )"[^"\n]*"',
    r"\1toString()",
    block,
)
if variants == 0 or replaced != variants or "override fun toString()" not in block:
    sys.exit(f"readable-messages: {replaced} messages replaced for {variants} subclasses; uniffi's template changed?")
with open(path, "w", encoding="utf-8") as f:
    f.write(source[:start] + block + source[end:])
