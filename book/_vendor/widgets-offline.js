/* The Lottery Ticket Book: make the vendored widget manager work offline next to MathJax 3.
 * Written by hand (tools/vendor_js.sh leaves it alone); loaded after require.js and before
 * jupyter-widgets/embed-amd.js on pages with saved widgets (_config.yml: nb_ipywidgets_js).
 *
 * 1. The widget manager locates its bundled files (Font Awesome fonts) from the AMD module URL,
 *    which require.js would resolve against the page (book/@jupyter-widgets/...): map the module
 *    folder to the vendored copy next to this file.
 * 2. Widget labels are typeset with the MathJax 2 call MathJax.Hub.Queue(["Typeset", Hub, el]);
 *    the book loads MathJax 3, so provide that call on top of MathJax.typesetPromise.
 * 3. On a static page no kernel answers a control: a slider that moves while its figure stays put
 *    tells the reader something false. Before the widget manager reads the saved state, set
 *    `disabled: true` on every model that has a `disabled` trait (sliders, dropdowns, toggles,
 *    buttons, text boxes): the manager then renders them greyed out and immovable, readouts not
 *    editable, exactly as ipywidgets shows a disabled control. Above each panel that holds such a
 *    control, add one line saying where it moves (p.lth-widget-note). The chapters show the
 *    panel's small multiples next to it. This file is loaded only on the built web pages
 *    (_config.yml: nb_ipywidgets_js), never in Colab or Jupyter, where the controls stay live.
 */
(function () {
  var here = document.currentScript && document.currentScript.src;
  if (window.require && window.require.config && here) {
    window.require.config({
      paths: {"@jupyter-widgets/html-manager/dist": new URL("jupyter-widgets", here).href}
    });
  }
  function addHub() {
    var mj = window.MathJax;
    if (!mj || mj.Hub || !mj.typesetPromise) return;
    mj.Hub = {
      Queue: function () {
        var elements = [];
        for (var i = 0; i < arguments.length; i++) {
          var a = arguments[i];
          if (Array.isArray(a) && a[0] === "Typeset" && a[2]) elements.push(a[2]);
        }
        var ready = (mj.startup && mj.startup.promise) || Promise.resolve();
        return ready.then(function () { return mj.typesetPromise(elements); });
      }
    };
  }
  var NOTE_CLASS = "lth-widget-note";

  /* Every model id a model's state refers to ("IPY_MODEL_<id>" in children, layout, ...). */
  function references(value, out) {
    if (typeof value === "string") {
      if (value.indexOf("IPY_MODEL_") === 0) out.push(value.slice(10));
    } else if (value && typeof value === "object") {
      for (var k in value) if (Object.prototype.hasOwnProperty.call(value, k)) references(value[k], out);
    }
    return out;
  }

  /* Disable every control in the saved widget state; return the ids of the disabled models. */
  function disableSavedControls() {
    var disabled = {};
    var scripts = document.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]');
    for (var i = 0; i < scripts.length; i++) {
      var saved;
      try { saved = JSON.parse(scripts[i].textContent); } catch (e) { continue; }
      var models = (saved && saved.state) || {};
      for (var id in models) {
        var st = models[id] && models[id].state;
        if (st && Object.prototype.hasOwnProperty.call(st, "disabled")) {
          st.disabled = true;
          disabled[id] = models[id].model_name || "control";
        }
      }
      scripts[i].textContent = JSON.stringify(saved);
    }
    return {disabled: disabled, models: scripts.length ? allModels(scripts) : {}};
  }

  function allModels(scripts) {
    var all = {};
    for (var i = 0; i < scripts.length; i++) {
      try {
        var models = JSON.parse(scripts[i].textContent).state || {};
        for (var id in models) all[id] = models[id];
      } catch (e) { /* a broken state is reported by the widget manager itself */ }
    }
    return all;
  }

  /* The model names of the controls a displayed view contains (its model and everything below). */
  function controlsBelow(rootId, models, disabled) {
    var seen = {}, todo = [rootId], found = [];
    while (todo.length) {
      var id = todo.pop();
      if (seen[id] || !models[id]) continue;
      seen[id] = true;
      if (disabled[id]) found.push(disabled[id]);
      references(models[id].state, []).forEach(function (r) { todo.push(r); });
    }
    return found;
  }

  /* One line above each panel with a control; the manager inserts the panel just before its
   * view script, so the order is: note, panel, script. */
  function addNotes(state) {
    var views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]');
    for (var i = 0; i < views.length; i++) {
      var view;
      try { view = JSON.parse(views[i].textContent); } catch (e) { continue; }
      var controls = controlsBelow(view.model_id, state.models, state.disabled);
      if (!controls.length || !views[i].parentElement) continue;
      var prev = views[i].previousElementSibling;
      while (prev && !prev.classList.contains(NOTE_CLASS) && prev.classList.contains("widget-subarea")) {
        prev = prev.previousElementSibling;
      }
      if (prev && prev.classList.contains(NOTE_CLASS)) continue;      // already there
      var what = controls.some(function (n) { return /Slider/.test(n); }) ? "this slider"
        : controls.length > 1 ? "these controls" : "this control";
      var note = document.createElement("p");
      note.className = NOTE_CLASS;
      note.textContent = "Run this chapter in Colab or Jupyter to move " + what + ".";
      note.style.cssText = "margin: 0.25em 0 0.5em; font-size: 0.9em; font-style: italic; opacity: 0.85;";
      views[i].parentElement.insertBefore(note, views[i]);
    }
  }

  var done = false;
  function staticWidgets() {
    if (done) return;
    done = true;
    addNotes(disableSavedControls());
  }

  /* MathJax 3 is a deferred script: it exists once the document is parsed. The widgets render
   * on "load", which comes later, so the state is edited before the manager reads it. */
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", staticWidgets);
  } else {
    staticWidgets();
  }
  document.addEventListener("DOMContentLoaded", addHub);
  window.addEventListener("load", addHub);
})();
