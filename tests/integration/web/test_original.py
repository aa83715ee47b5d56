"""Open original through the web (TestClient), on SQLite and PostgreSQL, with a real Dovecot:
the page, its sandboxed body and that body's policy, downloads, and who may open what."""

from __future__ import annotations

import re

import pytest

from postroom.services import original
from tests.support import mailbox
from tests.support.originals import CLEO, PNG, ROBIN, html_mail, make_world, plain_mail
from tests.support.web import client_for, sign_in

HOSTILE = (
    '<p>Hi</p><script>document.title="owned"</script><img src="http://tracker.example/p.gif">'
    '<a href="javascript:alert(1)">x</a><p onclick="alert(1)" style="color: red; '
    'background: url(http://tracker.example/b.png)">styled</p><form action="http://x.example">'
    '<input name="q"></form><img src="cid:logo@acme">'
)


@pytest.fixture
def world(runtime, dovecot, mail_user):
    original.forget_cached_originals()
    return make_world(runtime, dovecot, mail_user)


@pytest.fixture
def robin(world):
    with client_for(world.runtime) as client:
        yield sign_in(client, ROBIN)


def test_the_page_shows_headers_attachments_and_frames_the_body(world, robin):
    activity_id, _ = world.deliver(html_mail(html=HOSTILE))

    page = robin.get(f"/activities/{activity_id}/original")

    assert page.status_code == 200
    assert "Your interview on Thursday" in page.text
    assert "Anna Berg" in page.text
    assert "hiring@acme.example" in page.text
    assert "On the server now" in page.text
    assert f'href="/activities/{activity_id}/original/parts/2"' in page.text
    assert "Anna Berg CV.pdf" in page.text
    frame = re.search(r"<iframe[^>]*>", page.text).group(0)
    assert f'src="/activities/{activity_id}/original/body"' in frame
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame
    assert "(1 in this email)" in page.text
    assert 'href="?images=1"' in page.text
    assert "<script>document.title" not in page.text


def test_the_body_is_sanitised_and_served_under_a_strict_policy(world, robin):
    activity_id, _ = world.deliver(html_mail(html=HOSTILE))

    body = robin.get(f"/activities/{activity_id}/original/body")

    assert body.status_code == 200
    policy = body.headers["content-security-policy"]
    assert policy.startswith(
        "default-src 'none'; style-src 'unsafe-inline'; img-src http://testserver;"
    )
    assert "frame-ancestors 'self'" in policy
    assert "sandbox allow-popups" in policy
    assert "script-src" not in policy  # default-src 'none' covers it
    assert body.headers["x-frame-options"] == "SAMEORIGIN"
    assert body.headers["referrer-policy"] == "no-referrer"
    text = body.text
    for forbidden in ("<script", "javascript:", "onclick", "<form", "<input", "tracker.example"):
        assert forbidden not in text
    assert '<p style="color:red">styled</p>' in text
    inline = re.search(
        r'src="(http://testserver/activities/\d+/original/inline/1\.2\.2\?t=[^"]+)"', text
    )
    assert inline, text
    image = robin.get(inline.group(1).replace("&amp;", "&"))
    assert image.status_code == 200
    assert image.content == PNG
    assert image.headers["content-type"] == "image/png"
    assert image.headers["x-content-type-options"] == "nosniff"
    # without a cookie, the token alone opens the image (the sandboxed frame sends none)
    with client_for(world.runtime) as anonymous:
        assert anonymous.get(inline.group(1).replace("&amp;", "&")).status_code == 200
        assert anonymous.get(inline.group(1) + "0").status_code == 404


def test_show_images_allows_remote_images_for_that_one_response(world, robin):
    activity_id, _ = world.deliver(html_mail(html=HOSTILE))

    body = robin.get(f"/activities/{activity_id}/original/body?images=1")

    assert "img-src http://testserver http: https:;" in body.headers["content-security-policy"]
    assert 'src="http://tracker.example/p.gif"' in body.text
    assert "url(" not in body.text  # CSS images stay out
    page = robin.get(f"/activities/{activity_id}/original?images=1")
    assert f'src="/activities/{activity_id}/original/body?images=1"' in page.text
    assert "Show images" not in page.text
    assert "Block them again" in page.text


def test_an_attachment_downloads_as_an_opaque_file(world, robin):
    activity_id, _ = world.deliver(
        html_mail(attachments=(("résumé <b>.html", "text/html", b"<script>alert(1)</script>"),))
    )

    response = robin.get(f"/activities/{activity_id}/original/parts/2")

    assert response.status_code == 200
    assert response.content == b"<script>alert(1)</script>"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="r_sum_ _b_.html"')
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20_b_.html" in disposition
    assert robin.get(f"/activities/{activity_id}/original/parts/99").status_code == 404


def test_a_part_is_named_by_its_imap_part_number_and_nothing_else(world, robin):
    activity_id, _ = world.deliver(html_mail())
    base = f"/activities/{activity_id}/original"

    assert robin.get(f"{base}/parts/1.1").content == b"Hello Robin, see you on Thursday.\r\n"
    assert robin.get(f"{base}/parts/1.2.2").content == PNG
    too_long = ".".join(["2"] * 33)
    for bad in ("1.", "1..2", "abc", "2x", "-2", "0", "%2E%2E%2F2", "2%20", "١", too_long):
        for kind in ("parts", "inline"):
            response = robin.get(f"{base}/{kind}/{bad}")
            assert response.status_code == 404, (kind, bad)
            assert "Traceback" not in response.text


def test_the_date_is_in_the_viewers_time_zone(world, robin):
    from postroom.services import users

    raw = plain_mail().replace(b"Date: ", b"X-Old-Date: ", 1)
    raw = b"Date: Mon, 07 Dec 2026 09:30:00 +0000\r\n" + raw
    activity_id, _ = world.deliver(raw)
    with world.runtime.write() as session:
        users.update_user(session=session, user_id=world.robin_id, time_zone="Europe/Berlin")

    page = robin.get(f"/activities/{activity_id}/original")

    assert "7 Dec 2026, 10:30 CET" in page.text


def test_a_plain_text_mail_is_shown_escaped(world, robin):
    activity_id, _ = world.deliver(plain_mail())

    page = robin.get(f"/activities/{activity_id}/original")

    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; &#39;quoted&#39;" in page.text
    assert "<iframe" not in page.text


def test_a_deleted_mail_says_so_and_shows_what_was_logged(world, robin):
    activity_id, uid = world.deliver(plain_mail(subject="Gone soon", body="Call me at noon."))
    mailbox.expunge(world.dovecot, world.mail_user, "INBOX", uid)

    page = robin.get(f"/activities/{activity_id}/original")

    assert page.status_code == 200
    assert "This email is no longer on the server" in page.text
    assert "Call me at noon." in page.text
    assert "Gone from the server" in page.text
    assert robin.get(f"/activities/{activity_id}/original/body").status_code == 404


def test_a_colleague_and_a_stranger_get_404(world, robin):
    activity_id, _ = world.deliver(plain_mail())
    with client_for(world.runtime) as cleo:
        sign_in(cleo, CLEO)
        for path in ("", "/body", "/parts/1"):
            response = cleo.get(f"/activities/{activity_id}/original{path}")
            assert response.status_code == 404, path
            assert "Salary expectations" not in response.text
    with client_for(world.runtime) as anonymous:
        response = anonymous.get(f"/activities/{activity_id}/original", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


def test_a_server_that_refuses_the_login_is_a_page_with_advice(world, robin):
    from sqlalchemy import update

    from postroom.services.secrets import load_or_create_key
    from postroom.store.models import MailAccount

    activity_id, _ = world.deliver(plain_mail(body="Kept text."))
    keyring = load_or_create_key(world.runtime.settings)
    with world.runtime.write() as session:
        session.execute(update(MailAccount).values(secret=keyring.seal("wrong")))

    page = robin.get(f"/activities/{activity_id}/original")

    assert page.status_code == 200
    assert "refused the login" in page.text
    assert "postroom account password" in page.text
    assert "Kept text." in page.text
    assert "Traceback" not in page.text


# --- a record's timeline links each file to its download ------------------------------------

CHIP_LINK = re.compile(r'<a class="chip chip-link" href="([^"]+)" download="([^"]*)"')


def chip_links(page: str) -> dict[str, str]:
    """``{file name: download URL}`` of the timeline's linked attachment chips."""
    return {name: href for href, name in CHIP_LINK.findall(page)}


CV = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF"
"""A CV with every byte value in it: what downloads must be these bytes exactly."""


def test_a_timeline_chip_downloads_the_file_of_a_synced_message(world, robin):
    activity_id, _ = world.deliver(
        html_mail(
            attachments=(
                ("Anna Berg CV.pdf", "application/pdf", CV),
                ("references.txt", "text/plain", b"Ask Jo at Acme."),
            )
        )
    )

    page = robin.get(f"/records/{world.anna_id}")

    assert page.status_code == 200
    links = chip_links(page.text)
    base = f"/activities/{activity_id}/original/parts"
    # the IMAP part numbers the sync kept: mixed(alternative(...), the CV, the references)
    assert links["Anna Berg CV.pdf"] == f"{base}/2"
    assert links["references.txt"] == f"{base}/3"
    cv = robin.get(links["Anna Berg CV.pdf"])
    assert cv.status_code == 200
    assert cv.content == CV
    assert 'filename="Anna Berg CV.pdf"' in cv.headers["content-disposition"]
    assert robin.get(links["references.txt"]).content == b"Ask Jo at Acme."
    # the page that lists the same files links the same URLs
    original_page = robin.get(f"/activities/{activity_id}/original")
    for name in ("Anna Berg CV.pdf", "references.txt"):
        assert f'href="{links[name]}"' in original_page.text
    # the inline logo, listed on the timeline too, downloads as well
    assert [robin.get(href).status_code for href in links.values()] == [200] * len(links)
    # access stays Open original's: a colleague who holds no copy gets a 404
    with client_for(world.runtime) as cleo:
        sign_in(cleo, CLEO)
        refused = cleo.get(links["Anna Berg CV.pdf"])
        assert refused.status_code == 404
        assert CV not in refused.content


def test_a_timeline_chip_downloads_the_file_of_a_message_read_from_a_file(world, robin, tmp_path):
    from postroom.pipeline import ingest_files, load_context

    path = tmp_path / "application.eml"
    path.write_bytes(
        html_mail(subject="My application", attachments=(("cv.pdf", "application/pdf", CV),))
    )
    with world.runtime.write() as session:
        context = load_context(session=session, account_id=world.account_id)
        ingest_files(session=session, context=context, paths=[path])

    page = robin.get(f"/records/{world.anna_id}")

    href = chip_links(page.text)["cv.pdf"]
    assert re.fullmatch(r"/activities/\d+/original/parts/2", href)
    assert robin.get(href).content == CV


def test_an_activity_logged_without_part_numbers_shows_plain_chips(world, robin):
    from postroom.store.models import Activity

    activity_id, _ = world.deliver(html_mail(attachments=(("old cv.pdf", "application/pdf", CV),)))
    with world.runtime.write() as session:
        activity = session.get(Activity, activity_id)
        activity.attachments = [
            {k: v for k, v in a.items() if k != "part"} for a in activity.attachments
        ]

    page = robin.get(f"/records/{world.anna_id}")

    assert page.status_code == 200
    assert chip_links(page.text) == {}
    assert re.search(r'<li class="chip">.*?old cv\.pdf', page.text)
    assert "/original/parts/" not in page.text


def test_a_timeline_chip_downloads_a_file_of_a_message_over_the_size_cap(world, robin, monkeypatch):
    monkeypatch.setattr(original, "MAX_ORIGINAL_BYTES", 10_000)
    activity_id, _ = world.deliver(
        html_mail(
            attachments=(
                ("cv.pdf", "application/pdf", CV),
                ("portfolio.zip", "application/zip", b"PK" + b"0" * 50_000),
            )
        )
    )

    links = chip_links(robin.get(f"/records/{world.anna_id}").text)

    assert robin.get(links["cv.pdf"]).content == CV  # fetched alone from the server
    page = robin.get(f"/activities/{activity_id}/original")
    assert "Too large to show whole" in page.text
    assert f'href="{links["cv.pdf"]}"' in page.text
    assert f'href="{links["portfolio.zip"]}"' not in page.text  # itself over the cap
    assert "too large: save it from your mail program" in page.text
    refused = robin.get(links["portfolio.zip"])
    assert refused.status_code == 404
    assert "mail program" in refused.text


HOSTILE_NAME = "../../.ssh/Anna\u202efdp.exe\x00<img src=x onerror=alert(1)>.pdf"
SAFE_NAME = "Annafdp.exe_img src=x onerror=alert(1)_.pdf"


def test_a_hostile_file_name_is_shown_and_downloaded_by_its_safe_name(world, robin):
    from postroom.store.models import Activity

    activity_id, _ = world.deliver(html_mail(attachments=((HOSTILE_NAME, "application/pdf", CV),)))
    with world.runtime.read() as session:  # the name as sent is kept
        kept = session.get(Activity, activity_id).attachments
    assert [a["filename"] for a in kept if a["content_type"] == "application/pdf"] == [HOSTILE_NAME]

    timeline = robin.get(f"/records/{world.anna_id}").text
    page = robin.get(f"/activities/{activity_id}/original").text
    for text in (timeline, page):
        assert "\u202e" not in text
        assert "\x00" not in text
        assert "<img src=x" not in text
        assert ".ssh" not in text
    assert chip_links(timeline)[SAFE_NAME] == f"/activities/{activity_id}/original/parts/2"
    assert SAFE_NAME in page

    download = robin.get(f"/activities/{activity_id}/original/parts/2")
    assert download.content == CV
    disposition = download.headers["content-disposition"]
    assert disposition == (
        'attachment; filename="Annafdp.exe_img src=x onerror=alert(1)_.pdf"; '
        "filename*=UTF-8''Annafdp.exe_img%20src%3Dx%20onerror%3Dalert%281%29_.pdf"
    )


def test_the_original_opens_in_mail_and_is_replied_to_from_there(world, robin):
    activity_id, uid = world.deliver(html_mail())

    page = robin.get(f"/activities/{activity_id}/original")

    links = dict(re.findall(r'href="(/mail/\d+/(message|compose)\?[^"]+)"', page.text))
    opened = next(href for href, kind in links.items() if kind == "message")
    reply = next(href for href, kind in links.items() if kind == "compose")
    assert f"uid={uid}" in opened
    assert "folder=INBOX" in opened
    assert robin.get(opened.replace("&amp;", "&")).status_code == 200
    form = robin.get(reply.replace("&amp;", "&"))
    assert form.status_code == 200
    assert 'value="Re: Your interview on Thursday"' in form.text
