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
A full-page screenshot goes to _build/screenshots/<page>.png and a summary line is printed.

If _build/html is missing or older than its sources, the book is built first with
`jupyter-book build . --path-output .` (LTH_PROFILE from the environment, quick by default).
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
    toc = yaml.safe_load((book / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []):
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [re.sub(r"\.(md|ipynb)$", "", p) for p in pages]


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

def _stale_reason() -> str | None:
    """Why _build/html must be (re)built, or None if it is newer than every input."""
    outputs = [HTML / f"{p}.html" for p in PAGES]
    missing = [o for o in outputs if not o.exists()]
    if missing:
        return f"{len(missing)} page(s) not built, e.g. {missing[0].relative_to(BOOK) if missing[0].is_relative_to(BOOK) else missing[0]}"
    built = min(o.stat().st_mtime for o in outputs)
    inputs = [BOOK / "_config.yml", BOOK / "_toc.yml", *(source_of(p) for p in PAGES)]
    inputs += sorted((BOOK / "book").glob("*.bib")) + sorted((BOOK / "lth_utils").glob("*.py"))
    inputs += sorted((BOOK / "data" / "results").glob("*.json"))
    newer = [i for i in inputs if i.exists() and i.stat().st_mtime > built]
    return f"{newer[0].relative_to(BOOK)} is newer than the build" if newer else None


@pytest.fixture(scope="session")
def html_dir(request) -> Path:
    """_build/html, built now if missing or stale (this is slow: it executes every chapter).

    The build's log goes to _build/test_pages_build.log; its tail is shown if the build fails."""
    reason = _stale_reason()
    if reason:
        jb = Path(sys.executable).parent / "jupyter-book"
        env = dict(os.environ)
        env.setdefault("LTH_PROFILE", "quick")
        cmd = [str(jb), "build", str(BOOK), "--path-output", str(BOOK), *env.get("JBFLAGS", "").split()]
        log = BOOK / "_build" / "test_pages_build.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        capture = request.config.pluginmanager.getplugin("capturemanager")
        start = time.time()
        with capture.global_and_fixture_disabled():
            print(f"\ntest_pages: building the book first ({reason}): LTH_PROFILE={env['LTH_PROFILE']} "
                  f"{' '.join(cmd)} > {log}", flush=True)
        with open(log, "w") as out:
            proc = subprocess.run(cmd, cwd=BOOK, env=env, stdout=out, stderr=subprocess.STDOUT)
        with capture.global_and_fixture_disabled():
            print(f"test_pages: build finished in {time.time() - start:.0f} s (exit {proc.returncode})", flush=True)
        assert proc.returncode == 0, f"jupyter-book build failed, see {log}:\n{log.read_text()[-4000:]}"
        assert _stale_reason() is None, (
            f"the build did not produce every page of _toc.yml ({_stale_reason()}); "
            f"if LTH_HTML_DIR is set, it must be <book>/_build/html for the test to build it")
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
