"""Dashboard size and opening time for a comparison of three strategies.

    python benchmarks/bench_dashboard.py [--patients 10000] [--runs 3]

Runs `crcsim compare` of the reference and both TNT variants (one replication), writes the
dashboard, then opens it in Debian's Chromium (headless, through Playwright) and times from
navigation to every plot drawn. Prints the file size and the median opening time. The issue's bar:
under 15 MB and under 3 s for 10,000 patients per arm.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARMS = ["li2021_reference.yaml", "tnt_scrt_consolidation.yaml", "tnt_lcrt_induction.yaml"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cmp"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sim", "compare", *(str(ROOT / "scenarios" / a) for a in ARMS),
                        "--patients", str(args.patients), "--replications", "1", "--out", str(out),
                        "--quiet", "--workers", "2"], check=True)
        print(f"compare + dashboard: {time.perf_counter() - started:.1f} s")
        page_file = out / "dashboard.html"
        size = page_file.stat().st_size
        times = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            drawn = ("(id) => { const gd = document.getElementById(id);"
                     " return !!gd && gd.querySelectorAll('.main-svg').length > 0; }")
            every = []
            for _ in range(args.runs):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                t0 = time.perf_counter()
                page.goto(page_file.as_uri(), wait_until="load")
                page.wait_for_function(drawn, arg="plot-km-os", timeout=120000)
                times.append(time.perf_counter() - t0)
                ids = page.evaluate("Array.from(document.querySelectorAll('.lazy-plot')).map(d => d.id)")
                for pid in ids:  # scroll through every panel
                    page.locator(f"#{pid}").scroll_into_view_if_needed()
                    page.wait_for_function(drawn, arg=pid, timeout=120000)
                every.append(time.perf_counter() - t0)
                page.close()
            browser.close()
    print(f"dashboard of 3 strategies x {args.patients:,} patients: {size / 1e6:.1f} MB; "
          f"opens (first screen drawn) in {statistics.median(times):.2f} s, every panel drawn "
          f"after scrolling through in {statistics.median(every):.2f} s (medians of {len(times)})")


if __name__ == "__main__":
    main()
