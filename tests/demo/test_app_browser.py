"""The real app in a real headless Chromium (Debian `chromium`, driven by Playwright over CDP).

Install the browser with `scripts/install_browser.sh`. Screenshots go to $HARDMO_ARTIFACTS_DIR (or a temp
folder); their paths are printed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("HARDMO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A synthetic camera (a moving test pattern) for the webcam source, allowed without a prompt.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        pytest.fail(f"{CHROMIUM} not found: run scripts/install_browser.sh (installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1100},
            permissions=["camera"],
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


def _open(browser, url):
    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector("#run")
    return page


def _upload(page, path):
    page.set_input_files("#image-input input[type=file]", str(path))


def _toast_text(page, words: str | None = None) -> str:
    """The text of the first toast (or of the first one containing ``words``, waiting for it)."""
    if words is not None:
        page.wait_for_function(
            "words => [...document.querySelectorAll('[data-testid=toast-text]')]"
            ".some(el => el.innerText.includes(words))",
            arg=words,
        )
        return next(t for t in page.locator("[data-testid=toast-text]").all_inner_texts() if words in t)
    toast = page.locator("[data-testid=toast-text]").first
    toast.wait_for()
    return toast.inner_text()


def test_upload_run_and_screenshot(browser, demo_server, artifacts_dir, tmp_path_factory):
    from hardmo_hf.demo.examples import make_examples

    example = make_examples(tmp_path_factory.mktemp("examples"))[2]  # three dancers
    page = _open(browser, demo_server)
    _upload(page, example.path)
    page.fill("#boxes textarea", example.boxes_text)
    page.get_by_label("2D keypoints").check()
    page.click("#run")
    page.wait_for_function(
        "() => document.querySelector('#notice') && document.querySelector('#notice').innerText.includes('3 people')"
    )
    overlay = page.locator("#overlay img").first
    overlay.wait_for()
    natural = page.evaluate("el => [el.naturalWidth, el.naturalHeight]", overlay.element_handle())
    assert natural[0] > 2 * 768 and natural[1] > 512  # both models side by side
    page.locator("#glb-4dhumans canvas").first.wait_for()
    page.locator("#glb-hmr canvas").first.wait_for()
    assert page.locator("#files a").count() >= 2  # JSON and NPZ downloads
    shot = artifacts_dir / "demo_screenshot.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\ndemo screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    page.close()


def test_webcam_snapshot(browser, demo_server):
    page = _open(browser, demo_server)
    page.click("#image-input button[aria-label='Capture from camera']")
    page.get_by_text("Click to Access Webcam").click()
    # Capture only once the fake camera delivers frames; a click before that captures nothing.
    page.wait_for_function(
        "() => { const v = document.querySelector('#image-input video');"
        " return v && v.readyState >= 2 && v.videoWidth > 0; }"
    )
    page.click("#image-input button[aria-label='capture photo']")
    page.locator("#image-input img").first.wait_for()
    page.get_by_label("HardMo-HMR", exact=True).check()
    page.click("#run")
    page.wait_for_function(
        "() => document.querySelector('#notice').innerText.includes('1 person (whole image)')"
    )
    page.locator("#overlay img").first.wait_for()
    page.close()


def test_drawn_box_becomes_a_typed_box(browser, demo_server, tmp_path_factory):
    from hardmo_hf.demo.examples import make_examples

    example = make_examples(tmp_path_factory.mktemp("examples"))[0]  # 768 x 512, one dancer
    page = _open(browser, demo_server)
    _upload(page, example.path)
    page.get_by_text("Draw boxes instead of typing them").click()
    page.locator("#box-editor canvas").first.wait_for()
    page.click("#box-editor button[aria-label='Brush']")
    canvas = page.locator("#box-editor canvas").first.bounding_box()
    cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    loop = [
        (cx - 40, cy - 60),
        (cx + 40, cy - 60),
        (cx + 40, cy + 60),
        (cx - 40, cy + 60),
        (cx - 40, cy - 60),
    ]
    page.mouse.move(*loop[0])
    page.mouse.down()
    for x, y in loop[1:]:
        page.mouse.move(x, y, steps=2)  # each move repaints the (software-WebGL) canvas
    page.mouse.up()
    page.click("#use-drawing")
    page.wait_for_function("() => document.querySelector('#boxes textarea').value.split(',').length == 4")
    x1, y1, x2, y2 = (float(v) for v in page.input_value("#boxes textarea").split(","))
    assert 0 <= x1 < 384 < x2 <= 768 and 0 <= y1 < 256 < y2 <= 512  # a loop around the centre of the photo
    page.get_by_label("HardMo-HMR", exact=True).check()
    page.click("#run")
    page.wait_for_function(
        "() => document.querySelector('#notice').innerText.includes('1 person (from your boxes)')"
    )
    page.close()


def test_example_gallery_fills_image_and_boxes(browser, demo_server):
    page = _open(browser, demo_server)
    page.locator(".gallery-item, [data-testid=examples] tbody tr, table tbody tr").first.click()
    page.wait_for_function("() => document.querySelector('#boxes textarea').value.split(',').length >= 4")
    page.locator("#image-input img").first.wait_for()
    page.close()


@pytest.mark.parametrize(
    "case", ["non_image", "fake_jpeg", "truncated", "huge", "grayscale", "rgba", "cmyk", "exif"]
)
def test_awkward_uploads_show_clear_messages(browser, demo_server, bad_inputs, case):
    path, words = bad_inputs[case]
    page = _open(browser, demo_server)
    _upload(page, path)
    if case == "non_image":
        # The page itself refuses files that are not images, before anything is sent.
        assert "Invalid file type" in _toast_text(page) and path.name in _toast_text(page)
        page.close()
        return
    page.get_by_label("HardMo-HMR", exact=True).check()
    page.click("#run")
    if case in ("fake_jpeg", "truncated"):
        text = _toast_text(page, words)
        assert path.name in text and "Traceback" not in page.content()
    else:
        page.wait_for_function(
            "words => document.querySelector('#notice').innerText.includes(words)", arg=words
        )
        assert "Traceback" not in page.content()
    page.close()


def test_no_person_found_in_page(browser, detector_server, bad_inputs):
    page = _open(browser, detector_server)
    path, _ = bad_inputs["grayscale"]
    _upload(page, path)
    page.get_by_label("HardMo-HMR", exact=True).check()
    threshold = page.locator("#threshold input[type=number]")
    threshold.fill("0.95")
    threshold.press("Enter")
    page.click("#run")
    page.wait_for_function("() => document.querySelector('#notice').innerText.includes('No person found')")
    assert "Lower the threshold" in _toast_text(page, "No person found")
    assert (
        "No SMPL body model" in page.locator("#startup-notice").inner_text()
        or "Meshes are off" in page.content()
    )
    page.close()
