"""Files that came with letters (kept in the file store as ``file:<sha256>``) are served to
staff through the case's attachment routes, the API's and the console's, with the case's
access rule, the type their bytes say and the name the letter gave."""

from __future__ import annotations

import re
from urllib.parse import quote

from civicline.domain.accounts import Role
from civicline.gateway.users import create_user
from tests.e2e.test_mailbox_form import PNG, fields, form, smtp
from tests.support.console import console
from tests.support.gateway import PASSWORD, serving
from tests.support.mailserver import SmtpSink
from tests.support.places import Places

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


async def test_stored_letter_files_are_served_to_staff_who_may_see_the_case(
    places: Places, smtp_sink: SmtpSink
) -> None:
    async with (
        places.services(**smtp(smtp_sink)) as services,
        serving(services) as gateway,
        gateway.citizen() as citizen,
    ):
        submission = await form(citizen)
        sent = await citizen.post(
            "/mailbox",
            data=fields(submission),
            files=[
                ("files", ("路灯.png", PNG, "image/png")),
                ("files", ("情况说明.pdf", PDF, "image/png")),  # the browser's word is not taken
            ],
        )
        assert sent.status_code == 200, sent.text
        found = re.search(r'id="letter-number">([^<]+)<', sent.text)
        assert found, sent.text
        number = found.group(1)
        boss = await gateway.staff("boss")
        case = (await boss.get(f"/api/v1/cases/{number}")).json()
        letter = next(m for m in case["messages"] if m["direction"] == "inbound")
        assert [a.split(":")[0] for a in letter["attachments"]] == ["file", "file"]
        base = f"/api/v1/cases/{number}/attachments/{letter['id']}"

        photo = await boss.get(f"{base}/0")
        assert photo.status_code == 200, photo.text
        assert photo.content == PNG
        assert photo.headers["content-type"] == "image/png"
        assert photo.headers["content-disposition"] == (
            f"inline; filename=\"__.png\"; filename*=UTF-8''{quote('路灯.png')}"
        )
        assert photo.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in photo.headers["content-security-policy"]

        document = await boss.get(f"{base}/1")
        assert document.status_code == 200 and document.content == PDF
        assert document.headers["content-type"] == "application/pdf"
        assert document.headers["content-disposition"].startswith("attachment;")
        assert quote("情况说明.pdf") in document.headers["content-disposition"]
        assert (await boss.get(f"{base}/2")).status_code == 404

        # The console links the files by name and serves them through the same rule.
        desk = await console(gateway, "boss")
        page = await desk.get(f"/console/cases/{number}")
        link = f'href="/console/cases/{number}/attachments/{letter["id"]}/1"'
        assert link in page.text and "情况说明.pdf" in page.text
        opened = await desk.get(f"/console/cases/{number}/attachments/{letter['id']}/1")
        assert opened.status_code == 200 and opened.content == PDF

        # A clerk of another department may not open them; nor a file gone from the store.
        other = next(d for d in services.taxonomy.departments if d != case["department"])
        await create_user(
            services.uow(), services.taxonomy, "qian", PASSWORD, Role.STAFF, other,
            now=services.now(),
        )  # fmt: skip
        stranger = await gateway.staff("qian")
        assert (await stranger.get(f"{base}/0")).status_code == 403
        services.files.path(letter["attachments"][0].split(":")[1]).unlink()
        assert (await boss.get(f"{base}/0")).status_code == 404
        for client in (boss, desk, stranger):
            await client.aclose()
