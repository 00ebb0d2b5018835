#!/usr/bin/env python3
"""Assembles the fuzzers' seed corpora (docs/TESTING.md, "Fuzzing").

usage: fuzz_corpus.py OUT_DIR

Writes OUT_DIR/<target>/ for each fuzz target from what the repository already holds: the pack
in rules/, the bad-policy fixtures, the YAML examples in docs/, the example fleet's telemetry
and delivery configuration, and the curated seeds in Fuzz/Corpus/<target>/. Files are named by
their content's hash, so running it again over a corpus the fuzzers have grown adds nothing twice.
"""
import gzip
import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPRESSION_KEYS = ("when", "where", "clear", "compliant_when", "applies_to", "baseline")


def add(out: Path, target: str, data: bytes) -> None:
    folder = out / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def doc_yaml_blocks(first_key: str):
    """YAML code blocks of docs/*.md whose first key is `first_key`."""
    for doc in sorted((ROOT / "docs").glob("*.md")):
        for block in re.findall(r"```yaml[^\n]*\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            if block.lstrip().startswith(first_key + ":"):
                yield block.encode()


def policies():
    for path in sorted((ROOT / "rules").glob("*.yaml")):
        yield path.read_bytes()
    for path in sorted((ROOT / "Tests/FleetRulesTests/Fixtures/bad").glob("*.yaml")):
        yield path.read_bytes()
    yield from doc_yaml_blocks("fleetrules")


def expressions(policy_texts):
    """The conditions and macros written in the policies, one per seed."""
    seen = set()
    for data in policy_texts:
        in_macros = False
        for line in data.decode("utf-8", "replace").splitlines():
            if re.match(r"^\S", line):
                in_macros = line.startswith("macros:")
            m = re.match(r"^\s*-?\s*(\w+):\s+(.+?)\s*$", line)
            if not m:
                continue
            key, value = m.groups()
            if (key in EXPRESSION_KEYS or (in_macros and line.startswith("  "))) and value not in ("|", ">"):
                value = value.split("  #")[0].strip()
                if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                    value = value[1:-1]
                if value and value not in seen:
                    seen.add(value)
                    yield value.encode()


def telemetry_lines():
    with gzip.open(ROOT / "examples/fleet/telemetry.jsonl.gz", "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for _, line in zip(range(3000), f)]


def telemetry_slices(lines):
    """Small slices of the example fleet: a few devices, a few timestamps, every field kind."""
    for start, size in ((0, 5), (40, 20), (400, 12), (2500, 30)):
        yield lines[start:start + size]
    # One device's run of readings, so windows, `for` and forecasts have something to chew on.
    first = json.loads(lines[0])["device"]
    yield [l for l in lines if json.loads(l)["device"] == first][:24]


def as_csv(slice_):
    records = [json.loads(l) for l in slice_]
    columns = ["ts", "device", "gateway"] + sorted({k for r in records for k in r} - {"ts", "device", "gateway"})
    rows = [",".join(columns)]
    for r in records:
        rows.append(",".join("" if r.get(c) is None else str(r.get(c)) for c in columns))
    return ("\n".join(rows) + "\n").encode()


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    policy_texts = list(policies())
    for data in policy_texts:
        add(out, "policy", data)
    for data in expressions(policy_texts):
        add(out, "expression", data)
    lines = telemetry_lines()
    for slice_ in telemetry_slices(lines):
        jsonl = ("\n".join(slice_) + "\n").encode()
        add(out, "telemetry", jsonl)
        add(out, "telemetry", as_csv(slice_))
        add(out, "body", jsonl)
        add(out, "body", ("[\n  " + ",\n  ".join(slice_) + "\n]\n").encode())
    add(out, "delivery", (ROOT / "examples/delivery.yaml").read_bytes())
    for data in doc_yaml_blocks("delivery"):
        add(out, "delivery", data)
    for curated in sorted((ROOT / "Fuzz/Corpus").glob("*/*")):
        add(out, curated.parent.name, curated.read_bytes())
    for target in sorted(p.name for p in out.iterdir() if p.is_dir()):
        print(f"{target}: {len(list((out / target).iterdir()))} seeds")


if __name__ == "__main__":
    main()
