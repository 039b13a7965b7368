"""A local Sphinx extension for The Lottery Ticket Book (loaded by _config.yml: sphinx.local_extensions).

It removes duplicated inline <script> blocks from every page. With Sphinx 7.4, extensions that add
an inline script (`app.add_js_file(None, body=...)`) get it written twice: once as filename None and
once as filename "" (sphinx-thebe's `const THEBE_JS_URL = ...` then throws "Identifier
'THEBE_JS_URL' has already been declared" on every page; sphinx-togglebutton's is harmless).
"""
from __future__ import annotations


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        key = (getattr(js, "filename", js) or "", tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)   # after extensions add theirs
    return {"parallel_read_safe": True, "parallel_write_safe": True}
