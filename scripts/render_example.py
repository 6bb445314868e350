#!/usr/bin/env python3
"""Render the README picture: a real answer of the bot, drawn the way Discord's dark theme shows it.

The answer is not mocked: the script starts the fake Discord from the test suite, runs
``run_bot.py`` against it, asks ``/ask`` and captures the message the bot sent (embed and
buttons). That message is turned into a small HTML page imitating Discord's embed and
screenshotted with headless Chromium, then cropped with Pillow.

    python scripts/render_example.py [--question "..."] [--out docs/discord-example.png]

Needs ``chromium`` on PATH (``apt-get install -y chromium``) and Pillow.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageChops  # noqa: E402

from tests.fakediscord import BotProcess, FakeDiscord, route  # noqa: E402
from tests.fakediscord import payloads as p  # noqa: E402

JSON = dict[str, Any]
QUESTION = "How many people were killed in the 1991-94 war?"
WIDTH = 780
BACKGROUND = (49, 51, 56)  # Discord dark theme, message area

INLINE = re.compile(
    r"\\(?P<escaped>[^\w\s])"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|\[(?P<label>[^\]]+)\]\((?P<url>https?://[^)\s]+)\)"
    r"|(?P<plain>[^\\*\[]+|.)",
    re.DOTALL,
)


def capture(question: str) -> JSON:
    """Ask the real bot (run_bot.py against the fake Discord) and return the message it sent."""
    workdir = Path(tempfile.mkdtemp(prefix="render-example-"))
    with FakeDiscord() as fake:
        env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "INDEX_DIR", "SOURCES")}
        env = fake.env(env, INDEX_DIR=str(workdir / "index"), DEV_GUILD_ID=str(p.GUILD_ID))
        bot = BotProcess([sys.executable, str(ROOT / "run_bot.py")], env=env, cwd=workdir, log_dir=workdir)
        bot.start()
        try:
            fake.wait_ready(timeout=30)
            fake.wait_for_request(route("PUT", r"/commands$"), timeout=30)
            handle = fake.interact(p.slash_command("ask", {"question": question}))
            return handle.wait(timeout=15).messages[-1]
        finally:
            bot.stop()


def inline(text: str) -> str:
    """Discord inline markdown (escapes, bold, masked links) to HTML."""
    out: list[str] = []
    for m in INLINE.finditer(text):
        if m["escaped"] is not None:
            out.append(html.escape(m["escaped"]))
        elif m["bold"] is not None:
            out.append(f"<strong>{inline(m['bold'])}</strong>")
        elif m["label"] is not None:
            out.append(f'<a href="{html.escape(m["url"])}">{inline(m["label"])}</a>')
        else:
            out.append(html.escape(m["plain"]).replace("\u200b", ""))
    return "".join(out)


def blocks(text: str) -> str:
    """Lines to HTML: consecutive ``> `` lines become one quote block."""
    out: list[str] = []
    quote: list[str] = []
    for line in text.split("\n"):
        if line.startswith("> ") or line == ">":
            quote.append(inline(line[2:]))
            continue
        if quote:
            out.append(f'<div class="quote">{"<br>".join(quote)}</div>')
            quote = []
        out.append(f"<div>{inline(line)}</div>" if line else "<div class='gap'></div>")
    if quote:
        out.append(f'<div class="quote">{"<br>".join(quote)}</div>')
    return "\n".join(out)


def embed_html(embed: JSON) -> str:
    """One embed as Discord draws it: coloured bar, title, description, fields, footer."""
    colour = f"#{int(embed.get('color', 0x5865F2)):06x}"
    title = inline(embed.get("title", ""))
    if embed.get("url"):
        title = f'<a href="{html.escape(embed["url"])}">{title}</a>'
    fields = "".join(
        f'<div class="field"><div class="fname">{inline(f["name"])}</div>'
        f'<div class="fvalue">{blocks(f["value"])}</div></div>'
        for f in embed.get("fields", [])
    )
    footer = html.escape(embed.get("footer", {}).get("text", ""))
    return (
        f'<div class="embed" style="border-left-color:{colour}">'
        f'<div class="title">{title}</div><div class="desc">{blocks(embed.get("description", ""))}</div>'
        f'{fields}<div class="footer">{footer}</div></div>'
    )


def buttons_html(message: JSON) -> str:
    """The message's buttons (secondary grey, primary blurple)."""
    cells = [
        f'<span class="button style{c.get("style", 2)}">{html.escape(c["label"])}</span>'
        for row in message.get("components", [])
        for c in row.get("components", [])
    ]
    return f'<div class="buttons">{"".join(cells)}</div>'


STYLE = """
body { margin: 0; background: #313338; font-family: 'Noto Sans', 'DejaVu Sans', sans-serif; }
.msg { position: relative; padding: 30px 24px 18px 76px; width: 660px; color: #dbdee1; font-size: 14.5px; }
.used { position: absolute; top: 8px; left: 76px; font-size: 13px; color: #b5bac1; }
.used b { color: #dbdee1; font-weight: 600; }
.used::before { content: ''; position: absolute; left: -38px; top: 9px; width: 30px; height: 10px;
  border-left: 2px solid #4e5058; border-top: 2px solid #4e5058; border-top-left-radius: 6px; }
.avatar { position: absolute; left: 20px; top: 32px; width: 40px; height: 40px; border-radius: 50%;
  background: #5865f2; color: white; font-weight: 700; font-size: 19px; text-align: center; line-height: 40px; }
.head { margin-bottom: 4px; } .name { color: #f2f3f5; font-weight: 600; font-size: 15.5px; }
.app { background: #5865f2; color: white; font-size: 10px; font-weight: 700; border-radius: 3px;
  padding: 1px 4px; margin-left: 5px; vertical-align: 2px; }
.time { color: #949ba4; font-size: 12px; margin-left: 6px; }
.embed { background: #2b2d31; border-left: 4px solid; border-radius: 4px; padding: 10px 16px 14px 12px;
  max-width: 520px; margin-top: 4px; line-height: 1.35; }
.title { font-weight: 700; color: #f2f3f5; font-size: 15.5px; margin: 4px 0 8px; }
.title a, .desc a, .fvalue a { color: #00a8fc; text-decoration: none; }
.quote { border-left: 4px solid #4e5058; padding: 0 0 0 12px; margin: 2px 0 6px; color: #dbdee1; }
.desc, .fvalue { font-size: 14px; } .gap { height: 6px; }
.desc strong, .fvalue strong { color: #f2f3f5; }
.field { margin-top: 10px; } .fname { font-weight: 700; color: #f2f3f5; font-size: 14px; margin-bottom: 2px; }
.footer { margin-top: 10px; font-size: 12px; color: #b5bac1; }
.buttons { margin-top: 8px; }
.button { display: inline-block; padding: 6px 16px; border-radius: 4px; margin-right: 8px; color: white;
  font-size: 14px; font-weight: 500; }
.style2 { background: #4e5058; } .style1 { background: #5865f2; }
"""


def page(message: JSON) -> str:
    """The whole HTML page for one bot message answering a slash command."""
    embeds = "".join(embed_html(e) for e in message.get("embeds", []))
    asker = html.escape(message.get("interaction_metadata", {}).get("user", {}).get("global_name") or "Member")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{STYLE}</style></head><body>"
        f'<div class="msg"><div class="used"><b>{asker}</b> used <b>/ask</b></div>'
        '<div class="avatar">A</div><div class="head"><span class="name">Article Bot</span>'
        '<span class="app">APP</span><span class="time">Today at 14:02</span></div>'
        f"{embeds}{buttons_html(message)}</div></body></html>"
    )


def screenshot(html_path: Path, png_path: Path) -> None:
    """Headless Chromium, isolated profile, no network; then crop the empty bottom away."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium not found: apt-get install -y chromium")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    args = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--window-size={WIDTH},1400", f"--screenshot={png_path}",
        html_path.as_uri(),
    ]  # fmt: skip
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    crop(png_path)


def crop(png_path: Path) -> None:
    """Cut the image just below the last row that is not plain background."""
    image = Image.open(png_path).convert("RGB")
    box = ImageChops.difference(image, Image.new("RGB", image.size, BACKGROUND)).getbbox()
    if box is not None:
        image = image.crop((0, 0, image.width, min(image.height, box[3] + 16)))
    image.save(png_path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "discord-example.png")
    parser.add_argument("--html", type=Path, default=None, help="Also keep the HTML page here.")
    options = parser.parse_args()
    message = capture(options.question)
    html_path = options.html or Path(tempfile.mkdtemp()) / "example.html"
    html_path.write_text(page(message), encoding="utf-8")
    options.out.parent.mkdir(parents=True, exist_ok=True)
    screenshot(html_path, options.out)
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
