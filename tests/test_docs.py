"""The book: the generator's pure parts (always), and the built site in a real browser (`make docs-test`).

The browser tests run only with FEDKIT_DOCS_TEST=1, which `make docs-test` sets after `make docs` has built
outputs/docs/site; they use Playwright from .venv-docs with Debian's chromium (never `playwright install`).
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "outputs" / "docs" / "site"
SCREENSHOTS = ROOT / "outputs" / "docs-screenshots"
CHROMIUM = os.environ.get("FEDKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROWSER = os.environ.get("FEDKIT_DOCS_TEST") == "1"


def _docs_gen():
    spec = importlib.util.spec_from_file_location("docs_gen", ROOT / "tools" / "docs_gen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- the generator (no browser, no docs toolchain: runs in the main suite) ----------------------------


def test_results_data_renders_as_tables():
    gen = _docs_gen()
    data = {
        "settings": {"rounds": 30, "seeds": [0, 1, 2]},
        "configurations": [
            {
                "name": "keep 1",
                "down_bits": 53227840,
                "test_accuracy": {"mean": 0.91, "ci95": 0.012, "values": [1, 2, 3]},
            },
            {"name": "keep 0.5", "extra": None, "test_accuracy": {"mean": 0.8, "ci95": None, "values": [0.8]}},
        ],
    }
    text = "\n".join(gen.render_data(data))
    assert "| rounds | 30 |" in text and "| seeds | 0, 1, 2 |" in text
    assert "| name | down_bits | test_accuracy | extra |" in text
    assert "| keep 1 | 53,227,840 | 0.91 ± 0.012 (3 seeds) | - |" in text
    assert "| keep 0.5 | - | 0.8 (1 seed) | - |" in text
    assert "### configurations" in text
    per_round = "\n".join(gen.render_data({"FedAvg": {"1": [0.5, 0.25]}, "FedSGD": {"1": [0.1], "2": [0.2]}}))
    assert "|  | 1 | 2 |" in per_round and "| FedAvg | 0.5, 0.25 | - |" in per_round
    assert "| FedSGD | 0.1 | 0.2 |" in per_round


def test_results_page_reads_every_json_file(tmp_path, monkeypatch):
    gen = _docs_gen()
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "demo.json").write_text(
        '{"name": "demo", "command": "python -m fedkit reproduce demo", '
        '"machine": {"cores": 2}, "data": [{"a": 1.23456}]}'
    )
    (tmp_path / "r" / "broken.json").write_text("{")
    page = gen.results_page(tmp_path / "r")
    assert "## demo" in page and "`python -m fedkit reproduce demo`" in page and "| 1.235 |" in page
    assert "## broken" in page and "could not be read" in page


def test_links_to_repository_files_survive_the_move(tmp_path, monkeypatch):
    gen = _docs_gen()
    source = gen.ROOT / "docs" / "notes" / "03_x.md"
    dest = gen.SRC / "notes" / "03_x.md"
    placed = {(gen.ROOT / "notebooks" / "03_x.ipynb").resolve(): gen.SRC / "lessons" / "03_x.ipynb"}
    text = "[l](../../notebooks/03_x.ipynb#top) [m](../../fedkit/data/emnist.py) [w](https://x.org/a.md) [a](#here)"
    out = gen.rewrite_links(text, source, dest, placed, "https://github.com/o/r")
    assert "[l](../lessons/03_x.ipynb#top)" in out
    assert "[m](https://github.com/o/r/blob/main/fedkit/data/emnist.py)" in out
    assert "[w](https://x.org/a.md)" in out and "[a](#here)" in out


def test_repository_address_is_the_one_setting():
    from fedkit.runtime import colab

    assert _docs_gen().repo_url() == colab.REPO_URL


def test_package_urls_follow_the_repository_setting():
    import tomllib

    from fedkit.runtime import colab

    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("urls", {})
    stray = {k: v for k, v in urls.items() if "github.com/" in v and not v.startswith(colab.REPO_URL)}
    assert not stray, f"pyproject.toml [project.urls] {stray} name another repository than REPO_URL ({colab.REPO_URL})"


def test_notebook_titles_take_the_file_number():
    gen = _docs_gen()
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert gen.notebook_title(nb).startswith(nb.name[:2] + " · ")


# ---- the built site in a browser (make docs-test) -----------------------------------------------------


def _lesson_pages() -> list[str]:
    """Site paths of every lesson page that `make docs` built."""
    return sorted(f"lessons/{p.parent.name}/" for p in (SITE / "lessons").glob("[0-9][0-9]_*/index.html"))


@pytest.fixture(scope="module")
def site_url():
    if not BROWSER:
        pytest.skip("browser test of the book: run `make docs-test` (sets FEDKIT_DOCS_TEST=1)")
    if not (SITE / "index.html").exists():
        pytest.fail(f"{SITE} has no index.html: run `make docs` first.")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def page(site_url):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("no browser: Playwright is not installed here (`make docs-test` installs it in .venv-docs)")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no browser: {CHROMIUM} is missing (`apt-get install chromium`, which `make docs-test` runs)")
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as e:  # any launch failure means there is no browser to test with
            pytest.skip(f"no browser: {CHROMIUM} did not start ({str(e).splitlines()[0]})")
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        # The book must read offline: requests that leave the loopback server are refused at once.
        context.route(re.compile(r"^(?!http://127\.0\.0\.1:).*"), lambda route: route.abort())
        yield context.new_page()
        browser.close()


def _images(page) -> list[dict]:
    return page.eval_on_selector_all(
        "img", "els => els.map(e => ({src: e.currentSrc || e.src, w: e.naturalWidth, done: e.complete}))"
    )


def test_every_lesson_page_loads_with_its_images(page, site_url):
    lessons = _lesson_pages()
    assert lessons, f"no lesson pages under {SITE / 'lessons'}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "lesson-figure.png").unlink(missing_ok=True)
    figures = 0
    for path in lessons:
        response = page.goto(site_url + path, wait_until="load")
        assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
        assert page.locator("h1").count() >= 1, f"{path}: no title"
        page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=30_000)
        local = [i for i in _images(page) if i["src"].startswith((site_url, "data:"))]
        broken = [i["src"][:80] for i in local if i["w"] == 0]
        assert not broken, f"{path}: images that did not load: {broken}"
        plots = [i for i in local if i["src"].startswith("data:image/png")]
        if plots and not figures:
            page.locator("img[src^='data:image/png']").first.scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / "lesson-figure.png"))
        figures += len(plots)
    assert figures > 0, "no lesson page shows a figure from its stored outputs"


def test_navigation_from_home_to_a_lesson_and_back(page, site_url):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(site_url, wait_until="load")
    page.screenshot(path=str(SCREENSHOTS / "home.png"))
    first = _lesson_pages()[0]
    link = page.locator(f"nav.md-nav a[href$='{first}']").first
    title = link.inner_text().strip()
    link.click()
    page.wait_for_url(re.compile(re.escape(first) + "$"))
    assert title.split(" · ")[-1][:20] in page.locator("h1").first.inner_text()
    page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "lesson.png"), full_page=False)
    page.go_back()
    page.wait_for_url(site_url)
    assert page.url == site_url
