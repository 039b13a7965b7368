/* The Lottery Ticket Book: make the vendored widget manager work offline next to MathJax 3.
 * Written by hand (tools/vendor_js.sh leaves it alone); loaded after require.js and before
 * jupyter-widgets/embed-amd.js on pages with saved widgets (_config.yml: nb_ipywidgets_js).
 *
 * 1. The widget manager locates its bundled files (Font Awesome fonts) from the AMD module URL,
 *    which require.js would resolve against the page (book/@jupyter-widgets/...): map the module
 *    folder to the vendored copy next to this file.
 * 2. Widget labels are typeset with the MathJax 2 call MathJax.Hub.Queue(["Typeset", Hub, el]);
 *    the book loads MathJax 3, so provide that call on top of MathJax.typesetPromise.
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
  /* MathJax 3 is a deferred script: it exists once the document is parsed. The widgets render
   * on "load", which comes later. */
  document.addEventListener("DOMContentLoaded", addHub);
  window.addEventListener("load", addHub);
})();
