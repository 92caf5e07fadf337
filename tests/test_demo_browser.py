"""`lang2motion demo` in a real browser: the server started like a user starts it, Debian's
Chromium driven by Playwright (the system browser, never a downloaded one).

1. Pick an example, click on an object, type a prompt, press Generate: the animation shows, and
   the downloaded trajectory file is (frames, points, 2) and starts inside that object. The
   click's latency is printed (no timed assertion; see README "Try it in the browser").
2. An empty prompt and an unreadable upload show a message on the page; Generate then works.

The page must not reach outside 127.0.0.1 (checked on every request the browser makes).
Defaults to the tiny checkpoint and data of conftest.py; ``--demo-model models --demo-data data
--demo-screenshot docs/demo.png`` runs it on a trained model and saves the README's screenshot
(benchmarks/demo_screenshot.py does exactly that).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lang2motion.apps.demo import load_examples
from lang2motion.model.checkpoint import read_model_meta

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"          # Debian's package; .ci/run installs it when missing
# headless as root in a container: no sandbox, no GPU, and none of Chrome's own network calls
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 860}
START_TIMEOUT_S = 180                   # the server imports torch and gradio, loads the model
STEP_TIMEOUT_MS = 60_000
SCREENSHOT_COLORS = 256                 # the README's PNG is palette-quantised to stay small


def chromium_path() -> str | None:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip(f"no Chromium binary ({CHROMIUM} or chromium on PATH): install Debian's "
                    "package with apt-get install -y chromium (.ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason='playwright is not installed (pip install -e ".[dev]")')
    pytest.importorskip("gradio", reason='gradio is not installed (pip install -e ".[dev]")')
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def setup(request) -> dict:
    given = request.config.getoption("--demo-model"), request.config.getoption("--demo-data")
    model = Path(given[0] or request.getfixturevalue("tiny_checkpoint"))
    data = Path(given[1] or request.getfixturevalue("tiny_data"))
    split = (read_model_meta(model).get("data") or {}).get("valid_split", "valid_u")
    return {"model": model, "data": data, "examples": load_examples(data / "raw", split),
            "frames": read_model_meta(model)["model_config"]["frames"],
            "points": read_model_meta(model)["model_config"]["points"]}


@pytest.fixture(scope="module")
def server(setup, browser):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "lang2motion.cli", "demo", "--model", str(setup["model"]),
         "--data", str(setup["data"]), "--port", str(port), "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()
    seen, url = [], None
    deadline = time.monotonic() + START_TIMEOUT_S
    while url is None and time.monotonic() < deadline and process.poll() is None:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if "serving http://" in line:
            url = line.split("serving ", 1)[1].split()[0]
    if url is None:
        process.kill()
        pytest.fail("the demo server did not start:\n" + "".join(seen))
    assert url.startswith(f"http://127.0.0.1:{port}")
    yield url
    process.send_signal(signal.SIGTERM)          # stops like Ctrl-C: its temp folder goes
    try:
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith((server, "data:", "blob:")) else None)
    page.goto(server)
    page.wait_for_selector("#examples")
    yield page
    context.close()
    assert outside == [], f"the page reached outside the server: {outside}"


def _object_pixel(mask: np.ndarray) -> tuple[int, int]:
    """(x, y) of the pixel of ``mask`` farthest from its edge."""
    import cv2

    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(x), int(y)


def _pick_and_click(page, setup, index: int = 0) -> np.ndarray:
    """Pick example ``index`` and click the middle of its first object; return that mask."""
    page.locator("#examples button.thumbnail-item").nth(index).click()
    page.wait_for_function("document.querySelector('#status').innerText.includes('Example')")
    page.wait_for_selector("#frame img")
    # the frame image is replaced when the example loads: wait until the new one is decoded
    page.wait_for_function("(() => { const img = document.querySelector('#frame img');"
                           " return img !== null && img.complete && img.naturalWidth > 0; })()")
    mask = setup["examples"][index].masks[0]
    x, y = _object_pixel(mask)
    shown = page.evaluate("""() => {
        const img = document.querySelector('#frame img'), r = img.getBoundingClientRect();
        return {x: r.x, y: r.y, w: r.width, h: r.height, nw: img.naturalWidth,
                nh: img.naturalHeight};}""")
    # the image is drawn with object-fit scale-down: centred, scaled by s <= 1
    s = min(shown["w"] / shown["nw"], shown["h"] / shown["nh"], 1.0)
    left = shown["x"] + (shown["w"] - shown["nw"] * s) / 2
    top = shown["y"] + (shown["h"] - shown["nh"] * s) / 2
    page.mouse.click(left + (x + 0.5) * s, top + (y + 0.5) * s)
    page.wait_for_function("document.querySelector('#status').innerText.includes('click(s)')")
    return mask


def _generate(page, prompt: str) -> float:
    """Type ``prompt``, press Generate, wait for the animation; the seconds it took."""
    page.fill("#prompts textarea", prompt)
    started = time.perf_counter()
    page.click("#generate")
    page.wait_for_function("document.querySelector('#status').innerText.includes('Generated')")
    page.wait_for_function("""() => [...document.querySelectorAll('#animations img')]
                              .some(i => i.complete && i.naturalWidth > 0)""")
    return time.perf_counter() - started


def _save_screenshot(page, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    raw = path.with_suffix(".raw.png")
    page.screenshot(path=str(raw))
    Image.open(raw).convert("RGB").quantize(SCREENSHOT_COLORS).save(path, optimize=True)
    raw.unlink()
    print(f"\nscreenshot: {path} ({path.stat().st_size // 1024} KB)")


def test_generate_from_a_click_on_an_example(page, setup, request):
    mask = _pick_and_click(page, setup)
    seconds = _generate(page, "the red ball bouncing to the right")
    print(f"\nGenerate click -> animation shown: {seconds:.2f} s ({setup['model']}, "
          f"{os.cpu_count()} CPUs)")
    assert page.locator("#animations img").first.get_attribute("src").endswith(".gif")
    assert page.locator("#stills img").count() == 1
    screenshot = request.config.getoption("--demo-screenshot")
    if screenshot:
        page.evaluate("window.scrollTo(0, 0)")
        _save_screenshot(page, Path(screenshot))
    with page.expect_download() as download:
        page.locator("#trajectories a[download]").first.click()
    data = json.loads(Path(download.value.path()).read_text())
    assert data["label"] == "the red ball bouncing to the right"
    tracks = np.asarray(data["tracks_px"])
    assert tracks.shape == (setup["frames"], setup["points"], 2)
    x, y = np.round(tracks[0]).astype(int).T
    assert mask[y, x].all(), "the trajectory does not start inside the clicked object"


def test_bad_input_shows_a_message_and_the_page_keeps_working(page, setup, tmp_path):
    _pick_and_click(page, setup, index=1)
    page.fill("#prompts textarea", "   ")
    page.click("#generate")
    page.wait_for_function("document.querySelector('#status').innerText.includes('Not done')")
    assert "type a prompt" in page.inner_text("#status")
    assert page.locator("#animations img").count() == 0
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not a whole JPEG")
    page.set_input_files("#upload input[type=file]", str(broken))
    page.wait_for_function(
        "document.querySelector('#status').innerText.includes('broken.jpg')")
    assert "Not done" in page.inner_text("#status")
    _pick_and_click(page, setup, index=1)
    _generate(page, "moving left")
    assert page.locator("#trajectories a[download]").count() == 1


def _wait_status(page, selector: str, done: str) -> str:
    """The status text once it says ``done`` or an error (asserting it is ``done``)."""
    page.wait_for_function(f"""() => /{done}|Not done|Error|error/.test(
        document.querySelector('{selector}').innerText)""")
    text = page.inner_text(selector)
    assert done in text, text
    return text


def test_retrieve_interpolate_and_edit_tabs(page, setup):
    page.get_by_role("tab", name="Retrieve").click()
    page.fill("#retrieve-text textarea, #retrieve-text input", "caption 1")
    page.click("#retrieve")
    _wait_status(page, "#retrieve-status", "Top")
    assert page.locator("#ranked img").count() >= 1
    page.get_by_role("tab", name="Generate").click()
    _pick_and_click(page, setup)
    _generate(page, "moving left")
    page.get_by_role("tab", name="Interpolate / Edit").click()
    page.fill("#interp-a textarea, #interp-a input", "moving left")
    page.fill("#interp-b textarea, #interp-b input", "moving right")
    page.click("#interpolate")
    assert "your last Generate" in _wait_status(page, "#interp-status", "steps from")
    page.fill("#edit-from textarea, #edit-from input", "moving left")
    page.fill("#edit-to textarea, #edit-to input", "moving right")
    page.click("#edit")                   # the trajectory just generated is preselected
    assert "moving left -> moving right" in _wait_status(page, "#edit-status", "Edited")
