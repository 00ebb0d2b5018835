#!/usr/bin/env python3
"""Checks an HTML report in headless chromium: it loads without console messages (the page has no
script, so any message is an error: a parse problem, a blocked load, an exception), references
nothing outside the file, its plots show what they are for, and its screenshot (the whole page)
is not blank.

    python3 scripts/check_html.py report.html [--screenshot out.png] [--expect forecast,drift,balance]

The plots are checked in the browser, on a copy of the page with a checking script added: every
forecast plot has a history of several points, a fitted trend and a crossing after its "now";
every drift plot has the device's and the reference's series (several points each) and its
detection marked; no plotted value is outside the metric's declared range (`data-min`,
`data-max`) and the series stay inside the plot area; no two labels of a plot overlap and none
leaves its plot (compared by their bounding boxes as laid out). `--expect` names plot kinds the
page must have at least one of.

Exit 0 when the page passes, 1 when it does not, 77 when chromium is not installed (skipped).
The script first checks that it notices a broken page and a broken plot, so a pass cannot come
from a check that never fires.
"""
import json, os, re, shutil, struct, subprocess, sys, tempfile, zlib

# Added to a copy of the page: checks the plots as laid out and writes the findings into the DOM.
CHECK_SCRIPT = r"""
<script>
(function () {
  const problems = [], counts = {};
  const values = el => (el.getAttribute('data-values') || '').trim().split(/\s+/).filter(x => x).map(Number);
  const overlap = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const inside = (a, box) => a.left >= box.left - 1 && a.right <= box.right + 1 && a.top >= box.top - 1 && a.bottom <= box.bottom + 1;
  document.querySelectorAll('svg[data-plot]').forEach((svg, i) => {
    const kind = svg.dataset.plot;
    counts[kind] = (counts[kind] || 0) + 1;
    const name = kind + ' plot "' + (svg.getAttribute('aria-label') || i) + '"';
    const series = k => svg.querySelector('[data-series="' + k + '"]');
    const need = (k, n) => { const el = series(k); if (!el || values(el).length < n) problems.push(name + ': series ' + k + ' has fewer than ' + n + ' points'); };
    if (kind === 'forecast') {
      need('history', 3); need('trend', 3);
      const now = Number(svg.dataset.now), crossing = Number(svg.dataset.crossing);
      const c = svg.querySelector('[data-role="crossing"]'), n = svg.querySelector('[data-role="now"]');
      if (!(crossing > now) || !c || !n) problems.push(name + ': no crossing after now');
      else {
        const cb = c.getBoundingClientRect(), nb = n.getBoundingClientRect();
        if (!(cb.left + cb.width / 2 > nb.left + nb.width / 2 + 0.5)) problems.push(name + ': the crossing is not drawn after now');
      }
    }
    if (kind === 'drift') {
      need('device', 3); need('reference', 3);
      if (!svg.querySelector('[data-role="detected"]')) problems.push(name + ': the detection is not marked');
    }
    const lo = svg.dataset.min !== undefined ? Number(svg.dataset.min) : -Infinity;
    const hi = svg.dataset.max !== undefined ? Number(svg.dataset.max) : Infinity;
    svg.querySelectorAll('[data-values]').forEach(el => {
      const bad = values(el).find(v => !(v >= lo && v <= hi));
      if (bad !== undefined) problems.push(name + ': ' + el.dataset.series + ' value ' + bad + ' outside [' + lo + ', ' + hi + ']');
    });
    const box = svg.getBoundingClientRect();
    if (kind !== 'balance') {
      const area = svg.querySelector('rect').getBoundingClientRect();
      svg.querySelectorAll('[data-series]').forEach(el => {
        if (!inside(el.getBoundingClientRect(), area)) problems.push(name + ': series ' + el.dataset.series + ' leaves the plot area');
      });
    }
    const texts = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
    texts.forEach(([s, r]) => { if (!inside(r, box)) problems.push(name + ': label "' + s + '" leaves the plot'); });
    for (let a = 0; a < texts.length; a++)
      for (let b = a + 1; b < texts.length; b++)
        if (overlap(texts[a][1], texts[b][1])) problems.push(name + ': labels "' + texts[a][0] + '" and "' + texts[b][0] + '" overlap');
  });
  const out = document.createElement('pre');
  out.id = 'fleetrules-check';
  out.textContent = JSON.stringify({counts: counts, problems: problems, height: document.documentElement.scrollHeight});
  document.body.appendChild(out);
})();
</script>
"""

# A page whose plot breaks every rule: a one-point history, a crossing before now, a value
# outside the declared range, two labels on top of each other and one outside the plot.
BROKEN_PLOT = """<!DOCTYPE html><html><body>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 360 210" width="360" data-plot="forecast" data-now="100" data-crossing="50" data-min="0" data-max="100">
<rect x="40" y="10" width="300" height="170"/>
<polyline data-series="history" data-values="-3" points="50,20"/>
<polyline data-series="trend" data-values="40 30 20" points="50,20 60,30 70,40"/>
<line data-role="now" x1="200" x2="200" y1="10" y2="180"/><circle data-role="crossing" cx="100" cy="170" r="4"/>
<text x="100" y="100">03-04</text><text x="104" y="100">03-05</text><text x="350" y="100">threshold 5</text>
</svg></body></html>"""


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def load(browser, html_path, png_path, height=2400):
    """Runs chromium on the file; returns its console lines."""
    cmd = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
           "--hide-scrollbars", f"--window-size=1280,{height}", f"--screenshot={png_path}",
           "file://" + os.path.abspath(html_path)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    console = [l for l in p.stderr.splitlines() if ":CONSOLE" in l or "Uncaught" in l]
    if not os.path.exists(png_path):
        raise SystemExit(f"FAIL: chromium wrote no screenshot (exit {p.returncode})\n{p.stderr[-2000:]}")
    return console


def plot_findings(browser, html_text, tmp):
    """Lays a copy of the page out with the checking script; returns its counts, problems and height."""
    page = os.path.join(tmp, "checked.html")
    cut = html_text.rfind("</body>")
    open(page, "w", encoding="utf-8").write(
        (html_text[:cut] + CHECK_SCRIPT + html_text[cut:]) if cut >= 0 else html_text + CHECK_SCRIPT)
    cmd = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--window-size=1280,2400", "--virtual-time-budget=5000", "--dump-dom", "file://" + page]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="fleetrules-check">(.*?)</pre>', p.stdout, re.S)
    if not m:
        raise SystemExit(f"FAIL: the plot check wrote no result (exit {p.returncode})\n{p.stderr[-2000:]}")
    text = m.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    return json.loads(text)


def png_pixels(path):
    """Decodes an 8-bit RGB/RGBA non-interlaced PNG (what chromium writes): (width, height, rows)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and color in (2, 6) and interlace == 0, "unexpected PNG format"
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def screenshot_stats(path):
    """Distinct colours and the share of non-background pixels, sampled every 4th pixel."""
    width, height, bpp, rows = png_pixels(path)
    colours, counts = set(), {}
    for y in range(0, height, 4):
        row = rows[y]
        for x in range(0, width, 4):
            px = row[x * bpp:x * bpp + 3]
            colours.add(px)
            counts[px] = counts.get(px, 0) + 1
    total = sum(counts.values())
    background = max(counts.values())
    return len(colours), 1 - background / total


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    html = args[0]
    shot = args[args.index("--screenshot") + 1] if "--screenshot" in args else None
    expect = [k for k in (args[args.index("--expect") + 1] if "--expect" in args else "").split(",") if k]
    browser = chromium()
    if browser is None:
        print("SKIP: chromium is not installed (apt-get install chromium)")
        sys.exit(77)
    text = open(html, encoding="utf-8").read()
    # Self-contained: no external loads (the SVG namespace is an identifier, not a load).
    external = [m for m in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text) if not m.startswith("#")]
    external += re.findall(r"url\(\s*['\"]?(https?:[^)'\"]*)", text)
    if external:
        raise SystemExit(f"FAIL: the page loads external resources: {external[:5]}")
    with tempfile.TemporaryDirectory() as tmp:
        # The check must notice a broken page.
        bad = os.path.join(tmp, "bad.html")
        open(bad, "w").write("<!DOCTYPE html><html><body><p>x</p><script>throw new Error('self-test')</script></body></html>")
        if not load(browser, bad, os.path.join(tmp, "bad.png")):
            raise SystemExit("FAIL: the console check did not notice a page that throws")
        # The plot check must notice a broken plot, each way it can break.
        broken = " | ".join(plot_findings(browser, BROKEN_PLOT, tmp)["problems"])
        for symptom in ("history has fewer than 3", "no crossing after now", "outside [0, 100]", "overlap",
                        "leaves the plot"):
            if symptom not in broken:
                raise SystemExit(f"FAIL: the plot check did not notice '{symptom}' in a broken plot: {broken}")
        findings = plot_findings(browser, text, tmp)
        if findings["problems"]:
            raise SystemExit("FAIL: plots:\n" + "\n".join(findings["problems"][:20]))
        missing = [k for k in expect if not findings["counts"].get(k)]
        if missing:
            raise SystemExit(f"FAIL: no {', '.join(missing)} plot on the page (plots: {findings['counts']})")
        png = shot or os.path.join(tmp, "report.png")
        console = load(browser, html, png, height=min(16000, max(2400, int(findings["height"]))))
        if console:
            raise SystemExit("FAIL: console messages while loading the page:\n" + "\n".join(console[:10]))
        colours, ink = screenshot_stats(png)
    plots = ", ".join(f"{n} {k}" for k, n in sorted(findings["counts"].items())) or "none"
    print(f"ok: {html} loads in chromium without console messages; plots ({plots}) have their series, "
          f"values within range, no overlapping labels; screenshot {colours} colours, {ink:.1%} non-background")
    if colours < 8 or ink < 0.03:
        raise SystemExit(f"FAIL: the screenshot looks blank ({colours} colours, {ink:.1%} non-background)")


if __name__ == "__main__":
    main()
