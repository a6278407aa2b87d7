"""CI's speed check: the suite's wall time against its goal, and no test over two seconds
unless ALLOWED names it with the reason. A test over the limit runs again alone first, so a
moment of load on CI's two cores does not fail the build; still over the limit then, it does.

Usage: python .ci/slow_tests.py JUNIT_XML STARTED FINISHED  (times from `date +%s.%N`)
"""

import subprocess
import sys
import xml.etree.ElementTree as ET

LIMIT = 2.0  # seconds a test may take, setup and teardown included
GOAL = 90.0  # seconds for the whole serial suite on CI's two cores
ALLOWED = {
    "examples/recipes/test_compatibility.py::test_compatibility_table_is_current":
        "runs every recipe's verifier through the key life cycle and the fault catalog, "
        "about 70 providers with fresh RSA keys, to compare with docs/compatibility.md",
    "examples/integration/test_integration.py::test_rotation_under_load":
        "the rotation scenario plays on the wall clock (steps at 1, 2 and 3 s) and the "
        "service caches keys for 2 s",
    "tests/test_scenario.py::test_jwks_outage_and_recovery":
        "the example outage (examples/scenarios/jwks-outage.toml) answers after 2 s on purpose",
    "tests/test_dashboard.py::test_dashboard_in_a_real_browser":
        "launches Chromium (its module's fixture) and waits for the dashboard's once-a-second "
        "refresh to show the live log",
    # In random order any browser test of the module may be the one that launches Chromium.
    "tests/test_dashboard.py::test_timeline_updates_live_in_a_real_browser":
        "waits for the dashboard's once-a-second poll to draw a rotation and a refetch, and "
        "may launch Chromium",
    "tests/test_dashboard.py::test_timeline_and_log_filters_in_a_real_browser":
        "may launch Chromium (its module's fixture) when it runs first",
    "tests/test_dashboard.py::test_sign_in_form_in_a_real_browser":
        "may launch Chromium (its module's fixture) when it runs first",
}

report, started, finished = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
print(f"\nsuite wall time: {finished - started:.1f} s (goal: at most {GOAL:g} s)")
times = {}
for case in ET.parse(report).iter("testcase"):
    nodeid = f"{case.get('file')}::{case.get('name')}"
    times[nodeid] = times.get(nodeid, 0.0) + float(case.get("time", 0))
over = {nodeid: took for nodeid, took in times.items() if took > LIMIT}
for nodeid in sorted(over.keys() & ALLOWED):
    print(f"allowed over {LIMIT:g} s: {over[nodeid]:.2f} s {nodeid} ({ALLOWED[nodeid]})")
suspects = sorted(over.keys() - ALLOWED)
if not suspects:
    sys.exit(0)
print(f"over {LIMIT:g} s, running again alone: {', '.join(suspects)}")
again = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                        "-p", "no:cacheprovider", "--junitxml", report + ".again",
                        "-o", "junit_family=xunit1", *suspects])
retimed = {}
for case in ET.parse(report + ".again").iter("testcase"):
    nodeid = f"{case.get('file')}::{case.get('name')}"
    retimed[nodeid] = float(case.get("time", 0))
slow = {nodeid: retimed.get(nodeid, over[nodeid]) for nodeid in suspects
        if retimed.get(nodeid, over[nodeid]) > LIMIT}
for nodeid, took in slow.items():
    print(f"SLOW: {nodeid} took {over[nodeid]:.2f} s, {took:.2f} s alone (limit {LIMIT:g} s)")
if slow or again.returncode:
    print("make these tests faster, or add them to ALLOWED in .ci/run with the reason")
    sys.exit(1)
