#!/usr/bin/env python3
"""Checks the ```yaml examples of Markdown files with `fleetrules check`, and refreshes outputs.

    scripts/doc_examples.py BINARY docs/LANGUAGE.md [README.md ...] [--write]

A plain ```yaml block must check clean (no errors, no warnings); a ```yaml bad block must
produce at least one error, and the ```text block right after it shows what `fleetrules
check example.yaml` prints. With --write, those ```text blocks are replaced by the current
output. Tests/FleetRulesTests/DocumentationTests.swift checks the same things in-process.
"""
import os
import pathlib
import subprocess
import sys
import tempfile


def check(binary: str, source: str) -> str:
    with tempfile.TemporaryDirectory() as folder:
        pathlib.Path(folder, "example.yaml").write_text(source)
        run = subprocess.run(
            [os.path.abspath(binary), "check", "--color", "never", "example.yaml"],
            cwd=folder, capture_output=True, text=True)
        return run.stdout.rstrip("\n")


def process(binary: str, path: str, write: bool) -> int:
    lines = pathlib.Path(path).read_text().split("\n")
    out, problems, i = [], 0, 0
    pending = None  # output of the last `yaml bad` block, until its ```text block
    while i < len(lines):
        fence = lines[i].strip()
        if not (fence.startswith("```") and len(fence) > 3):
            out.append(lines[i])
            i += 1
            continue
        info = fence[3:].split()
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith("```"):
            j += 1
        body = "\n".join(lines[i + 1:j]) + "\n"
        if info[0] == "yaml":
            result = check(binary, body)
            summary = result.splitlines()[-1] if result else ""
            if "bad" in info[1:]:
                if " 0 errors" in summary:
                    print(f"{path}:{i + 1}: a `yaml bad` example produces no error")
                    problems += 1
                pending = result
            else:
                if "0 errors, 0 warnings" not in summary:
                    print(f"{path}:{i + 1}: example does not check clean:\n{result}")
                    problems += 1
                pending = None
            out.extend(lines[i:j + 1])
        elif info[0] == "text" and pending is not None:
            shown = "\n".join(lines[i + 1:j])
            if shown != pending:
                if write:
                    print(f"{path}:{i + 1}: output refreshed")
                else:
                    print(f"{path}:{i + 1}: shown output differs from the real one (run with --write)")
                    problems += 1
            out.append(lines[i])
            out.extend((pending if write else shown).split("\n"))
            out.append(lines[j] if j < len(lines) else "```")
            pending = None
        else:
            pending = None
            out.extend(lines[i:j + 1])
        i = j + 1
    if write:
        pathlib.Path(path).write_text("\n".join(out))
    return problems


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--write"]
    if len(args) < 2:
        print(__doc__)
        return 2
    binary, paths = args[0], args[1:]
    problems = sum(process(binary, p, "--write" in sys.argv) for p in paths if os.path.exists(p))
    print(f"doc examples: {problems} problem{'s' if problems != 1 else ''}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
