"""How Steady drives Debian's Chromium (Playwright cannot download its own browsers here)."""

EXECUTABLE = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out, and this network refuses it.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}


def launch(playwright):
    return playwright.chromium.launch(
        executable_path=EXECUTABLE, args=ARGS, headless=True
    )
