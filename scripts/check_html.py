#!/usr/bin/env python3
"""Checks an HTML report in headless chromium: it loads without console messages (the page has no
script, so any message is an error: a parse problem, a blocked load, an exception), references
nothing outside the file, and its screenshot is not blank.

    python3 scripts/check_html.py report.html [--screenshot out.png]

Exit 0 when the page passes, 1 when it does not, 77 when chromium is not installed (skipped).
The script first checks that it notices a broken page, so a pass cannot come from a check that
never fires.
"""
import os, re, shutil, struct, subprocess, sys, tempfile, zlib


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def load(browser, html_path, png_path):
    """Runs chromium on the file; returns its console lines."""
    cmd = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
           "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={png_path}",
           "file://" + os.path.abspath(html_path)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    console = [l for l in p.stderr.splitlines() if ":CONSOLE" in l or "Uncaught" in l]
    if not os.path.exists(png_path):
        raise SystemExit(f"FAIL: chromium wrote no screenshot (exit {p.returncode})\n{p.stderr[-2000:]}")
    return console


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
        png = shot or os.path.join(tmp, "report.png")
        console = load(browser, html, png)
        if console:
            raise SystemExit("FAIL: console messages while loading the page:\n" + "\n".join(console[:10]))
        colours, ink = screenshot_stats(png)
    print(f"ok: {html} loads in chromium without console messages; screenshot {colours} colours, {ink:.1%} non-background")
    if colours < 8 or ink < 0.03:
        raise SystemExit(f"FAIL: the screenshot looks blank ({colours} colours, {ink:.1%} non-background)")


if __name__ == "__main__":
    main()
