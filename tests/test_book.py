"""The book builds at profile smoke with warnings as errors, renders offline, and looks like a book."""

import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from build_book import MATHJAX_CDNS  # book/ is on sys.path, see conftest.py

pytestmark = pytest.mark.slow

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


def chromium(url, *flags, user_data_dir):
    """Run headless Chromium offline on `url`; returns its stdout."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={user_data_dir}",
               # Lets the redirect in index.html, the theme's scripts and MathJax run before the capture.
               "--virtual-time-budget=5000", *flags, url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_rendered_in_chromium(built_book, tmp_path):
    index_url = (built_book.html / "index.html").as_uri()
    dom = chromium(index_url, "--dump-dom", user_data_dir=tmp_path / "profile")
    assert "bd-sidebar" in dom and "bd-docs-nav" in dom, "the sphinx-book-theme navigation is not rendered"
    for notebook in built_book.notebooks:
        assert Path(notebook).with_suffix(".html").as_posix() in dom, f"no link to {notebook} in the navigation"

    screenshot = built_book.out / "screenshot.png"
    chromium(index_url, f"--screenshot={screenshot}", "--window-size=1280,900",
             user_data_dir=tmp_path / "profile")
    pixels = matplotlib.image.imread(screenshot)[..., :3]
    assert pixels.shape[:2] == (900, 1280)
    assert pixels.std() > 0.05, "the screenshot is blank"
    distinct_colors = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(distinct_colors) > 20, f"the screenshot has only {len(distinct_colors)} colors"
