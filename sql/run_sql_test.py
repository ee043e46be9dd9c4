#!/usr/bin/python3
"""Runs a SQL script through the real sqlite3 shell with manifold loaded.

    run_sql_test.py --extension build/manifold [--engine lmdb] SCRIPT EXPECTED
        Runs SCRIPT in a fresh temporary directory as
        `sqlite3 test.db -cmd ".load EXTENSION"` and compares what the shell
        prints (stdout, then stderr after a "--- stderr ---" line) with the
        file EXPECTED; on a difference prints a unified diff and exits 1.
        --engine E turns every `USING manifold(` into
        `USING manifold(engine=E, sync=off, `; exits 77 (a CTest skip) when this build
        has no engine E.
    --native
        Runs the native version of SCRIPT instead: a line that follows a line
        `-- native: STATEMENT` is replaced by STATEMENT, so the script's
        manifold tables become plain SQLite tables, and the extension is not
        loaded. This is how the .expected files are made: the answer of a
        native table is the expected one.
    --update
        Writes the output to EXPECTED instead of comparing (use with --native).
    --contains TEXT (repeatable), --no-stderr
        Instead of comparing with EXPECTED (pass "-"), checks that the output
        contains each TEXT and, with --no-stderr, that the shell printed no
        error. Used for the demo.
"""

import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile

SKIP = 77


def native_version(script):
    lines = script.split("\n")
    out = []
    replacement = None
    for line in lines:
        if replacement is not None:
            out.append(replacement)
            replacement = None
            continue
        match = re.match(r"^\s*-- native:\s?(.*)$", line)
        if match:
            replacement = match.group(1)
        out.append(line)
    return "\n".join(out)


def run_shell(sqlite3, extension, script, cwd, db="test.db"):
    command = [sqlite3, db, "-cmd", "PRAGMA synchronous=OFF"]
    if extension is not None:  # None: the native run, plain SQLite
        command += ["-cmd", ".load " + extension]
    proc = subprocess.run(
        command,
        input=script.encode("utf-8"),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=120,
    )
    return proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def engine_available(sqlite3, extension, engine, cwd):
    out, err = run_shell(
        sqlite3, extension,
        "SELECT available FROM manifold_engines WHERE name = '%s';\n" % engine, cwd, ":memory:")
    if err:
        sys.stderr.write("cannot ask manifold_engines about %s: %s" % (engine, err))
        return None
    return out.strip() == "1"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite3", default="sqlite3")
    parser.add_argument("--extension", required=True,
                        help="path of manifold.so, with or without the .so suffix")
    parser.add_argument("--engine")
    parser.add_argument("--native", action="store_true")
    parser.add_argument("--update", action="store_true")
    parser.add_argument("--contains", action="append", default=[])
    parser.add_argument("--no-stderr", action="store_true")
    parser.add_argument("script")
    parser.add_argument("expected")
    args = parser.parse_args()

    extension = os.path.abspath(args.extension)
    with open(args.script, encoding="utf-8") as f:
        script = f.read()
    if args.native:
        script = native_version(script)
    with tempfile.TemporaryDirectory(prefix="manifold-sql-") as cwd:
        if args.engine and not args.native:
            available = engine_available(args.sqlite3, extension, args.engine, cwd)
            if available is None:
                return 1
            if not available:
                print("engine %s is not part of this build: skipped" % args.engine)
                return SKIP
            # sync=off: these scripts check answers, not durability, and
            # an fsync per statement would dominate their run time.
            script = script.replace("USING manifold(",
                                    "USING manifold(engine=%s, sync=off, " % args.engine)
        out, err = run_shell(args.sqlite3, None if args.native else extension, script, cwd)
    output = out + ("--- stderr ---\n" + err if err else "")

    if args.contains or args.expected == "-":
        ok = True
        for text in args.contains:
            if text not in output:
                print("output does not contain %r" % text)
                ok = False
        if args.no_stderr and err:
            print("the shell reported errors:\n" + err)
            ok = False
        if not ok:
            print("--- output ---\n" + output)
        return 0 if ok else 1

    if args.update:
        with open(args.expected, "w", encoding="utf-8") as f:
            f.write(output)
        return 0
    with open(args.expected, encoding="utf-8") as f:
        expected = f.read()
    if output == expected:
        return 0
    sys.stdout.writelines(
        difflib.unified_diff(expected.splitlines(True), output.splitlines(True),
                             fromfile=args.expected + " (native)",
                             tofile="manifold" + (" engine=" + args.engine if args.engine else "")))
    return 1


if __name__ == "__main__":
    sys.exit(main())
