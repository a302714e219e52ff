"""The book builds at profile smoke with warnings as errors, renders offline, and looks like a book."""

import base64
import contextlib
import re
import shutil
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from build_book import MATHJAX_CDNS, toc_files  # book/ is on sys.path, see conftest.py

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def html_page(built_book, toc_page):
    return built_book.html / Path(toc_page).with_suffix(".html")


def test_index_exists(built_book):
    assert (built_book.html / "index.html").is_file()


def test_page_rendered_without_error(built_book, toc_page):
    page = html_page(built_book, toc_page)
    assert page.is_file(), f"{toc_page} has no HTML page"
    text = page.read_text()
    # myst-nb renders an error output as a "traceback" block.
    assert "output traceback" not in text, f"{page.name} shows an error output"
    assert "Traceback (most recent call last)" not in text, f"{page.name} shows a traceback"


def test_mathjax_is_local(built_book):
    assert (built_book.html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    for page in built_book.html.rglob("*.html"):
        text = page.read_text(errors="replace")
        assert not any(cdn in text for cdn in MATHJAX_CDNS), f"{page} loads MathJax from a CDN"
        for src in re.findall(r'<script[^>]*src="([^"]*mathjax[^"]*)"', text, flags=re.IGNORECASE):
            assert "_static/mathjax/" in src and "://" not in src, f"{page} loads MathJax from {src}"


CHROMEDRIVER = shutil.which("chromedriver")
try:
    from selenium import webdriver
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    webdriver = None
MISSING = [what for what, found in [("chromium (apt-get install chromium)", CHROMIUM),
                                    ("chromedriver (apt-get install chromium-driver)", CHROMEDRIVER),
                                    ("selenium (pip install -e '.[test]')", webdriver)] if found is None]
needs_chromium = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)}")


@contextlib.contextmanager
def chromium(width=1300, height=900):
    """Headless Chromium, offline, driven through chromedriver; the viewport is exactly `width` x `height`."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--window-size={width},{height}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(60)
        driver.set_script_timeout(60)  # above WAIT_FOR_PAGE_JS's own 30 s, so that its message is what fails
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        yield driver
    finally:
        driver.quit()


# Returns null once MathJax has typeset the page (pages without math have no MathJax), the fonts are in and every
# image has loaded or failed; else what it waited for in vain.
WAIT_FOR_PAGE_JS = """
const done = arguments[arguments.length - 1];
const images = [...document.images].map(img => {
    img.loading = "eager";
    return img.complete ? null : new Promise(resolve => { img.onload = img.onerror = resolve; });
});
const typeset = window.MathJax && MathJax.startup ? MathJax.startup.promise : null;
const timeout = new Promise(resolve => setTimeout(resolve, 30000, "MathJax, fonts or images still loading after 30 s"));
Promise.race([Promise.all([typeset, document.fonts.ready, ...images]).then(() => null), timeout])
    .then(done, error => done(String(error)));
"""

# What a reader at this width cannot see whole, in the main column: a table or a figure wider than the column
# (or than a box that clips it) unless a scroll bar of its own, or of a box inside the column, shows the rest; a
# display equation wider than the column, scroll bar or not (the theme gives every display equation one, which
# full-page screenshots and overlay scroll bars do not show: the formula just ends); an image that did not load.
CUT_OFF_JS = """
const column = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
const EQUATION = "mjx-container[display='true'], div.math";
const tex = new Map((window.MathJax && MathJax.startup && MathJax.startup.document
                     ? [...MathJax.startup.document.math] : []).map(item => [item.typesetRoot, item.math]));
const px = value => parseFloat(value) || 0;
// A box that scrolls its content sideways, with a scroll bar that takes room (not hidden, not an overlay).
const scrollBar = el => {
    const s = getComputedStyle(el);
    return ["auto", "scroll"].includes(s.overflowX)
           && el.offsetHeight - el.clientHeight - px(s.borderTopWidth) - px(s.borderBottomWidth) > 0;
};
// The box that shows `el`: its nearest ancestor that clips or scrolls, or the column.
const frame = el => {
    let box = el.parentElement;
    while (box && box !== column && getComputedStyle(box).overflowX === "visible") box = box.parentElement;
    return box || column;
};
const describe = el => {
    if (el.matches(EQUATION)) return `equation "${tex.get(el) || el.textContent}"`;
    if (el.matches("table")) {
        const caption = el.querySelector("caption");
        const headers = [...el.querySelectorAll("tr:first-child > th")].map(th => th.textContent.trim());
        return `table "${caption ? caption.textContent : headers.join(" | ")}"`;
    }
    const img = el.matches("img") ? el : el.querySelector("img");
    return `figure "${img ? img.getAttribute("src") : el.textContent}"`;
};
const problems = [];
for (const el of column.querySelectorAll(`${EQUATION}, table, figure, img`)) {
    if (!el.getClientRects().length) continue;  // not displayed
    const equation = el.matches(EQUATION);
    // A table or figure may scroll inside a box of the column that shows a scroll bar: then that box must fit.
    let box = el, outer = frame(el);
    while (!equation && outer !== column && scrollBar(outer)) { box = outer; outer = frame(outer); }
    const rect = box.getBoundingClientRect();
    const right = !equation && scrollBar(box) ? rect.right : Math.max(rect.right, rect.left + box.scrollWidth);
    const room = outer.getBoundingClientRect(), style = getComputedStyle(outer);
    const [roomLeft, roomRight] = outer === column  // the column's content box
        ? [room.left + px(style.paddingLeft), room.right - px(style.paddingRight)] : [room.left, room.right];
    const beyond = Math.max(right - roomRight, roomLeft - rect.left);
    if (beyond > 1) {
        const what = describe(el).replace(/\\s+/g, " ").slice(0, 100);
        problems.push({el, message: `${what}: ${Math.round(right - rect.left)} px wide, ${Math.round(beyond)} px more `
                                    + `than the ${Math.round(roomRight - roomLeft)} px of `
                                    + (outer === column ? "the column" : "the box that shows it")
                                    + (equation ? "" : ", and no scroll bar")});
    }
}
for (const img of document.images) {
    if (!(img.complete && img.naturalWidth > 0)) {
        problems.push({el: img, message: `image ${img.getAttribute("src")} did not load`});
    }
}
// One message per thing cut off: an element whose descendant is reported already (a figure and its image, an
// equation's wrapper and its MathJax) is left out.
return problems.filter(p => !problems.some(q => q !== p && p.el.contains(q.el))).map(p => p.message);
"""


def cut_off(driver, url, screenshot=None):
    """Open `url`, wait for MathJax and the images, and return what a reader cannot see whole (see CUT_OFF_JS);
    with `screenshot` (a path), keep a PNG of the whole page there, scroll bars included."""
    driver.get(url)
    error = driver.execute_async_script(WAIT_FOR_PAGE_JS)
    assert error is None, f"{url}: {error}"
    problems = driver.execute_script(CUT_OFF_JS)
    if screenshot is not None:
        viewport = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        metrics = {"width": viewport[0], "deviceScaleFactor": 1, "mobile": False}
        # A window as tall as the page, then back.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": height})
        png = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})["data"]
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": viewport[1]})
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(png))
    return problems


def pages_cut_off(html, pages, screenshots, width=1300):
    """{page: [what is cut off]} for the pages of the book in `html` (as _toc.yml lists them) that cut something off
    at `width` px; a screenshot of every page goes to `screenshots`/<page>.png."""
    found = {}
    with chromium(width=width) as driver:
        for page in map(Path, pages):
            path = html / page.with_suffix(".html")
            if not path.is_file():
                found[page] = ["no HTML page"]
            elif problems := cut_off(driver, path.as_uri(), screenshots / page.with_suffix(".png")):
                found[page] = problems
    return found


@needs_chromium
def test_rendered_in_chromium(built_book):
    with chromium(width=1280, height=900) as driver:
        driver.get((built_book.html / "index.html").as_uri())  # redirects to the first page
        WebDriverWait(driver, 30).until(lambda d: d.find_elements("css selector", ".bd-docs-nav"))
        driver.execute_async_script(WAIT_FOR_PAGE_JS)
        dom = driver.page_source
        assert "bd-sidebar" in dom and "bd-docs-nav" in dom, "the sphinx-book-theme navigation is not rendered"
        for notebook in built_book.notebooks:
            assert Path(notebook).with_suffix(".html").as_posix() in dom, f"no link to {notebook} in the navigation"

        screenshot = built_book.out / "screenshot.png"
        driver.save_screenshot(str(screenshot))
    pixels = matplotlib.image.imread(screenshot)[..., :3]
    assert pixels.shape[:2] == (900, 1280)
    assert pixels.std() > 0.05, "the screenshot is blank"
    distinct_colors = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(distinct_colors) > 20, f"the screenshot has only {len(distinct_colors)} colors"


@needs_chromium
def test_no_page_cuts_anything_off(built_book):
    """At 1300 px, every display equation, table and figure of every page fits its column or scrolls, and every
    image loads. A screenshot of every page is kept for a person to look at, in _build/screenshots/ (where
    `.ci/run` keeps its log), replaced on every run."""
    screenshots = ROOT / "_build" / "screenshots"
    shutil.rmtree(screenshots, ignore_errors=True)
    found = pages_cut_off(built_book.html, toc_files(ROOT / "_toc.yml"), screenshots)
    assert not found, (f"{len(found)} page(s) cut something off at 1300 px (screenshots in {screenshots}):\n"
                       + "\n".join(f"  {page}: {problem}" for page, problems in found.items()
                                   for problem in problems))


CONTROL_PAGE = """<!DOCTYPE html><html><body><article class="bd-article" style="width: 600px">
<table><caption>too wide</caption><tr><td style="min-width: 900px">x</td></tr></table>
<div style="overflow-x: auto"><table><caption>scrolls</caption><tr><td style="min-width: 900px">x</td></tr></table></div>
<mjx-container display="true" style="display: block"><span style="display: inline-block; width: 900px">E = mc^2</span></mjx-container>
<img src="missing.png" alt="missing">
</article></body></html>"""


@needs_chromium
def test_the_measure_catches_what_is_cut_off(tmp_path):
    """A positive control for the rule above, on a page made to fail it: a table wider than the column, a wide display
    equation and an image that does not load are reported; a wide table in a box with a scroll bar is not."""
    (tmp_path / "control.html").write_text(CONTROL_PAGE)
    found = pages_cut_off(tmp_path, ["control.md", "absent.md"], tmp_path / "screenshots")
    problems = found[Path("control.md")]
    assert any('table "too wide"' in p and "no scroll bar" in p for p in problems), problems
    assert any('equation "E = mc^2"' in p for p in problems), problems
    assert any("missing.png did not load" in p for p in problems), problems
    assert not any("scrolls" in p for p in problems), problems
    assert len(problems) == 3, problems
    assert found[Path("absent.md")] == ["no HTML page"]
    assert (tmp_path / "screenshots" / "control.png").stat().st_size > 0
