#!/usr/bin/env bash
# Renders an HTML report with headless Chromium to a PNG, to look at it as a person would.
#   scripts/check-html.sh report.html [out.png] [width] [height]
# Needs Debian's chromium (apt-get install -y chromium). Height defaults to the page's
# approximate length (bytes / 40, clamped to 900..12000) so that whole reports fit.
set -euo pipefail
html=${1:?usage: check-html.sh report.html [out.png] [width] [height]}
out=${2:-${html%.html}.png}
width=${3:-1280}
if [[ -n "${4:-}" ]]; then height=$4; else
  bytes=$(wc -c < "$html"); height=$(( bytes / 40 )); (( height < 900 )) && height=900; (( height > 12000 )) && height=12000
fi
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n "$chrome" ]] || { echo "check-html: chromium is not installed (apt-get install -y chromium)" >&2; exit 2; }
abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
# Well-formedness of the inline SVG (and the whole document) when xmllint is available.
if command -v xmllint >/dev/null; then
  sed '1{/^<!DOCTYPE/d}' "$html" | xmllint --noout - && echo "check-html: well-formed XML"
fi
"$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --screenshot="$out" \
  --window-size="$width,$height" "file://$abs" 2>/dev/null
echo "check-html: wrote $out (${width}x${height}, $(wc -c < "$out") bytes)"
