"""The conformance runner's report: the results table (stdout) and JUnit XML for CI."""

import sys
import xml.etree.ElementTree as ET

# --- output ---------------------------------------------------------------------------------


def tr_text(trs):
    if not trs:
        return "-"
    lo, hi = min(trs), max(trs)
    return "%.0f" % lo if round(lo) == round(hi) else "%.0f-%.0f" % (lo, hi)


def print_table(results, out=None):
    out = out or sys.stdout
    width = max(len(res.name) for res in results) if results else 10
    head = "%-*s  %-4s  %-11s  %s" % (width, "case", "", "tr (ms)", "detail")
    print(head, file=out)
    print("-" * min(len(head) + 40, 120), file=out)
    for res in results:
        print(
            "%-*s  %-4s  %-11s  %s" % (width, res.name, res.outcome, tr_text(res.trs), res.detail),
            file=out,
        )
    counts = {k: sum(1 for res in results if res.outcome == k) for k in ("PASS", "FAIL", "SKIP")}
    print(
        "%d passed, %d failed, %d skipped" % (counts["PASS"], counts["FAIL"], counts["SKIP"]),
        file=out,
    )


def write_junit(path, results, properties):
    """JUnit XML (the common Ant/Jenkins schema) for CI: one testcase per case."""
    suite = ET.Element(
        "testsuite",
        name="iec62055-52-conformance",
        tests=str(len(results)),
        failures=str(sum(1 for res in results if res.outcome == "FAIL")),
        errors="0",
        skipped=str(sum(1 for res in results if res.outcome == "SKIP")),
        time="%.3f" % sum(res.seconds for res in results),
    )
    props = ET.SubElement(suite, "properties")
    for name, value in properties.items():
        ET.SubElement(props, "property", name=name, value=str(value))
    for res in results:
        tc = ET.SubElement(
            suite, "testcase", classname="conformance", name=res.name, time="%.3f" % res.seconds
        )
        if res.outcome == "FAIL":
            ET.SubElement(tc, "failure", message=res.detail).text = res.detail
        elif res.outcome == "SKIP":
            ET.SubElement(tc, "skipped", message=res.detail)
        ET.SubElement(tc, "system-out").text = "reaction times ms: %s\n%s" % (
            " ".join("%.0f" % t for t in res.trs),
            "\n".join(res.log),
        )
    tree = ET.ElementTree(ET.Element("testsuites"))
    tree.getroot().append(suite)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
