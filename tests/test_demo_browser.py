"""The demo page in headless Chromium (Selenium): upload a video, wait, check the results.

Needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (Debian packages ``chromium``
and ``chromium-driver``) and ``pip install selenium``; skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from synthetic import write_face_video

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOT_COPY = Path("/tmp/demo_screenshot.png")

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium chromium-driver)",
                allow_module_level=True)
if not os.path.exists(CHROMEDRIVER):
    pytest.skip("chromedriver not found (apt-get install -y chromium-driver)",
                allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver",
                                reason="selenium not installed (pip install selenium)")


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage", "--window-size=1400,2000",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_for(condition, timeout: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_upload_analyze_and_see_plot_and_table(demo_url, browser, tmp_path):
    from selenium.webdriver.common.by import By

    video = tmp_path / "browser clip.mp4"
    write_face_video(video, seconds=2.5)
    browser.get(demo_url)
    upload = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR,
                                                    "#video-in input[type=file]"),
                      60, "the upload field")[0]
    upload.send_keys(str(video))
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#video-in video"), 60,
             "the uploaded video preview")
    browser.find_element(By.CSS_SELECTOR, "#analyze").click()

    def table_rows():  # gradio's virtual table: header + body rows, counted by aria-rowcount
        grids = browser.find_elements(By.CSS_SELECTOR, "#clips [role=grid]")
        count = int(grids[0].get_attribute("aria-rowcount") or 0) - 1 if grids else 0
        return count if count > 0 else None

    assert wait_for(table_rows, 150, "the clips table") == 3
    table_text = browser.find_element(By.CSS_SELECTOR, "#clips").text
    for cell in ("start (s)", "label", "0.8", "2.48", "100%"):
        assert cell in table_text
    assert wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#timeline img"), 30,
                    "the timeline plot")
    summary = browser.find_element(By.CSS_SELECTOR, "#summary").text
    assert "3 clips" in summary and "browser clip.mp4" in summary
    assert wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#annotated video"), 30,
                    "the annotated video")
    downloads = browser.find_element(By.CSS_SELECTOR, "#downloads").text.replace("\n", "")
    for suffix in (".emotions.json", ".clips.csv", ".emotions.srt", ".embeddings.npz"):
        assert suffix in downloads
    assert "Traceback" not in browser.page_source
    time.sleep(1.0)  # let the plot image and video poster settle for the screenshot
    shot = tmp_path / "demo_screenshot.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    try:
        shutil.copyfile(shot, SCREENSHOT_COPY)
    except OSError:
        pass


def test_bad_upload_shows_one_line_error(demo_url, browser, tmp_path):
    from selenium.webdriver.common.by import By

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"junk" * 400)
    browser.get(demo_url)
    upload = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR,
                                                    "#video-in input[type=file]"),
                      60, "the upload field")[0]
    upload.send_keys(str(bad))
    time.sleep(2.0)
    browser.find_element(By.CSS_SELECTOR, "#analyze").click()
    text = wait_for(lambda: "broken.mp4" in browser.find_element(By.TAG_NAME, "body").text
                    and browser.find_element(By.TAG_NAME, "body").text, 60, "the error")
    assert "Error" in text or "error" in text
    assert "Traceback" not in text
    # the message is one element holding one line: "<file>: <problem>"
    holders = [e.text for e in browser.find_elements(
        By.XPATH, "//*[contains(text(), 'broken.mp4')]") if e.text.strip()]
    assert holders, "no element shows the error message"
    message = holders[0].strip()
    assert "\n" not in message and "not a readable video" in message, message


@pytest.fixture(scope="module")
def small_limits_url(tmp_path_factory):
    """The demo with limits a test can reach: 0.3 MB per upload, 3 s of video."""
    import socket

    from demo.app import build_app, launch_options

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = build_app(tmp_path_factory.mktemp("limits_cache"), example=False, max_mb=0.3,
                    max_seconds=3.0)
    app.queue()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
               quiet=True, **launch_options(app, max_mb=0.3))
    yield f"http://127.0.0.1:{port}/"
    app.close()


def upload(browser, url: str, path: Path):
    from selenium.webdriver.common.by import By

    browser.get(url)
    field = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#video-in input[type=file]"),
                     60, "the upload field")[0]
    field.send_keys(str(path))
    time.sleep(2.0)


def test_uploads_over_the_limits_are_refused_in_the_page(small_limits_url, browser, tmp_path):
    """Issue 18: a video longer than the limit is refused in one line that says both
    lengths; a file over the size limit never reaches the server (the page says so) and
    the analysis then asks for a video; no traceback either way."""
    from selenium.webdriver.common.by import By

    long_video = tmp_path / "long.mp4"
    write_face_video(long_video, seconds=5.0)
    upload(browser, small_limits_url, long_video)
    browser.find_element(By.CSS_SELECTOR, "#analyze").click()
    text = wait_for(lambda: "the limit is" in browser.find_element(By.TAG_NAME, "body").text
                    and browser.find_element(By.TAG_NAME, "body").text, 60, "the length error")
    holders = [e.text.strip() for e in browser.find_elements(
        By.XPATH, "//*[contains(text(), 'the limit is')]") if e.text.strip()]
    assert holders and "\n" not in holders[0], holders
    assert "long.mp4 is 5.0 s long; the limit is 3.0 s." in holders[0]
    assert "Traceback" not in text

    big = tmp_path / "big.mp4"
    big.write_bytes(long_video.read_bytes() + b"\0" * 400_000)
    upload(browser, small_limits_url, big)
    text = wait_for(lambda: "exceed" in browser.find_element(By.TAG_NAME, "body").text
                    and browser.find_element(By.TAG_NAME, "body").text, 30, "the size error")
    lines = [line for line in text.splitlines() if "exceed" in line]
    assert len(lines) == 1 and "maximum allowed size" in lines[0] and "big.mp4" in lines[0]
    assert "Traceback" not in text
    browser.find_element(By.CSS_SELECTOR, "#analyze").click()  # nothing reached the server
    wait_for(lambda: "Upload a video first" in browser.find_element(By.TAG_NAME, "body").text,
             30, "the request for a video")


def test_photo_tab_upload_analyze_and_see_the_face(demo_url, browser, tmp_path):
    """The Photo tab: upload a PNG, analyze it, see the label, the bars, the faces table and
    the photo with its face box."""
    from selenium.webdriver.common.by import By

    from emotion_encoder.examples import write_example_photo

    photo = write_example_photo(tmp_path / "my photo.png")
    browser.get(demo_url)
    tab = wait_for(lambda: [e for e in browser.find_elements(By.CSS_SELECTOR, "[role=tab]")
                            if e.text.strip() == "Photo"], 60, "the Photo tab")[0]
    tab.click()
    field = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#photo-in input[type=file]"),
                     30, "the photo upload field")[0]
    field.send_keys(str(photo))
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#photo-in img"), 30,
             "the uploaded photo preview")
    browser.find_element(By.CSS_SELECTOR, "#analyze-photo").click()
    summary = wait_for(lambda: "happiness" in browser.find_element(
        By.CSS_SELECTOR, "#photo-summary").text and browser.find_element(
        By.CSS_SELECTOR, "#photo-summary").text, 120, "the photo's summary")
    assert "my photo.png" in summary and "1 face" in summary
    assert wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#photo-probs img"), 30,
                    "the probability bars")
    assert wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#photo-annotated img"), 30,
                    "the annotated photo")
    table_text = browser.find_element(By.CSS_SELECTOR, "#photo-table").text
    for cell in ("face box", "main face", "happiness", "neutral"):
        assert cell in table_text
    downloads = browser.find_element(By.CSS_SELECTOR, "#photo-downloads").text.replace("\n", "")
    assert ".emotions.json" in downloads and ".faces.csv" in downloads
    # the tab's example (the only example shown while the Photo tab is open)
    (example,) = [e for e in browser.find_elements(By.CSS_SELECTOR, "button.gallery-item")
                  if e.is_displayed()]
    example.click()
    time.sleep(1.0)
    browser.find_element(By.CSS_SELECTOR, "#analyze-photo").click()
    summary = wait_for(lambda: "astronaut.png" in browser.find_element(
        By.CSS_SELECTOR, "#photo-summary").text and browser.find_element(
        By.CSS_SELECTOR, "#photo-summary").text, 60, "the example's summary")
    assert "happiness" in summary
    assert "Traceback" not in browser.page_source
