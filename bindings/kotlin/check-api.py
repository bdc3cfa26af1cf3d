#!/usr/bin/env python3
"""Checks the public Kotlin API generated from the bindings, as an Android
developer meets it:

- no unsigned type anywhere (`ULong`, `UInt`, `UShort`, `UByte`): Kotlin
  developers write `90`, not `90u`, and unsigned types are still awkward in
  Kotlin (no Java interop, boxed in collections);
- a KDoc comment on every export: every object, record, enum, error, callback
  interface, exported function and method, and every variant of an enum or
  error (they come from the Rust doc comments).

    bindings/kotlin/check-api.py GENERATED.kt [HAND_WRITTEN.kt ...]

Prints what is missing, one line each, and exits 1 if anything is.
"""
import re
import sys

UNSIGNED = re.compile(r"\bkotlin\.(ULong|UInt|UShort|UByte)\b|\b\d+u[L]?\b")
# uniffi's own machinery in the generated file: not API.
INTERNAL = re.compile(r"^(Uniffi|uniffi|RustBuffer|FfiConverter|ForeignBytes|Disposable|NoPointer|InternalException)")


def undocumented(lines):
    """Yields (line number, what) for exports with no KDoc before them."""

    def documented(index):
        j = index - 1
        while j >= 0 and (not lines[j].strip() or lines[j].strip().startswith("@")):
            j -= 1
        return j >= 0 and lines[j].strip().endswith("*/")

    block = None  # the interface or sealed/enum class we are inside, and its indent
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if stripped and indent == 0:
            block = None
        m = re.match(r"^public interface (\w+)", line)
        if m:
            name = m.group(1)
            block = ("interface", name)
            # An object's interface is documented on its class.
            if not name.endswith("Interface") and not INTERNAL.match(name) and not documented(i):
                yield i, f"callback interface {name}"
            continue
        m = re.match(r"^open class (\w+)\s*:\s*Disposable, AutoCloseable, (\w+)Interface", line)
        if m:
            if not documented(i):
                yield i, f"object {m.group(1)}"
            continue
        m = re.match(r"^(data|enum|sealed) class (\w+)", line)
        if m and not INTERNAL.match(m.group(2)):
            block = (m.group(1), m.group(2))
            if not documented(i):
                yield i, f"{m.group(1)} class {m.group(2)}"
            continue
        m = re.match(r"^(suspend )?fun `?(\w+)`?\(", line)
        if m and not INTERNAL.match(m.group(2)):
            if not documented(i):
                yield i, f"function {m.group(2)}"
            continue
        if block is None:
            continue
        kind, owner = block
        if kind == "interface" and not INTERNAL.match(owner):
            m = re.match(r"^    (suspend )?fun `?(\w+)`?\(", line)
            if m and not documented(i):
                yield i, f"method {owner}.{m.group(2)}"
        elif kind == "enum":
            m = re.match(r"^    (\w+)[,;]?$", line)
            if m and m.group(1) != "companion" and not documented(i):
                yield i, f"variant {owner}.{m.group(1)}"
        elif kind == "sealed":
            m = re.match(r"^    (data )?(class|object) (\w+)", line)
            if m and m.group(3) not in ("ErrorHandler",) and not documented(i):
                yield i, f"variant {owner}.{m.group(3)}"


def main(paths):
    problems = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for number, line in enumerate(lines, 1):
            code = line.split("//")[0]
            if UNSIGNED.search(code) and not code.strip().startswith("*"):
                problems.append(f"{path}:{number}: unsigned type: {line.strip()}")
        if path.endswith("edgepoints_ffi.kt"):
            for index, what in undocumented(lines):
                problems.append(f"{path}:{index + 1}: no KDoc: {what}")
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) in the public Kotlin API", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
