"""Screenshots of the built site with headless Chromium: the home page and a benchmark page, as a reader sees them.

    python docs/_tools/screenshots.py                  # build the site, write docs/screenshots/*.png
    python docs/_tools/screenshots.py --out-dir DIR    # elsewhere (tests/test_docs_site.py)
    bash scripts/docs_screenshots.sh                   # the same, from the project's venv

Needs Debian's ``chromium`` (``apt-get install --no-install-recommends chromium``) or another Chromium/Chrome
on PATH (``--chromium PATH``). Each page is shot at 1280x2000 CSS pixels, then halved and reduced to 256
colours with Pillow, so the committed PNGs stay small; :func:`distinct_colours` is what the test reads
to tell a rendered page from a blank one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from site_check import ROOT, build_site

#: screenshot name -> page of the built site (no ``#fragment``: headless Chromium 156 shoots a scrolled page blank)
PAGES = {"home": "index.html", "benchmarks": "benchmarks/index.html"}
WINDOW = (1280, 2000)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(chromium: str, url: str, out: Path, window: tuple[int, int] = WINDOW, timeout: float = 60,
               attempts: int = 3) -> None:
    """One full-window PNG of ``url`` written to ``out`` by headless Chromium (raises on failure).

    A shot normally takes a few seconds; on a loaded machine Chromium has been seen to hang now and then, so
    a run past ``timeout`` is killed (with its helper processes) and retried, ``attempts`` times in all.
    """
    errors = []
    for _ in range(attempts):
        out.unlink(missing_ok=True)
        with tempfile.TemporaryDirectory() as profile:
            command = [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                "--disable-extensions", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                f"--window-size={window[0]},{window[1]}", f"--screenshot={out}", url,
            ]
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       start_new_session=True)
            try:
                output, _ = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the browser and its renderer processes
                process.communicate()
                errors.append(f"timed out after {timeout:.0f} s")
                continue
        if process.returncode == 0 and out.is_file() and out.stat().st_size > 0:
            return
        errors.append(f"exit status {process.returncode}: {output[-2000:]}")
    raise RuntimeError(f"chromium did not write {out}:\n{' '.join(command)}\n" + "\n".join(errors))


def shrink(path: Path, factor: int = 2, colours: int = 256) -> None:
    """Halve the image and reduce it to a palette, in place (Pillow; left as it is without Pillow)."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        image = image.convert("RGB")
        image = image.resize((image.width // factor, image.height // factor), Image.LANCZOS)
        image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def distinct_colours(path: Path) -> int:
    """How many distinct colours the PNG at ``path`` has (a blank or failed page has one or two)."""
    from PIL import Image

    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24)
    return len(colours or [])


def take_screenshots(out_dir: Path, site: Path | None = None, chromium: str | None = None,
                     small: bool = True) -> dict[str, Path]:
    """Build the site (unless ``site`` is given) and shoot :data:`PAGES` into ``out_dir``."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("no chromium on PATH: apt-get install --no-install-recommends chromium")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if site is None:
            site = Path(tmp) / "site"
            result = build_site(site)
            if result.returncode != 0:
                raise RuntimeError(f"mkdocs build --strict failed:\n{result.stdout}{result.stderr}")
        written = {}
        for name, page in PAGES.items():
            out = out_dir / f"{name}.png"
            screenshot(chromium, (site / page).resolve().as_uri(), out)
            if small:
                shrink(out)
            written[name] = out
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--site", type=Path, help="a site built already (default: build one)")
    parser.add_argument("--chromium", help="the browser to run (default: chromium on PATH)")
    parser.add_argument("--full-size", action="store_true", help="keep the 1280x2000 RGB screenshots")
    args = parser.parse_args(argv)
    try:
        written = take_screenshots(args.out_dir, args.site, args.chromium, small=not args.full_size)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"docs screenshots: {error}", file=sys.stderr)
        return 1
    for name, path in written.items():
        print(f"{name}: {path} ({path.stat().st_size // 1024} KiB, {distinct_colours(path)} colours)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    raise SystemExit(main())
