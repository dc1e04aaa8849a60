#!/usr/bin/env python3
"""Totals meson test logs (testlog*.json) over all suites.

A TAP test counts each of its cases ('ok' / 'not ok' lines); a test that failed without a
failing case (a crash, a timeout, a sanitizer report after the last case) counts one more
failure; any other test counts as one. Prints one line per suite, then the closing line
`N passed, N failed` that CI reads. Exits 1 on any failure or when no test ran.
"""
import json
import re
import sys

OK = re.compile(r"^ok \d+", re.M)
NOT_OK = re.compile(r"^not ok \d+", re.M)

def show_tail(t, n=40):
    """The last lines a failed test printed, so a CI log alone can explain the failure."""
    text = (t.get("stdout") or "") + (t.get("stderr") or "")
    lines = [l for l in text.splitlines() if l.strip()]
    for l in lines[-n:]:
        print(f"    | {l[:300]}")

def main(paths):
    suites = {}
    for path in paths:
        try:
            lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
        except OSError as e:
            print(f"cannot read {path}: {e}")
            suites.setdefault("(missing log)", [0, 1, 0])[1] += 1
            continue
        for line in lines:
            if not line.strip():
                continue
            t = json.loads(line)
            # "tessera:unit / base" -> suite "unit"
            name = t.get("name", "?")
            suite = name.split(" / ")[0].split(":")[-1] if " / " in name else "?"
            row = suites.setdefault(suite, [0, 0, 0])  # passed, failed, skipped
            result = t.get("result", "")
            out = t.get("stdout") or ""
            oks = len(OK.findall(out))
            bad = len(NOT_OK.findall(out))
            if result == "SKIP":
                row[2] += 1
            elif oks or bad:
                row[0] += oks
                row[1] += bad
                if result not in ("OK", "EXPECTEDFAIL") and bad == 0:
                    row[1] += 1
                    print(f"FAILED: {t.get('name')} ({result}) after {oks} passing cases")
                    show_tail(t)
                elif bad:
                    print(f"FAILED: {t.get('name')}: {bad} failing cases")
                    show_tail(t)
            elif result in ("OK", "EXPECTEDFAIL"):
                row[0] += 1
            else:
                row[1] += 1
                print(f"FAILED: {t.get('name')} ({result})")
                show_tail(t)
    passed = sum(r[0] for r in suites.values())
    failed = sum(r[1] for r in suites.values())
    skipped = sum(r[2] for r in suites.values())
    for name, (p, f, s) in sorted(suites.items()):
        print(f"  suite {name:8s} {p:6d} passed {f:4d} failed {s:3d} skipped")
    if passed + failed == 0:
        failed = 1
        print("no test ran")
    tail = f", {skipped} skipped" if skipped else ""
    print(f"{passed} passed, {failed} failed{tail}")
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
