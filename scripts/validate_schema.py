#!/usr/bin/env python3
"""Validates every policy file in the given folders against `fleetrules schema` (draft 2020-12).

Uses the `jsonschema` package from PyPI. YAML is read with PyYAML, keeping timestamps as strings
(as FleetRules does) so `started: 2026-03-02T00:00:00Z` validates as a date-time string, and
reading only `true` and `false` as booleans (as FleetRules does) so `trend: off` is a string.
Also checks that known-bad documents are rejected, so the test can fail.
"""
import json
import re
import pathlib
import subprocess
import sys

import jsonschema
import yaml


class StringTimestampLoader(yaml.SafeLoader):
    pass


StringTimestampLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# Only `true` and `false` are booleans, as in FleetRules: `trend: off` is the string "off".
StringTimestampLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf"))


def main() -> int:
    binary, folders = sys.argv[1], sys.argv[2:]
    schema = json.loads(subprocess.run([binary, "schema"], check=True, capture_output=True, text=True).stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    failures = 0
    checked = 0
    for folder in folders:
        for path in sorted(pathlib.Path(folder).glob("*.y*ml")):
            if path.name.endswith((".test.yaml", ".test.yml")):
                continue
            document = yaml.load(path.read_text(), Loader=StringTimestampLoader)
            errors = list(validator.iter_errors(document))
            checked += 1
            for error in errors:
                failures += 1
                where = "/".join(str(p) for p in error.absolute_path)
                print(f"{path}: {where}: {error.message}")
    bad = [
        {"fleetrules": 1},  # no pack
        {"fleetrules": 1, "pack": "p", "rules": [{"alert": "x"}]},  # alert without `when`
        {"fleetrules": 1, "pack": "p", "rules": [{"alert": "x", "when": "true", "severty": "info"}]},
        {"fleetrules": 1, "pack": "p", "rules": [{"limit": "x", "metric": "m", "range": [1, 2], "for": "10x"}]},
        {"fleetrules": 1, "pack": "p", "rules": [{"drift": "x", "metric": "m", "threshold": 1, "trend": "none"}]},
    ]
    good = [
        {"fleetrules": 1, "pack": "p", "rules": [{"drift": "x", "metric": "m", "threshold": 1, "trend": "off"}]},
        {"fleetrules": 1, "pack": "p", "rules": [{"drift": "x", "metric": "m", "threshold": 1, "trend": "36h"}]},
    ]
    for document in good:
        if not validator.is_valid(document):
            failures += 1
            print(f"schema rejects a valid document: {document}")
    for document in bad:
        if validator.is_valid(document):
            failures += 1
            print(f"schema accepts an invalid document: {document}")
    if checked == 0:
        print("no policy files found")
        return 1
    print(f"schema: {checked} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
