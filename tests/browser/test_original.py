"""Open original in Chromium: hostile HTML runs nothing and fetches nothing off the app's
origin; remote images load only after "Show images"; the page at both widths.

The ``page`` fixture aborts and records every request that leaves the app's origin, and
fails the test on any script error; the corpus is tests/data/hostile_html/.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import update

from postroom.services.secrets import load_or_create_key
from postroom.store.models import MailAccount
from tests.support import mailbox
from tests.support.browser import screenshot
from tests.support.originals import PNG, html_mail, plain_mail

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile_html"


def watch_dialogs(page) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def body_frame(page):
    frame = page.frame_locator("iframe.original-frame")
    expect(frame.locator("body")).to_be_attached()
    return next(f for f in page.frames if "/original/body" in f.url)


def test_hostile_html_runs_no_script_and_reaches_nothing_elsewhere(robin, world):
    page = robin
    dialogs = watch_dialogs(page)
    files = sorted(CORPUS.glob("*.html"))
    assert len(files) >= 10
    for path in files:
        activity_id, _ = world.deliver(
            html_mail(subject=f"Hostile: {path.stem}", html=path.read_text(), attachments=())
        )
        page.goto(f"/activities/{activity_id}/original")
        expect(page.get_by_role("heading", name=f"Hostile: {path.stem}")).to_be_visible()
        frame = body_frame(page)
        page.wait_for_load_state("load")
        page.wait_for_timeout(150)  # time for anything that would fire on load

        assert page.url.endswith(f"/activities/{activity_id}/original"), path.name
        assert page.title() == f"Hostile: {path.stem} · Postroom", path.name
        assert page.evaluate("window.name") == "", path.name
        assert "/original/body" in frame.url, path.name  # the frame was not navigated
        html = frame.locator("body").inner_html().lower()
        for forbidden in ("<script", "javascript:", " onerror", " onload", "<form", "<iframe",
                          "<object", "<embed", "<svg", "<meta", "<base", "<link", 'src="http',
                          " ping=", "url(", "srcset", "background="):  # fmt: skip
            assert forbidden not in html, f"{path.name}: {forbidden}"
    assert dialogs == []


def test_remote_images_load_only_after_show_images(robin, world):
    page = robin
    fetched: list[str] = []

    def serve_remote(route) -> None:
        fetched.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=PNG)

    activity_id, _ = world.deliver(
        html_mail(
            subject="A newsletter",
            html=(CORPUS / "09-images.html").read_text(),
            attachments=(),
        )
    )
    page.goto(f"/activities/{activity_id}/original")
    body_frame(page)
    page.wait_for_load_state("load")
    expect(page.get_by_text("Remote images are blocked")).to_be_visible()
    page.wait_for_timeout(150)

    page.route("http://remote.example/**", serve_remote)  # allowed from here on only
    page.get_by_role("link", name="Show images").click()
    page.wait_for_url(f"**/activities/{activity_id}/original?images=1")
    frame = body_frame(page)
    expect(page.frame_locator("iframe.original-frame").get_by_alt_text("tracker")).to_be_visible()

    assert fetched == ["http://remote.example/tracker.png"]  # no srcset, poster, background
    assert "remote.example/tracker.png" in frame.content()
    expect(page.get_by_role("link", name="Show images")).to_have_count(0)

    page.get_by_role("link", name="Block them again").click()
    page.wait_for_url(f"**/activities/{activity_id}/original?")
    body_frame(page)
    page.wait_for_load_state("load")
    page.wait_for_timeout(150)
    expect(page.get_by_role("link", name="Show images")).to_be_visible()
    assert fetched == ["http://remote.example/tracker.png"]  # nothing more was fetched


def test_the_original_view_at_both_widths(robin, world):
    page = robin
    page.emulate_media(reduced_motion="reduce")  # the menu drawer hides without a transition
    html = (
        '<div style="font-family: Georgia, serif; color: #1b1f27">'
        "<p>Dear Robin,</p><p>Thank you for the call yesterday. As promised, here is my CV and "
        "the portfolio of the <b>Harbour Library</b> project. I am available for a second "
        "interview on <b>Thursday 10 December</b> at any time after 14:00.</p>"
        '<p><img src="cid:logo@acme" alt="Acme" width="48" height="48"></p>'
        "<blockquote>On Monday, Robin Reeve wrote:<br>Could you send your CV?</blockquote>"
        "<p>Kind regards,<br>Anna Berg<br>"
        '<a href="https://acme.example">acme.example</a></p>'
        '<img src="http://remote.example/tracker.png" alt="" width="1" height="1"></div>'
    )
    activity_id, _ = world.deliver(
        html_mail(
            subject="Re: Architect role: my CV and portfolio",
            html=html,
            attachments=(
                ("Anna Berg CV 2026.pdf", "application/pdf", b"%PDF-1.4" + b"0" * 180_000),
                ("Harbour Library portfolio.zip", "application/zip", b"PK" + b"0" * 2_400_000),
            ),
        )
    )
    page.goto(f"/records/{world.anna_id}")  # from the record's timeline
    page.get_by_role("link", name="Open original").first.click()
    page.wait_for_url(f"**/activities/{activity_id}/original")
    body_frame(page)
    page.wait_for_load_state("load")
    expect(page.get_by_role("link", name="Anna Berg CV 2026.pdf")).to_be_visible()
    screenshot(page, "original-html")

    plain_id, _ = world.deliver(
        plain_mail(
            subject="Salary expectations",
            body="Hi Robin,\n\nThanks for asking. I am looking for 68,000 a year, plus the "
            "usual benefits.\n\nI can start on 1 February.\n\nBest,\nAnna\n\n> On Tuesday, "
            "Robin wrote:\n> What are your salary expectations?",
        )
    )
    page.goto(f"/activities/{plain_id}/original")
    expect(page.get_by_text("I can start on 1 February.")).to_be_visible()
    screenshot(page, "original-plain")

    gone_id, uid = world.deliver(
        plain_mail(
            subject="Reference from my last employer",
            body="Please find the reference from Nordic Build attached to my next email.\n\nAnna",
        )
    )
    mailbox.expunge(world.dovecot, world.mail_user, "INBOX", uid)
    page.goto(f"/activities/{gone_id}/original")
    expect(page.get_by_text("This email is no longer on the server.")).to_be_visible()
    expect(page.get_by_text("Please find the reference")).to_be_visible()
    screenshot(page, "original-gone")

    keyring = load_or_create_key(world.runtime.settings)
    with world.runtime.write() as session:
        session.execute(update(MailAccount).values(secret=keyring.seal("an old password")))
    page.goto(f"/activities/{plain_id}/original")
    expect(page.get_by_text("refused the login")).to_be_visible()
    screenshot(page, "original-unreachable")


def test_a_file_downloads_from_the_records_timeline(robin, world):
    page = robin
    cv = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF"
    activity_id, _ = world.deliver(
        html_mail(
            subject="My CV, as promised",
            attachments=(
                ("Anna Berg CV 2026.pdf", "application/pdf", cv),
                (
                    "A very long file name of the portfolio, Harbour Library 2026.zip",
                    "application/zip",
                    b"PK" + b"0" * 40_000,
                ),
            ),
        )
    )
    page.goto(f"/records/{world.anna_id}")
    chip = page.get_by_role("link", name="Anna Berg CV 2026.pdf")
    expect(chip).to_have_attribute("href", f"/activities/{activity_id}/original/parts/2")

    with page.expect_download() as download_info:
        chip.click()
    download = download_info.value
    assert download.suggested_filename == "Anna Berg CV 2026.pdf"
    assert Path(download.path()).read_bytes() == cv
    assert page.url.endswith(f"/records/{world.anna_id}")  # the page stays where it was
    screenshot(page, "timeline-attachments")
