"""The built web book, page by page, in a real browser (headless Chromium driven by Playwright).

For every page listed in _toc.yml this opens _build/html/<page>.html from a local HTTP server and
checks what a reader would see:
- no error output in any cell (no traceback),
- every image loaded,
- math typeset by MathJax (no raw $...$ or \\( left in the prose),
- every saved widget rendered (not blank),
- every same-site link answers 200 and every in-page anchor exists,
- the Colab button opens this chapter's notebook from the repository's main branch,
- nothing is fetched from outside the local server (no CDN: widgets and MathJax are vendored),
- no JavaScript error.
test_page_readable checks, at 1280 px, that no code or output block is wider than its column, that
tables have visible column spacing, that figure text is at least ~9 px as shown (see
MIN_FIGURE_SCALE), and that no progress bar or blank output area is left on the page.
test_widgets_static checks that every widget control is disabled on the static page and cannot be
moved (keyboard, drag, typing), and that each panel says where to move it (Colab or Jupyter).
A full-page screenshot goes to _build/screenshots/<page>.png and a summary line is printed.

If _build/html is missing, older than its sources or built for another profile, the book is built
first with tools/build_book.sh (as `make book`; LTH_PROFILE from the environment, quick by default,
and no progress bars).
Environment: LTH_BOOK_DIR (book root, default the repository), LTH_HTML_DIR (default
<book root>/_build/html), CHROMIUM (default /usr/bin/chromium; installed with
`apt-get install -y chromium` when missing and running as root), JBFLAGS (extra build flags).
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

import toc  # tests/toc.py: the one reader of _toc.yml
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
BOOK = Path(os.environ.get("LTH_BOOK_DIR", REPO)).resolve()
HTML = Path(os.environ.get("LTH_HTML_DIR", BOOK / "_build" / "html")).resolve()
SHOTS = HTML.parent / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000        # the machine is small and shared; MathJax + widgets take a few seconds


def toc_pages(book: Path = BOOK) -> list[str]:
    """Every document of _toc.yml, in order, as paths without suffix ("book/intro", ...)."""
    return toc.pages(book)


def source_of(page: str) -> Path:
    for suffix in (".ipynb", ".md"):
        if (BOOK / f"{page}{suffix}").exists():
            return BOOK / f"{page}{suffix}"
    raise FileNotFoundError(f"{page} is in _toc.yml but neither {page}.ipynb nor {page}.md exists")


def colab_url(page: str) -> str:
    """The Colab link a chapter page must carry, from _config.yml (the repository URL lives only there)."""
    cfg = yaml.safe_load((BOOK / "_config.yml").read_text())
    repo = cfg["repository"]
    org_repo = urllib.parse.urlparse(repo["url"]).path.strip("/").removesuffix(".git")
    prefix = (repo.get("path_to_book") or "").strip("/")
    path = f"{prefix}/{page}.ipynb" if prefix and prefix != "." else f"{page}.ipynb"
    return f"https://colab.research.google.com/github/{org_repo}/blob/{repo.get('branch', 'main')}/{path}"


PAGES = toc_pages()


# --------------------------------------------------------------------------- fixtures

def wanted_profile() -> str:
    """The profile the pages are checked for: $LTH_PROFILE, quick by default (as `make pages`)."""
    return os.environ.get("LTH_PROFILE", "quick")


def built_profile(book: Path = BOOK, html: Path = HTML, pages: list[str] | None = None) -> str | None:
    """The profile the pages in `html` were built for, or None if unknown.

    tools/build_book.sh (`make book`, and this file's build) writes it to _build/.profile after each
    build. A page newer than that stamp comes from a build by hand (`jupyter-book build .`), which
    writes no stamp: then the profile is read from the setup cell's output on the first chapter page
    ("lth_utils 0.1.0 · profile 'quick'", the same cell in every chapter)."""
    pages = PAGES if pages is None else pages
    stamp = book / "_build" / ".profile"
    built = [html / f"{p}.html" for p in pages if (html / f"{p}.html").exists()]
    if stamp.exists() and all(b.stat().st_mtime <= stamp.stat().st_mtime for b in built):
        return stamp.read_text().strip() or None
    for b in built:
        m = re.search(r"profile (?:'|&#39;|&#x27;)(\w+)(?:'|&#39;|&#x27;)", b.read_text(errors="replace"))
        if m:
            return m.group(1)
    return None


def _stale_reason(book: Path = BOOK, html: Path = HTML, pages: list[str] | None = None,
                  profile: str | None = None) -> str | None:
    """Why _build/html must be (re)built, or None if it is newer than every input and of the
    profile asked for (`profile`, default wanted_profile())."""
    pages = PAGES if pages is None else pages
    profile = profile or wanted_profile()
    outputs = [html / f"{p}.html" for p in pages]
    missing = [o for o in outputs if not o.exists()]
    if missing:
        return f"{len(missing)} page(s) not built, e.g. {missing[0].relative_to(book) if missing[0].is_relative_to(book) else missing[0]}"
    built_for = built_profile(book, html, pages)
    if built_for != profile:
        return f"the pages were built for profile {built_for or 'unknown'!r}, not {profile!r}"
    newer = _newer_inputs(book, html, pages)
    if newer:
        return f"{', '.join(newer[:3])}{' ...' if len(newer) > 3 else ''} newer than the build"
    unsynced = _unsynced_static(book, html)
    return f"{unsynced[0]} differs from its copy in _static" if unsynced else None


def _unsynced_static(book: Path = BOOK, html: Path = HTML) -> list[str]:
    """Hand-written page scripts (book/_vendor/*.js) whose copy in _build/html/_static differs:
    any build copies them again, without re-running a chapter."""
    return [str(f.relative_to(book)) for f in sorted((book / "book" / "_vendor").glob("*.js"))
            if not (html / "_static" / f.name).exists() or (html / "_static" / f.name).read_bytes() != f.read_bytes()]


def _page_sources(book: Path, pages: list[str]) -> list[Path]:
    return [book / f"{p}{suffix}" for p in pages for suffix in (".ipynb", ".md")
            if (book / f"{p}{suffix}").exists()]


def _newer_inputs(book: Path = BOOK, html: Path = HTML, pages: list[str] | None = None) -> list[str]:
    """The inputs of the build (relative paths) newer than its oldest page."""
    pages = PAGES if pages is None else pages
    built = min((html / f"{p}.html").stat().st_mtime for p in pages)
    inputs = [book / "_config.yml", book / "_toc.yml", *_page_sources(book, pages)]
    inputs += sorted((book / "book").glob("*.bib")) + sorted((book / "lth_utils").glob("*.py"))
    inputs += sorted((book / "data" / "results").glob("*.json"))
    return [str(i.relative_to(book)) for i in inputs if i.exists() and i.stat().st_mtime > built]


_BUILD: dict = {}     # the build started by start_build(): process, log, start time, reason


def start_build(announce=print) -> bool:
    """Start building _build/html in the background if it is missing, stale or of another profile
    (this is slow: it executes every chapter); return whether a build was started.

    tests/conftest.py calls this as soon as the page tests are collected and moves them to the end
    of the run, so the build (one thread) runs beside the unit tests and the notebooks under nbval
    (another thread) instead of after them. The build goes through tools/build_book.sh (as
    `make book`): it records the profile in _build/.profile, passes --all when the pages were built
    for another profile, and sets LTH_PROGRESS=0. When something other than a page's own source
    changed (lth_utils, a record, the configuration) every page is rebuilt too: Sphinx alone would
    re-run only changed chapters. The build's log goes to _build/test_pages_build.log."""
    reason = _stale_reason()
    if not reason or _BUILD:
        return False
    env = dict(os.environ, LTH_PROGRESS="0", LTH_BOOK_DIR=str(BOOK))
    env.setdefault("JUPYTER_BOOK", str(Path(sys.executable).parent / "jupyter-book"))
    env.setdefault("OMP_NUM_THREADS", "1")
    flags = env.get("JBFLAGS", "").split()
    page_sources = {str(p.relative_to(BOOK)) for p in _page_sources(BOOK, PAGES)}
    fresh = [o for o in (HTML / f"{p}.html" for p in PAGES) if not o.exists()]
    if not fresh and not set(_newer_inputs()) <= page_sources and "--all" not in flags:
        flags.append("--all")       # lth_utils, a record or the configuration changed
    cmd = ["bash", str(REPO / "tools" / "build_book.sh"), wanted_profile(), *flags]
    log = BOOK / "_build" / "test_pages_build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    announce(f"test_pages: building the book in the background ({reason}): {' '.join(cmd)} > {log}")
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=BOOK, env=env, stdout=out, stderr=subprocess.STDOUT)
    _BUILD.update(proc=proc, log=log, start=time.time(), reason=reason)
    return True


@pytest.fixture(scope="session")
def html_dir(request) -> Path:
    """_build/html, once the build started by :func:`start_build` (or started here) has finished."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def say(text: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"\n{text}", flush=True)

    start_build(say)
    if _BUILD:
        proc, log = _BUILD["proc"], _BUILD["log"]
        returncode = proc.wait()
        say(f"test_pages: build finished in {time.time() - _BUILD['start']:.0f} s (exit {returncode})")
        assert returncode == 0, f"jupyter-book build failed, see {log}:\n{log.read_text()[-4000:]}"
        # records the notebooks wrote meanwhile are outputs, not changed inputs: check the pages
        # exist and are of this profile
        missing = [p for p in PAGES if not (HTML / f"{p}.html").exists()]
        assert not missing and built_profile() == wanted_profile(), (
            f"the build did not produce every page of _toc.yml for {wanted_profile()!r} "
            f"(missing: {missing[:3]}); if LTH_HTML_DIR is set, it must be <book>/_build/html "
            f"for the test to build it")
    return HTML


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def server(html_dir):
    """Base URL of a local HTTP server (127.0.0.1, free port) serving _build/html."""
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _ensure_chromium() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env)
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} not found: install Debian's chromium (`apt-get install -y chromium`) or set CHROMIUM")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory):
    """One headless Chromium with a fresh profile directory for the whole session."""
    executable = _ensure_chromium()
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        yield context
        context.close()


# --------------------------------------------------------------------------- the checks (in the page)

JS_ERROR_OUTPUTS = """() => [...new Set([...document.querySelectorAll(
    '.cell_output .output.traceback, .cell_output .output.error, .cell_output .traceback')]
    .concat([...document.querySelectorAll('.cell_output')]
        .filter(e => /Traceback \\(most recent call last\\)/.test(e.innerText)))
    .map(e => e.closest('.cell_output') || e))]
    .map(e => e.innerText.slice(0, 300))"""

JS_IMAGES = """async () => {
    const imgs = [...document.images];
    imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
    await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
        i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 20000); })));
    return {total: imgs.length,
            broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0))
                        .map(i => i.currentSrc || i.src).map(s => s.slice(0, 120))};
}"""

JS_MATH = """async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
    const main = document.querySelector('main') || document.body;
    const math = [...main.querySelectorAll('.math')];
    const untypeset = math.filter(e => !e.querySelector('mjx-container') && e.tagName !== 'MJX-CONTAINER')
                          .map(e => e.textContent.slice(0, 80));
    const prose = main.cloneNode(true);
    prose.querySelectorAll('pre, code, script, style, mjx-container, .cell_output, .highlight, '
                           + '.widget-subarea, .jupyter-widgets, textarea').forEach(e => e.remove());
    const text = prose.textContent;
    const raw = (text.match(/\\\\\\(|\\\\\\[|\\$\\$|\\$[^\\s$][^$\\n]{0,200}?\\$/g) || []).slice(0, 5);
    return {math: math.length, typeset: math.length - untypeset.length,
            mathjax_loaded: !!(window.MathJax && MathJax.startup), untypeset, raw};
}"""

JS_WIDGET_VIEWS = """() => document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length"""

JS_WIDGETS_RENDERED = """() => [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')]
    .every(s => { const d = s.previousElementSibling;
                  return d && d.classList.contains('widget-subarea') && d.children.length > 0; })"""

JS_WIDGETS = """() => [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')]
    .map((s, i) => { const d = s.previousElementSibling;
        const ok = d && d.classList.contains('widget-subarea');
        const r = ok ? d.getBoundingClientRect() : {width: 0, height: 0};
        return {i, rendered: !!ok, children: ok ? d.children.length : 0,
                width: Math.round(r.width), height: Math.round(r.height),
                imgs: ok ? d.querySelectorAll('img').length : 0}; })"""

JS_LINKS = """() => ({
    hrefs: [...document.querySelectorAll('a[href]')].map(a => a.href),
    anchors: [...(document.querySelector('main') || document.body).querySelectorAll('a[href]')]
        .map(a => a.getAttribute('href')).filter(h => h.startsWith('#') && h.length > 1)
        .filter(h => !document.getElementById(decodeURIComponent(h.slice(1)))),
    colab: [...document.querySelectorAll('a[href*="colab.research.google.com"]')].map(a => a.href),
    scripts: [...document.querySelectorAll('script[src], link[rel="stylesheet"][href]')]
        .map(e => e.src || e.href).filter(u => !u.startsWith(location.origin)),
})"""


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


_link_status: dict[str, int] = {}     # cache across pages: the sidebar links repeat on every page


@pytest.mark.parametrize("page", PAGES)
def test_page(page, server, browser_context, capsys):
    """One page of _toc.yml: outputs, images, math, widgets, links, Colab button, offline, no JS errors."""
    start = time.time()
    url = urllib.parse.urljoin(server, f"{page}.html")
    problems: list[str] = []
    external: list[str] = []
    js_errors: list[str] = []
    failed: list[str] = []

    p = browser_context.new_page()

    def route(r):
        if r.request.url.startswith(server):
            r.continue_()
        else:
            external.append(r.request.url[:120])
            r.abort()

    p.route("**/*", route)
    p.on("pageerror", lambda e: js_errors.append(str(e)[:300]))
    p.on("response", lambda r: failed.append(f"{r.status} {r.url[:120]}")
         if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)   # the browser's own guess
    try:
        resp = p.goto(url, wait_until="load", timeout=TIMEOUT_MS)
        assert resp is not None and resp.status == 200, f"{url} answered {resp and resp.status}"

        # widgets: the manager replaces each saved view with a rendered widget-subarea
        n_views = p.evaluate(JS_WIDGET_VIEWS)
        if n_views:
            try:
                p.wait_for_function(JS_WIDGETS_RENDERED, timeout=TIMEOUT_MS)
            except Exception:
                pass      # reported below, per widget
            p.wait_for_timeout(500)
        widgets = p.evaluate(JS_WIDGETS)
        for w in widgets:
            if not (w["rendered"] and w["children"] and w["width"] > 0 and w["height"] > 0):
                problems.append(f"widget {w['i']} blank: {w}")

        errors = p.evaluate(JS_ERROR_OUTPUTS)
        problems += [f"error output: {e!r}" for e in errors]

        images = p.evaluate(JS_IMAGES)
        problems += [f"image not loaded: {src}" for src in images["broken"]]

        math = p.evaluate(JS_MATH)
        if math["math"] and not math["mathjax_loaded"]:
            problems.append("the page has math but MathJax did not load")
        problems += [f"math not typeset: {m!r}" for m in math["untypeset"]]
        problems += [f"raw TeX in the text: {m!r}" for m in math["raw"]]

        links = p.evaluate(JS_LINKS)
        internal = sorted({h.split("#")[0] for h in links["hrefs"] if h.startswith(server)})
        for h in internal:
            if h not in _link_status:
                _link_status[h] = _status(h)
            if _link_status[h] != 200:
                problems.append(f"link {h[len(server):] or '/'} answers {_link_status[h]}")
        problems += [f"in-page anchor {a} has no target" for a in links["anchors"]]

        if source_of(page).suffix == ".ipynb":
            want = colab_url(page)
            if want not in links["colab"]:
                problems.append(f"Colab button {links['colab'] or 'missing'}, expected {want}")
        elif links["colab"]:
            problems.append(f"a Markdown page has a Colab button: {links['colab']}")

        problems += [f"script or stylesheet from another site (must be vendored): {u}" for u in links["scripts"]]
        problems += [f"external request (must be vendored): {u}" for u in external]
        problems += [f"JavaScript error: {e}" for e in js_errors]
        problems += [f"request failed: {f}" for f in failed]

        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = SHOTS / f"{Path(page).name}.png"
        p.screenshot(path=str(shot), full_page=True, timeout=TIMEOUT_MS)
    finally:
        p.close()

    with capsys.disabled():
        print(f"\n  page {page}: {len(widgets)} widget(s), {images['total']} image(s), "
              f"{math['typeset']}/{math['math']} math typeset, {len(internal)} internal link(s), "
              f"{len(errors)} error output(s), {len(external)} external request(s), "
              f"{'OK' if not problems else f'{len(problems)} PROBLEM(S)'} "
              f"[{time.time() - start:.1f} s, {shot.relative_to(BOOK) if shot.is_relative_to(BOOK) else shot}]")
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------- readable pages (1280 px)
#
# The published book is read at about 690 px of column (1280 px window, both sidebars shown).
# These checks measure what a reader sees there; each offender is reported with its page, the
# block's first 60 characters (or the figure's file and cell) and its sizes, so that the chapter's
# owner can find and fix it.
#
# Figure text. The chapters' figures are matplotlib PNGs saved at 100 dpi with text of at least
# 8 pt: 8 pt = 8/72 in = 11.1 px in the PNG. The browser scales an image down to its column; if it
# is shown at `displayed` px out of `natural` px, that text is 11.1 * displayed / natural px tall.
# 9 px is about the smallest text that stays readable on a screen, so every output image must be
# shown at displayed / natural >= 9 / 11.1 = 0.81, i.e. a figure must be at most column / 0.81 px
# (about 8.5 in at 100 dpi for a 690 px column) wide. An <img> with an explicit width attribute
# (a retina PNG shown at half size) is measured against that width instead of its natural width.

MIN_FIGURE_SCALE = 0.81          # 8 pt at 100 dpi = 11.1 px; 9 px / 11.1 px = 0.81
MIN_COLUMN_GAP_PX = 6            # visible space between the text of neighbouring table cells
MAX_BLANK_PX = 20                # an output area taller than this with nothing in it is a gap

JS_READABLE = """async ([minScale, minGap, maxBlank]) => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
    const main = document.querySelector('main') || document.body;
    const article = main.querySelector('article.bd-article') || main.querySelector('article') || main;
    const ab = article.getBoundingClientRect(), as = getComputedStyle(article);
    const colRight = ab.right - parseFloat(as.paddingRight || 0);
    const text = e => (e.innerText || e.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 60);
    const shown = e => e.getClientRects().length > 0;
    const aside = e => !!e.closest('.margin, aside, .full-width, .sidebar, .marginnote, .bd-sidebar');
    const cellOf = e => { const c = e.closest('.cell'); const i = c && c.querySelector('.cell_input pre');
                          return i ? text(i) : ''; };
    const innermost = list => list.filter(x => !list.some(y => y !== x && x.el.contains(y.el)));
    const outermost = list => list.filter(x => !list.some(y => y !== x && y.el.contains(x.el)));
    const R = Math.round;

    // 1. code and output blocks no wider than the column
    let wide = [...main.querySelectorAll('pre, .cell_output, .output')]
        .filter(e => shown(e) && !aside(e))
        .map(e => { const b = e.getBoundingClientRect();
            return {el: e, kind: e.matches('.cell_output') ? 'output area' : e.tagName === 'PRE' ? 'pre' : 'output',
                    text: text(e), scrollWidth: e.scrollWidth, clientWidth: e.clientWidth,
                    right: R(b.right), columnRight: R(colRight),
                    over: e.scrollWidth > e.clientWidth + 1 || b.right > colRight + 1}; })
        .filter(x => x.over);
    wide = innermost(wide).map(({el, over, ...x}) => x);

    // 2. tables: visible space between neighbouring cells' text
    const box = cell => {
        let l = Infinity, r = -Infinity;
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT), range = document.createRange();
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            if (!n.textContent.trim() || n.parentElement.closest('mjx-container')) continue;
            range.selectNodeContents(n);
            for (const q of range.getClientRects()) if (q.width > 0) { l = Math.min(l, q.left); r = Math.max(r, q.right); }
        }
        for (const e of cell.querySelectorAll('img, svg, mjx-container')) {
            const q = e.getBoundingClientRect();
            if (q.width > 0 && !e.parentElement.closest('mjx-container')) { l = Math.min(l, q.left); r = Math.max(r, q.right); }
        }
        return l < r ? {l, r} : null;
    };
    const tables = [];
    for (const t of main.querySelectorAll('table')) {
        if (!shown(t) || t.closest('.highlighttable, mjx-container')) continue;
        let worst = null;
        for (const row of t.rows) {
            const cells = [...row.cells];
            for (let i = 0; i + 1 < cells.length; i++) {
                const a = box(cells[i]), b = box(cells[i + 1]);
                if (!a || !b) continue;
                const gap = b.l - a.r;
                if (!worst || gap < worst.gap) {
                    const ca = getComputedStyle(cells[i]), cb = getComputedStyle(cells[i + 1]);
                    worst = {gap, column: i + 1, row: text(row),
                             padding: R(parseFloat(ca.paddingRight) + parseFloat(cb.paddingLeft))};
                }
            }
        }
        if (worst && worst.gap < minGap)
            tables.push({text: text(t), gap: Math.round(worst.gap * 10) / 10, between_columns: [worst.column, worst.column + 1],
                         row: worst.row, cell_padding: worst.padding});
    }

    // 3. figures: text at least ~9 px as shown
    const images = [];
    for (const img of main.querySelectorAll('.cell_output img, .widget-subarea img, figure img, .output img')) {
        if (!shown(img) || !img.naturalWidth || img.naturalWidth < 100) continue;
        const attr = parseFloat(img.getAttribute('width'));
        const reference = attr > 0 && /^\\d+(px)?$/.test(img.getAttribute('width').trim()) ? attr : img.naturalWidth;
        const w = img.getBoundingClientRect().width, scale = w / reference;
        if (scale < minScale) {
            const src = (img.currentSrc || img.src);
            images.push({src: src.startsWith('data:') ? src.slice(0, 30) + '...' : src.split('/').slice(-1)[0],
                         cell: cellOf(img), natural: reference, displayed: R(w), scale: Math.round(scale * 100) / 100,
                         text_px: Math.round(11.1 * scale * 10) / 10, max_width_px: Math.floor(w / minScale)});
        }
    }

    // 4. no progress bars, no blank gaps
    const tqdm = /\\d+%\\||\\s+it\\/s\\]|s\\/it\\]/;
    const progress = [];
    for (const o of main.querySelectorAll('.cell_output')) {
        const line = (o.innerText || '').split('\\n').find(l => tqdm.test(l));
        if (line) progress.push({kind: 'progress text', text: line.trim().slice(0, 60), cell: cellOf(o)});
    }
    for (const e of main.querySelectorAll('.widget-progress, .widget-hprogress, .widget-vprogress, progress'))
        if (!e.parentElement.closest('.widget-progress, .widget-hprogress, .widget-vprogress'))
            progress.push({kind: 'progress widget', text: text(e.closest('.widget-subarea') || e), cell: cellOf(e)});
    const media = 'img, svg, canvas, video, iframe, input, select, button, textarea, table, mjx-container, .noUi-target';
    let blank = [...main.querySelectorAll('.cell_output, .cell_output .output, .widget-subarea')]
        .filter(e => shown(e) && e.getBoundingClientRect().height > maxBlank
                     && !(e.innerText || '').trim() && !e.querySelector(media))
        .map(e => ({el: e, height: R(e.getBoundingClientRect().height), cell: cellOf(e),
                    kind: e.matches('.widget-subarea') ? 'widget area' : 'output area'}));
    blank = outermost(blank).map(({el, ...x}) => x);
    return {wide, tables, images, progress, blank};
}"""


def _open(browser_context, server, page: str):
    """A browser tab on `page`, loaded, with its widgets rendered and its math typeset."""
    p = browser_context.new_page()
    p.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server) else r.abort())
    resp = p.goto(urllib.parse.urljoin(server, f"{page}.html"), wait_until="load", timeout=TIMEOUT_MS)
    assert resp is not None and resp.status == 200, f"{page}.html answered {resp and resp.status}"
    if p.evaluate(JS_WIDGET_VIEWS):
        try:
            p.wait_for_function(JS_WIDGETS_RENDERED, timeout=TIMEOUT_MS)
        except Exception:
            pass        # test_page reports blank widgets
        p.wait_for_timeout(500)
    p.evaluate("async () => { if (window.MathJax && MathJax.startup) await MathJax.startup.promise; }")
    return p


def readability_problems(page: str, found: dict) -> list[str]:
    """The readable-page offenders of JS_READABLE as one line each (also used for the report)."""
    out = []
    for w in found["wide"]:
        out.append(f"{w['kind']} wider than its column ({w['scrollWidth']} px of content in "
                   f"{w['clientWidth']} px, right edge {w['right']} px, column ends at {w['columnRight']} px): "
                   f"{w['text']!r}")
    for t in found["tables"]:
        out.append(f"table without column spacing ({t['gap']} px between the text of columns "
                   f"{t['between_columns'][0]} and {t['between_columns'][1]}, cell padding {t['cell_padding']} px, "
                   f"want >= {MIN_COLUMN_GAP_PX} px; row {t['row']!r}): {t['text']!r}")
    for i in found["images"]:
        out.append(f"figure text too small: {i['src']} is {i['natural']} px wide "
                   f"({i['natural'] / 100:.1f} in at 100 dpi), shown at {i['displayed']} px (x{i['scale']}), so 8 pt "
                   f"text reads as {i['text_px']} px < 9 px; make it <= {i['max_width_px']} px "
                   f"({i['max_width_px'] / 100:.1f} in at 100 dpi) wide. Cell: {i['cell']!r}")
    for g in found["progress"]:
        out.append(f"{g['kind']} on the page (build with LTH_PROGRESS=0; use lth_utils.progress_bars()): "
                   f"{g['text']!r} in cell {g['cell']!r}")
    for b in found["blank"]:
        out.append(f"empty {b['kind']} {b['height']} px tall (a blank gap) after cell {b['cell']!r}")
    return out


@pytest.mark.parametrize("page", PAGES)
def test_page_readable(page, server, browser_context, capsys):
    """At 1280 px: no code or output block wider than the column, tables with column spacing,
    figure text >= ~9 px as shown, no progress bars and no blank output areas."""
    p = _open(browser_context, server, page)
    try:
        p.evaluate(JS_IMAGES)                   # every image loaded (and measured at its real size)
        found = p.evaluate(JS_READABLE, [MIN_FIGURE_SCALE, MIN_COLUMN_GAP_PX, MAX_BLANK_PX])
    finally:
        p.close()
    problems = readability_problems(page, found)
    with capsys.disabled():
        print(f"\n  readable {page}: {len(found['wide'])} wide block(s), {len(found['tables'])} cramped table(s), "
              f"{len(found['images'])} small figure(s), {len(found['progress'])} progress bar(s), "
              f"{len(found['blank'])} blank gap(s)")
    assert not problems, f"{page} at 1280 px:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------- widgets honest on a static page
#
# No kernel answers a control on the web page: a slider whose label changes while its figure does
# not tells the reader something false. book/_vendor/widgets-offline.js disables every control
# before the widget manager renders it and adds one line per panel saying where it moves.

WIDGET_NOTE = re.compile(r"^Run this chapter in Colab or Jupyter to move (this slider|this control|these controls)\.$")

JS_PANELS = """() => {
    const containers = [];
    const hash = s => { let h = 5381; for (let i = 0; i < s.length; i++) h = ((h * 33) ^ s.charCodeAt(i)) | 0; return s.length + ':' + h; };
    return [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')].map((s, i) => {
        const d = s.previousElementSibling;
        if (!d || !d.classList.contains('widget-subarea')) return {i, rendered: false, controls: []};
        const label = e => { if (e.matches('button, input[type=button], input[type=submit]'))
                                 return (e.innerText || e.value || '').trim().slice(0, 30);
                             const w = e.closest('.widget-inline-hbox, .widget-box, .jupyter-widgets');
                             const l = w && w.querySelector('.widget-label');
                             return (l && l.innerText.trim()) || (e.innerText || '').trim().slice(0, 30); };
        const controls = [];
        d.querySelectorAll('.noUi-target').forEach(e => controls.push({kind: 'slider', label: label(e),
            disabled: e.hasAttribute('disabled')}));
        d.querySelectorAll('.widget-readout').forEach(e => controls.push({kind: 'readout', label: label(e),
            disabled: e.isContentEditable === false}));
        d.querySelectorAll('input, select, textarea, button').forEach(e => controls.push({kind: e.tagName.toLowerCase(),
            label: label(e), disabled: e.disabled}));
        const container = d.closest('.cell_output') || d.parentElement;     // the panel's output area
        if (!containers.includes(container)) containers.push(container);
        const notes = [...container.querySelectorAll('.lth-widget-note')]
            .map(n => ({text: n.innerText.trim(), visible: n.getClientRects().length > 0 && n.getBoundingClientRect().height > 0}));
        return {i, rendered: true, controls, notes, area: containers.indexOf(container),
                text: d.innerText.replace(/\\s+/g, ' ').trim(),
                figures: [...d.querySelectorAll('img, canvas')].map(e => e.tagName === 'IMG' ? hash(e.currentSrc || e.src) : hash(e.toDataURL()))};
    });
}"""


def _panel_controls(p, i: int):
    """Locators of what a reader can try to move in widget panel i."""
    panel = p.locator('script[type="application/vnd.jupyter.widget-view+json"]').nth(i).locator(
        "xpath=preceding-sibling::*[1]")
    return [("slider handle", panel.locator(".noUi-handle")), ("readout", panel.locator(".widget-readout")),
            ("field", panel.locator("input, select, textarea")), ("button", panel.locator("button"))]


def _try_to_move(p, kind: str, control) -> None:
    """What a reader does: keyboard arrows, a drag, a click, typing a value."""
    try:
        control.focus(timeout=2000)
        for key in ("ArrowRight", "ArrowRight", "ArrowUp", "PageUp", "End", "ArrowDown"):
            p.keyboard.press(key)
    except Exception:
        pass            # a disabled control cannot take the focus
    try:
        control.scroll_into_view_if_needed(timeout=2000)     # the keys may have scrolled the page
    except Exception:
        pass
    box = control.bounding_box()
    if box and box["width"] > 0:
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        p.mouse.move(x, y)
        p.mouse.down()
        p.mouse.move(x + 120, y, steps=6)
        p.mouse.up()
        p.mouse.click(x, y)
    if kind in ("readout", "field"):
        try:
            control.click(force=True, timeout=2000)
            p.keyboard.press("Control+A")
            p.keyboard.type("7")
            p.keyboard.press("Enter")
        except Exception:
            pass
    p.wait_for_timeout(300)


@pytest.mark.parametrize("page", [pg for pg in PAGES if source_of(pg).suffix == ".ipynb"])
def test_widgets_static(page, server, browser_context, capsys):
    """Every widget control on the static page is disabled and cannot be moved, and each panel
    with controls says once where to move them: no label or readout changes while its figure
    stays the same."""
    p = _open(browser_context, server, page)
    problems: list[str] = []
    try:
        panels = p.evaluate(JS_PANELS)
        with_controls = [w for w in panels if w["controls"]]
        for w in with_controls:
            enabled = [f"{c['kind']} {c['label']!r}" for c in w["controls"] if not c["disabled"]]
            if enabled:
                problems.append(f"panel {w['i']}: control(s) not disabled on the static page: {', '.join(enabled)}")
            good = [n for n in w["notes"] if WIDGET_NOTE.match(n["text"]) and n["visible"]]
            in_area = sum(1 for v in with_controls if v["area"] == w["area"])
            if not good:
                problems.append(f"panel {w['i']}: no visible line \"Run this chapter in Colab or Jupyter to move "
                                f"this slider.\" next to it (found {[n['text'] for n in w['notes']]})")
            elif len(good) != in_area:
                problems.append(f"panel {w['i']}: the Colab/Jupyter line appears {len(good)} time(s) in an output "
                                f"area with {in_area} panel(s) with controls; want once per panel")
        for w in with_controls:
            for kind, loc in _panel_controls(p, w["i"]):
                for j in range(loc.count()):
                    before = p.evaluate(JS_PANELS)[w["i"]]
                    _try_to_move(p, kind, loc.nth(j))
                    after = p.evaluate(JS_PANELS)[w["i"]]
                    if after["text"] != before["text"] and after["figures"] == before["figures"]:
                        problems.append(
                            f"panel {w['i']}: moving {kind} {j} changed the text while the figure stayed the same: "
                            f"{before['text'][:100]!r} -> {after['text'][:100]!r}")
    finally:
        p.close()
    with capsys.disabled():
        print(f"\n  widgets {page}: {len(panels)} panel(s), {len(with_controls)} with controls, "
              f"{sum(len(w['controls']) for w in with_controls)} control(s), "
              f"{'OK' if not problems else f'{len(problems)} PROBLEM(S)'}")
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)
