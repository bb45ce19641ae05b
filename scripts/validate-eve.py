#!/usr/bin/env python3
"""Validates IdleWatch JSON lines (standard input) against schema/idlewatch-eve.schema.json.

Usage: idlewatch replay --format json ... | scripts/validate-eve.py [SCHEMA]
Prints one line per invalid record (line number, path, message) and exits 1 if any; prints the count on success.
"""
import json
import pathlib
import sys

import jsonschema

schema_path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                           pathlib.Path(__file__).resolve().parent.parent / "schema" / "idlewatch-eve.schema.json")
schema = json.loads(schema_path.read_text())
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)

bad = 0
count = 0
kinds = {}
for number, line in enumerate(sys.stdin, 1):
    count += 1
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        print(f"line {number}: not JSON: {error}")
        bad += 1
        continue
    kinds[record.get("event_type")] = kinds.get(record.get("event_type"), 0) + 1
    for error in validator.iter_errors(record):
        print(f"line {number}: {'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}")
        bad += 1
if bad:
    sys.exit(1)
print(f"{count} valid records: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=str)))
