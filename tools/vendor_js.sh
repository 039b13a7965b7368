#!/usr/bin/env bash
# (Re)vendor the JavaScript the built book needs, so its pages work offline and never call a CDN:
#   require.js                       loads the widget manager (AMD)            -> book/_vendor/requirejs/
#   @jupyter-widgets/html-manager    renders the saved ipywidgets 8 state       -> book/_vendor/jupyter-widgets/
#   mathjax 3 (tex-chtml-full)       typesets $math$, all TeX extensions built in, CHTML fonts
#                                                                               -> book/_vendor/mathjax/
# _config.yml copies book/_vendor into _build/html/_static/ (html_static_path) and points
# mathjax_path and nb_ipywidgets_js at these copies. The folder is deliberately not `_static/`:
# Jupyter Book 1 injects every _static/*.js into every page.
#
# Usage: bash tools/vendor_js.sh      (needs node + npm and the npm registry; run it only to
# change a version below, then commit book/_vendor/).
set -euo pipefail

REQUIREJS=2.3.8
HTML_MANAGER=1.0.15     # @jupyter-widgets/html-manager 1.0.x renders ipywidgets 8 (and 7) state
MATHJAX=3.2.2
TERSER=5.46.0           # minifier for require.js (the npm package ships it unminified)

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/book/_vendor"
work="$(mktemp -d /tmp/lth-vendor.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "vendor_js: fetching requirejs@$REQUIREJS @jupyter-widgets/html-manager@$HTML_MANAGER mathjax@$MATHJAX"
npm pack --silent "requirejs@$REQUIREJS" "@jupyter-widgets/html-manager@$HTML_MANAGER" "mathjax@$MATHJAX" >/dev/null
for tgz in *.tgz; do mkdir -p "${tgz%.tgz}" && tar xzf "$tgz" -C "${tgz%.tgz}"; done
npm install --silent --no-save --no-audit --no-fund --prefix "$work/terser" "terser@$TERSER" >/dev/null

rjs="$work/requirejs-$REQUIREJS/package"
whm="$work/jupyter-widgets-html-manager-$HTML_MANAGER/package"
mjx="$work/mathjax-$MATHJAX/package"

rm -rf "$dest/requirejs" "$dest/jupyter-widgets" "$dest/mathjax"
mkdir -p "$dest/requirejs" "$dest/jupyter-widgets" "$dest/mathjax/output/chtml/fonts"

# require.js: minified, keeping its /** @license */ header.
node "$work/terser/node_modules/terser/bin/terser" "$rjs/require.js" --compress --mangle \
  --comments '/@license/' --output "$dest/requirejs/require.min.js"

# The AMD build of the widget manager (base + controls + output widgets, ipywidgets 7 and 8), its
# licence notices, and the Font Awesome woff2 files its CSS refers to (icons on buttons).
cp "$whm/dist/embed-amd.js" "$whm/dist/embed.js.LICENSE.txt" "$dest/jupyter-widgets/"
cp "$whm"/dist/*.woff2 "$dest/jupyter-widgets/"

# MathJax: one file with the TeX input (every extension, so nothing is autoloaded from a server)
# and the CHTML output; the fonts it loads from [mathjax]/output/chtml/fonts/woff-v2/.
cp "$mjx/es5/tex-chtml-full.js" "$mjx/LICENSE" "$dest/mathjax/"
cp -r "$mjx/es5/output/chtml/fonts/woff-v2" "$dest/mathjax/output/chtml/fonts/"

cat > "$dest/VERSIONS" <<EOF
requirejs $REQUIREJS (MIT) https://www.npmjs.com/package/requirejs
@jupyter-widgets/html-manager $HTML_MANAGER (BSD-3-Clause) https://www.npmjs.com/package/@jupyter-widgets/html-manager
mathjax $MATHJAX (Apache-2.0) https://www.npmjs.com/package/mathjax
Regenerate with: bash tools/vendor_js.sh
widgets-offline.js is hand-written (not regenerated): font path and MathJax 3 bridge for the widgets.
EOF
du -sh "$dest"
echo "vendor_js: wrote $(cd "$dest" && find . -type f | wc -l) files into book/_vendor"
