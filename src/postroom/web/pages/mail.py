"""The built-in mail client (docs/web.md, "Mail"): folders, a folder's messages, one message,
and the actions that change them on the server at once (read, unread, flag, move, delete).

Pages call ``services.mailbox`` only. A message is named in the URL by its folder, the
folder's UIDVALIDITY (``v``) and its UID; the account id in the path is checked against the
signed-in user in the service (another user's account is 404). The message body is served
from its own URL into a sandboxed frame under its own policy, as Open original's is
(``pages.original``); attachments download, never render.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from postroom.domain.folders import FolderRole
from postroom.errors import InputError
from postroom.mail.compose import FileToSend
from postroom.services import mailbox, sending
from postroom.services.mailbox import Action, MailUnavailable, MessageRef
from postroom.services.sending import Mode, Outgoing, SendFailed
from postroom.web.deps import CurrentUser, RuntimeDep
from postroom.web.pages.original import (
    FRAME_SANDBOX,
    body_response,
    download_response,
    inline_image_response,
    origin_of,
)
from postroom.web.templating import flash, render

router = APIRouter(tags=["pages"], include_in_schema=False)

FolderName = Annotated[str, Query(min_length=1, max_length=1000)]
Uid = Annotated[int, Query(ge=1, le=4294967295)]
Validity = Annotated[int, Query(ge=1, le=4294967295)]


def _message_ref(folder: FolderName, v: Validity, uid: Uid) -> MessageRef:
    """The message a link names: ``?folder=INBOX&v=<UIDVALIDITY>&uid=<UID>`` (a dependency)."""
    return MessageRef(folder, v, uid)


Ref = Annotated[MessageRef, Depends(_message_ref)]


def folder_url(
    account_id: int, folder: str, page: int = 1, q: str = "", in_text: bool = False
) -> str:
    query = {"folder": folder} | ({"q": q} if q else {}) | ({"text": "1"} if q and in_text else {})
    query |= {"page": str(page)} if page > 1 else {}
    return f"/mail/{account_id}?{urlencode(query)}"


def message_url(account_id: int, ref: MessageRef, suffix: str = "", **extra: str) -> str:
    query = {"folder": ref.folder, "v": str(ref.uidvalidity), "uid": str(ref.uid)} | extra
    return f"/mail/{account_id}/message{suffix}?{urlencode(query)}"


def _unavailable(request: Request, account_id: int, exc: MailUnavailable) -> Response:
    return render(
        request,
        "mail/unavailable.html",
        {"account_id": account_id, "error": exc.args[0], "advice": exc.advice},
        status_code=503,
    )


@router.get("/mail")
def mail_home(request: Request, user: CurrentUser, runtime: RuntimeDep) -> Response:
    account_id = mailbox.first_account_id(runtime=runtime, user_id=user.id)
    if account_id is None:
        return render(request, "mail/no_account.html", {})
    return RedirectResponse(folder_url(account_id, "INBOX"), status_code=303)


@router.get("/mail/compose")
def compose_from_anywhere(
    request: Request,
    user: CurrentUser,
    runtime: RuntimeDep,
    to: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    """ "Email" from a record: the compose form of the user's first account."""
    account_id = mailbox.first_account_id(runtime=runtime, user_id=user.id)
    if account_id is None:
        return render(request, "mail/no_account.html", {})
    return RedirectResponse(compose_url(account_id, Mode.NEW, to=to), status_code=303)


@router.get("/mail/{account_id}")
async def folder_page(
    request: Request,
    user: CurrentUser,
    runtime: RuntimeDep,
    account_id: int,
    folder: FolderName = "INBOX",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    q: Annotated[str, Query(max_length=500)] = "",
    text: Annotated[bool, Query()] = False,
) -> Response:
    try:
        listing = await mailbox.list_folder(
            runtime=runtime,
            user_id=user.id,
            account_id=account_id,
            folder=folder,
            page=page,
            query=q,
            in_text=text,
        )
    except MailUnavailable as exc:
        return _unavailable(request, account_id, exc)
    return render(
        request,
        "mail/folder.html",
        {
            "listing": listing,
            "folder_url": folder_url,
            "message_url": message_url,
            "ref": lambda uid: MessageRef(listing.folder.name, listing.uidvalidity, uid),
            "page_url": lambda number: folder_url(
                account_id, listing.folder.name, number, listing.query, listing.in_text
            ),
            "page_size": mailbox.PAGE_SIZE,
            "roles": FolderRole,
        },
    )


@router.get("/mail/{account_id}/message")
async def message_page(
    request: Request,
    user: CurrentUser,
    runtime: RuntimeDep,
    account_id: int,
    ref: Ref,
    images: Annotated[bool, Query()] = False,
) -> Response:
    try:
        view = await mailbox.open_message(
            runtime=runtime, user_id=user.id, account_id=account_id, ref=ref
        )
    except MailUnavailable as exc:
        return _unavailable(request, account_id, exc)
    extra = {"images": "1"} if images else {}
    return render(
        request,
        "mail/message.html",
        {
            "view": view,
            "ref": ref,
            "images": images,
            "body_url": message_url(account_id, ref, "/body", **extra),
            "images_url": message_url(account_id, ref, images="1"),
            "plain_url": message_url(account_id, ref),
            "part_url": lambda number: message_url(account_id, ref, f"/parts/{number}"),
            "folder_url": folder_url,
            "frame_sandbox": FRAME_SANDBOX,
            "roles": FolderRole,
            "compose_url": compose_url,
            "modes": Mode,
        },
    )


@router.get("/mail/{account_id}/message/body")
async def message_body(
    request: Request,
    user: CurrentUser,
    runtime: RuntimeDep,
    account_id: int,
    ref: Ref,
    images: Annotated[bool, Query()] = False,
) -> Response:
    origin = origin_of(request)

    def image_url(number: str) -> str:
        token = mailbox.sign_inline_image(
            runtime=runtime, user_id=user.id, account_id=account_id, ref=ref, number=number
        )
        return origin + message_url(account_id, ref, f"/inline/{number}", t=token)

    body = await mailbox.get_message_body(
        runtime=runtime,
        user_id=user.id,
        account_id=account_id,
        ref=ref,
        allow_remote_images=images,
        image_url=image_url,
    )
    return body_response(request, body, remote_images=images)


@router.get("/mail/{account_id}/message/parts/{number}")
async def message_part(
    user: CurrentUser,
    runtime: RuntimeDep,
    account_id: int,
    number: str,
    ref: Ref,
) -> Response:
    part = await mailbox.get_message_part(
        runtime=runtime, user_id=user.id, account_id=account_id, ref=ref, number=number
    )
    return download_response(part)


@router.get("/mail/{account_id}/message/inline/{number}")
async def message_inline_image(
    runtime: RuntimeDep,
    account_id: int,
    number: str,
    ref: Ref,
    t: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    part = await mailbox.get_inline_image(
        runtime=runtime, token=t, account_id=account_id, ref=ref, number=number
    )
    return inline_image_response(part)


@router.post("/mail/{account_id}/actions")
async def message_action(
    request: Request,
    user: CurrentUser,
    runtime: RuntimeDep,
    account_id: int,
    folder: Annotated[str, Form(min_length=1, max_length=1000)],
    v: Annotated[int, Form(ge=1, le=4294967295)],
    action: Annotated[str, Form()],
    uid: Annotated[list[int], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    target: Annotated[str, Form(max_length=1000)] = "",
    page: Annotated[int, Form(ge=1, le=1_000_000)] = 1,
    opened: Annotated[bool, Form()] = False,
    q: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Act on the ticked messages of a folder page, or on the message page's one message
    (``opened``): after a move or delete from the message page, back to the folder."""
    back = folder_url(account_id, folder, page, q)
    try:
        chosen = Action(action)
    except ValueError:
        flash(request, f"Unknown action {action!r}.", "error")
        return RedirectResponse(back, status_code=303)
    try:
        result = await mailbox.act(
            runtime=runtime,
            user_id=user.id,
            account_id=account_id,
            folder=folder,
            uidvalidity=v,
            uids=[u for u in uid if 0 < u <= 4294967295],
            action=chosen,
            target=target,
        )
    except (MailUnavailable, InputError) as exc:
        flash(request, f"{exc.args[0]}. {exc.advice}".strip(), "error")
        return RedirectResponse(back, status_code=303)
    flash(request, result.message)
    if opened and not result.removed and uid:
        return RedirectResponse(
            message_url(account_id, MessageRef(folder, v, uid[0])), status_code=303
        )
    return RedirectResponse(back, status_code=303)


# --- writing -------------------------------------------------------------------------------


def compose_url(account_id: int, mode: Mode, ref: MessageRef | None = None, to: str = "") -> str:
    query = {"mode": mode.value}
    if ref is not None:
        query |= {"folder": ref.folder, "v": str(ref.uidvalidity), "uid": str(ref.uid)}
    if to:
        query["to"] = to
    return f"/mail/{account_id}/compose?{urlencode(query)}"


def _mode(value: str) -> Mode:
    try:
        return Mode(value)
    except ValueError:
        return Mode.NEW


@router.get("/mail/{account_id}/compose")
async def compose_page(
    request: Request,
    user: CurrentUser,
    runtime: RuntimeDep,
    account_id: int,
    mode: Annotated[str, Query(max_length=20)] = "new",
    folder: Annotated[str | None, Query(min_length=1, max_length=1000)] = None,
    v: Annotated[int | None, Query(ge=1, le=4294967295)] = None,
    uid: Annotated[int | None, Query(ge=1, le=4294967295)] = None,
    to: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    ref = MessageRef(folder, v, uid) if folder and v and uid else None
    try:
        view = await sending.compose(
            runtime=runtime,
            user_id=user.id,
            account_id=account_id,
            mode=_mode(mode),
            ref=ref,
            to=to,
        )
    except MailUnavailable as exc:
        return _unavailable(request, account_id, exc)
    form = {
        "to": view.to,
        "cc": view.cc,
        "bcc": view.bcc,
        "subject": view.subject,
        "text": view.text,
    }
    return _compose_form(request, view, form)


def _compose_form(
    request: Request,
    view: sending.ComposeView,
    form: dict[str, str],
    *,
    error: str | None = None,
    advice: str | None = None,
    status_code: int = 200,
) -> Response:
    ref = view.ref
    return render(
        request,
        "mail/compose.html",
        {
            "view": view,
            "form": form,
            "error": error,
            "advice": advice,
            "modes": Mode,
            "back_url": message_url(view.account.id, ref)
            if ref
            else folder_url(view.account.id, "INBOX"),
        },
        status_code=status_code,
    )


@router.post("/mail/{account_id}/send")
async def send_message(
    request: Request,
    user: CurrentUser,
    runtime: RuntimeDep,
    account_id: int,
    mode: Annotated[str, Form(max_length=20)] = "new",
    to: Annotated[str, Form(max_length=20000)] = "",
    cc: Annotated[str, Form(max_length=20000)] = "",
    bcc: Annotated[str, Form(max_length=20000)] = "",
    subject: Annotated[str, Form(max_length=2000)] = "",
    text: Annotated[str, Form(max_length=2_100_000)] = "",
    folder: Annotated[str | None, Form(max_length=1000)] = None,
    v: Annotated[int | None, Form(ge=1, le=4294967295)] = None,
    uid: Annotated[int | None, Form(ge=1, le=4294967295)] = None,
    forward_files: Annotated[bool, Form()] = False,
    files: Annotated[list[UploadFile], File()] = [],  # noqa: B006 (FastAPI copies defaults)
    save: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Send the compose form, or (``save=draft``) keep it in the Drafts folder."""
    chosen = _mode(mode)
    ref = MessageRef(folder, v, uid) if folder and v and uid and chosen is not Mode.NEW else None
    form = {"to": to, "cc": cc, "bcc": bcc, "subject": subject, "text": text}
    attached = []
    budget = sending.MAX_FILES_BYTES + 1
    for upload in files:
        if not upload.filename:
            continue  # the empty file input of a form sent without a file
        data = await upload.read(budget)
        budget -= len(data)
        attached.append(
            FileToSend(upload.filename, upload.content_type or "application/octet-stream", data)
        )
    outgoing = Outgoing(
        mode=chosen,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject,
        text=text.replace("\r\n", "\n"),
        ref=ref,
        files=tuple(attached),
        forward_files=forward_files,
    )
    try:
        if save == "draft":
            kept = await sending.save_draft(
                runtime=runtime, user_id=user.id, account_id=account_id, outgoing=outgoing
            )
            flash(request, f"The draft is saved in {kept.folder}.")
            return RedirectResponse(folder_url(account_id, kept.folder), status_code=303)
        result = await sending.send(
            runtime=runtime, user_id=user.id, account_id=account_id, outgoing=outgoing
        )
    except (InputError, SendFailed, MailUnavailable) as exc:
        try:  # the form again, with what was typed and (for a forward) its files' names
            view = await sending.compose(
                runtime=runtime, user_id=user.id, account_id=account_id, mode=chosen, ref=ref
            )
        except MailUnavailable:
            view = await sending.compose(
                runtime=runtime, user_id=user.id, account_id=account_id, mode=Mode.NEW
            )
            view = replace(view, mode=chosen, ref=ref)
        return _compose_form(
            request,
            view,
            form,
            error=str(exc.args[0]),
            advice=exc.advice or None,
            status_code=422 if isinstance(exc, InputError) else 502,
        )
    people = "one record" if result.logged == 1 else f"{result.logged} records"
    where = f" A copy is in {result.saved_in}." if result.saved_in else ""
    flash(request, f"Sent to {', '.join(result.recipients)}. Logged on {people}.{where}")
    for problem in result.problems:
        flash(request, f"Sent, but {problem}.", "info")
    if ref is not None and chosen is not Mode.DRAFT:
        return RedirectResponse(message_url(account_id, ref), status_code=303)
    return RedirectResponse(folder_url(account_id, "INBOX"), status_code=303)
