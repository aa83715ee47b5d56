"""Name records: the list with search and filters, a record with its timeline, add (with the
duplicate check), edit, remove, find duplicates and merge, import from CSV or vCard.

Pages call ``services.records``, ``services.timeline`` and ``services.importing`` only (docs/
web.md). Filters and paging stay in the URL. A change a user can get wrong (a bad address, a
duplicate) re-renders its form with the values typed and what to do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from postroom.domain.records import DraftError, PersonDraft, PhoneEntry
from postroom.errors import Conflict, InputError, PostroomError
from postroom.services import importing, records, timeline
from postroom.services.records import RecordDetail, RecordQuery
from postroom.web.deps import CurrentUser, ReadSession, get_runtime, write
from postroom.web.templating import flash, plural, render

router = APIRouter(tags=["pages"], include_in_schema=False)

PER_PAGE = 50
TIMELINE_PER_PAGE = 25
MAX_IMPORT_BYTES = 10 * 1024 * 1024


def _blank(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _int_or_none(value: str | None) -> int | None:
    text = _blank(value)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise InputError(f"{text!r} is not a number") from exc


# --- the list ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListFilters:
    """The list's search, filters and sort as the URL says them (the list and its export)."""

    q: str = ""
    kind: str = ""
    tag: str = ""
    owner: str = ""
    sort: str = "name"

    @property
    def is_filtered(self) -> bool:
        return any(_blank(v) for v in (self.q, self.kind, self.tag, self.owner))

    def query(self, *, page: int = 1, per_page: int = PER_PAGE) -> RecordQuery:
        return RecordQuery(
            text=_blank(self.q),
            kind=_blank(self.kind),
            tag=_blank(self.tag),
            owner_id=_int_or_none(self.owner),
            sort="last_contact" if self.sort == "last_contact" else "name",
            page=page,
            per_page=per_page,
        )


Filters = Annotated[ListFilters, Depends()]


@router.get("/records")
def list_page(
    request: Request,
    user: CurrentUser,
    session: ReadSession,
    filters: Filters,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    found = records.list_records(session=session, query=filters.query(page=page))
    params = asdict(filters)
    kept = {k: v for k, v in params.items() if v and not (k == "sort" and v == "name")}

    def url(**change: Any) -> str:
        values = {**kept, **change}
        values = {k: v for k, v in values.items() if v not in (None, "", 1)}
        return "/records" + (f"?{urlencode(values)}" if values else "")

    return render(
        request,
        "records/list.html",
        {
            "found": found,
            "filters": params,
            "is_filtered": filters.is_filtered,
            "owners": records.list_owners(session=session),
            "tags": records.list_tags(session=session),
            "url": url,
            "query": filters.q,
        },
    )


@router.get("/records/export.csv")
def export_csv(
    request: Request,
    user: CurrentUser,
    session: ReadSession,
    filters: Filters,
) -> Response:
    """The records the list shows (every page), as a CSV file the import reads back."""
    text = records.export_records_csv(session=session, query=filters.query())
    filename = f"postroom-records-{datetime.now(UTC):%Y-%m-%d}.csv"
    return Response(
        "\ufeff" + text,  # the BOM: spreadsheets then read UTF-8 as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- the form (add and edit) ---------------------------------------------------------------


@dataclass
class RecordForm:
    """The values of the record form, as typed (re-shown when they cannot be saved)."""

    name: str = ""
    kind: str = "candidate"
    company: str = ""
    title: str = ""
    location: str = ""
    owner: str = ""
    notes: str = ""
    tags: str = ""
    links: str = ""
    region: str = ""
    emails: list[tuple[str, bool]] = field(default_factory=list)
    phones: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, record: RecordDetail) -> RecordForm:
        return cls(
            name=record.name,
            kind=record.kind,
            company=record.company.name if record.company else "",
            title=record.title or "",
            location=record.location or "",
            owner=record.owner.email if record.owner else "",
            notes=record.notes or "",
            tags=", ".join(record.tags),
            links="\n".join(record.links),
            emails=[(e.address, e.is_primary) for e in record.emails],
            phones=[(p.display, p.label or "") for p in record.phones],
        )

    def draft(self) -> PersonDraft:
        """The draft the form says; the address marked primary comes first."""
        emails = [address.strip() for address, _ in self.emails if address.strip()]
        primary = next((a.strip() for a, is_primary in self.emails if is_primary), None)
        if primary in emails:
            emails.remove(primary)
            emails.insert(0, primary)
        return PersonDraft(
            name=self.name,
            kind=self.kind,
            emails=tuple(emails),
            phones=tuple(
                PhoneEntry(number, label or None) for number, label in self.phones if number.strip()
            ),
            company=self.company,
            title=self.title,
            location=self.location,
            links=tuple(line.strip() for line in self.links.splitlines() if line.strip()),
            tags=tuple(t for t in self.tags.split(",") if t.strip()),
            notes=self.notes,
            owner_email=self.owner or None,
        )


FormText = Annotated[str, Form()]


def _posted_form(
    name: FormText = "",
    kind: FormText = "candidate",
    company: FormText = "",
    title: FormText = "",
    location: FormText = "",
    owner: FormText = "",
    notes: FormText = "",
    tags: FormText = "",
    links: FormText = "",
    region: FormText = "",
    email: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    primary: FormText = "0",
    phone: Annotated[list[str], Form()] = [],  # noqa: B006
    phone_label: Annotated[list[str], Form()] = [],  # noqa: B006
) -> RecordForm:
    """The record form as posted: the fields add and edit both take (a dependency)."""
    labels = [*phone_label, *[""] * len(phone)]
    return RecordForm(
        name=name,
        kind=kind,
        company=company,
        title=title,
        location=location,
        owner=owner,
        notes=notes,
        tags=tags,
        links=links,
        region=region,
        emails=[(address, str(i) == primary) for i, address in enumerate(email)],
        phones=list(zip(phone, labels[: len(phone)], strict=True)),
    )


PostedForm = Annotated[RecordForm, Depends(_posted_form)]


def _form_page(
    request: Request,
    form: RecordForm,
    *,
    record: RecordDetail | None = None,
    problems: list[str] | None = None,
    advice: str | None = None,
    duplicate: records.DuplicateCandidate | None = None,
    status_code: int = 200,
) -> Response:
    with get_runtime(request).read() as session:
        owners = records.list_owners(session=session)
    return render(
        request,
        "records/form.html",
        {
            "form": form,
            "record": record,
            "problems": problems or [],
            "advice": advice,
            "duplicate": duplicate,
            "owners": owners,
        },
        status_code=status_code,
    )


def _problems(exc: PostroomError) -> list[str]:
    if isinstance(exc, DraftError):
        return list(exc.problems)
    return [str(exc.args[0]) if exc.args else str(exc)]


@router.get("/records/new")
def new_page(
    request: Request,
    user: CurrentUser,
    kind: str = "candidate",
    company: Annotated[str, Query(max_length=300)] = "",
    name: Annotated[str, Query(max_length=300)] = "",
    email: Annotated[str, Query(max_length=320)] = "",
) -> Response:
    """The empty record form; ``name`` and ``email`` fill it in (the mail client's "Create
    record" for an address of an email)."""
    form = RecordForm(
        name=name,
        kind="contact" if kind == "contact" else "candidate",
        owner=user.email,
        company=company,
        emails=[(email, True)] if email else [],
    )
    return _form_page(request, form)


@router.post("/records")
def create(
    request: Request,
    user: CurrentUser,
    form: PostedForm,
    on_duplicate: FormText = "error",
) -> Response:
    policy: records.OnDuplicate = (
        on_duplicate if on_duplicate in ("merge", "create") else "error"  # type: ignore[assignment]
    )
    try:
        with write(request) as session:
            outcome = records.create_record(
                session=session,
                draft=form.draft(),
                on_duplicate=policy,
                default_region=_blank(form.region),
            )
    except Conflict as exc:
        with get_runtime(request).read() as session:
            duplicate = records.find_duplicate_for_draft(
                session=session, draft=form.draft(), default_region=_blank(form.region)
            )
        return _form_page(
            request,
            form,
            problems=[] if duplicate else _problems(exc),
            duplicate=duplicate,
            status_code=409,
        )
    except PostroomError as exc:
        return _form_page(
            request, form, problems=_problems(exc), advice=exc.advice or None, status_code=422
        )
    record = outcome.record
    if outcome.is_created:
        flash(request, f"{record.name} is added.")
    else:
        what = ", ".join(outcome.changes) or "nothing new"
        flash(request, f"Merged into {record.name}: {what}.")
    for warning in outcome.warnings:  # an address whose mail is never logged
        flash(request, f"Note: {warning}.", "info")
    return RedirectResponse(f"/records/{record.id}", status_code=303)


# --- import --------------------------------------------------------------------------------


def _import_page(
    request: Request,
    *,
    report: importing.ImportReport | None = None,
    filename: str = "",
    choices: dict[str, str] | None = None,
    error: str | None = None,
    advice: str | None = None,
    status_code: int = 200,
) -> Response:
    summary = None
    if report is not None:
        unit = report.unit
        summary = (
            f"{plural(report.total, unit)}: {len(report.created):,} created, "
            f"{len(report.merged):,} merged, {len(report.skipped):,} skipped, "
            f"{plural(len(report.errors), 'error')}"
        )
    return render(
        request,
        "records/import.html",
        {
            "report": report,
            "summary": summary,
            "filename": filename,
            "choices": choices or {"policy": "merge", "kind": "candidate", "region": ""},
            "error": error,
            "advice": advice,
        },
        status_code=status_code,
    )


@router.get("/records/import")
def import_page(request: Request, user: CurrentUser) -> Response:
    return _import_page(request)


@router.post("/records/import")
def import_file(
    request: Request,
    user: CurrentUser,
    file: Annotated[UploadFile, File()],
    policy: FormText = "merge",
    kind: FormText = "candidate",
    region: FormText = "",
) -> Response:
    choices = {"policy": policy, "kind": kind, "region": region}
    filename = file.filename or ""
    data = file.file.read(MAX_IMPORT_BYTES + 1)
    problem: str | None = None
    if not data:
        problem = "Choose a .csv or .vcf file first: the file sent was empty."
    elif len(data) > MAX_IMPORT_BYTES:
        problem = "The file is larger than 10 MB. Split it into smaller files."
    elif policy not in ("merge", "skip", "create") or kind not in ("candidate", "contact"):
        problem = "Choose what to do with duplicates and the kind of records."
    if problem is not None:
        return _import_page(
            request, filename=filename, choices=choices, error=problem, status_code=422
        )
    is_vcard = filename.lower().endswith((".vcf", ".vcard")) or data.lstrip()[:11].upper() == (
        b"BEGIN:VCARD"
    )
    run = importing.import_vcard if is_vcard else importing.import_csv
    try:
        with write(request) as session:
            report = run(
                session=session,
                data=data,
                policy=policy,  # type: ignore[arg-type]
                default_region=_blank(region),
                default_kind=kind,  # type: ignore[arg-type]
                on_addresses_added=records.LINK_PAST_MAIL,
            )
    except PostroomError as exc:
        return _import_page(
            request,
            filename=filename,
            choices=choices,
            error=str(exc.args[0]) if exc.args else str(exc),
            advice=exc.advice or None,
            status_code=422,
        )
    return _import_page(request, report=report, filename=filename, choices=choices)


# --- a record ------------------------------------------------------------------------------


@router.get("/records/{record_id}")
def record_page(
    request: Request,
    user: CurrentUser,
    session: ReadSession,
    record_id: int,
    kind: str = "",
    direction: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    record = records.get_record(session=session, record_id=record_id)
    activities = timeline.get_timeline(
        session=session,
        record_id=record_id,
        kind=_blank(kind),
        direction=_blank(direction),
        page=page,
        per_page=TIMELINE_PER_PAGE,
    )

    def url(page: int = 1, kind: str | None = kind, direction: str | None = direction) -> str:
        values = {"kind": kind, "direction": direction, "page": page}
        values = {k: v for k, v in values.items() if v not in (None, "", 1)}
        return f"/records/{record_id}" + (f"?{urlencode(values)}" if values else "")

    return render(
        request,
        "records/detail.html",
        {"record": record, "timeline": activities, "url": url},
    )


@router.get("/records/{record_id}/edit")
def edit_page(
    request: Request, user: CurrentUser, session: ReadSession, record_id: int
) -> Response:
    record = records.get_record(session=session, record_id=record_id)
    return _form_page(request, RecordForm.of(record), record=record)


@router.post("/records/{record_id}/edit")
def edit(
    request: Request,
    user: CurrentUser,
    record_id: int,
    form: PostedForm,
) -> Response:
    with get_runtime(request).read() as session:
        record = records.get_record(session=session, record_id=record_id)
    try:
        with write(request) as session:
            saved = records.update_record(
                session=session,
                record_id=record_id,
                draft=form.draft(),
                default_region=_blank(form.region),
            )
    except (InputError, Conflict) as exc:
        return _form_page(
            request,
            form,
            record=record,
            problems=_problems(exc),
            advice=exc.advice or None,
            status_code=409 if isinstance(exc, Conflict) else 422,
        )
    flash(request, f"{saved.name} is saved.")
    return RedirectResponse(f"/records/{record_id}", status_code=303)


@router.get("/records/{record_id}/delete")
def delete_page(
    request: Request, user: CurrentUser, session: ReadSession, record_id: int
) -> Response:
    record = records.get_record(session=session, record_id=record_id)
    return render(request, "records/delete.html", {"record": record})


@router.post("/records/{record_id}/delete")
def delete(request: Request, user: CurrentUser, record_id: int) -> Response:
    with write(request) as session:
        name = records.delete_record(session=session, record_id=record_id)
    flash(request, f"{name} is removed, with the activities on the record.")
    return RedirectResponse("/records", status_code=303)


@router.get("/records/{record_id}/duplicates")
def duplicates_page(
    request: Request,
    user: CurrentUser,
    session: ReadSession,
    record_id: int,
    other: str = "",
) -> Response:
    record = records.get_record(session=session, record_id=record_id)
    candidates = records.find_duplicates(session=session, record_id=record_id)
    error = None
    other_id = _int_or_none(other) if other.strip().isdigit() else None
    if other.strip() and other_id is None:
        error = f"{other.strip()!r} is not a record number."
    if other_id is not None and all(c.record.id != other_id for c in candidates):
        if other_id == record_id:
            error = "That is this record: choose another one."
        else:
            try:
                chosen = records.get_record(session=session, record_id=other_id)
            except PostroomError:
                error = f"There is no record #{other_id}."
            else:
                candidates = [records.DuplicateCandidate(chosen, "chosen by you"), *candidates]
    return render(
        request,
        "records/duplicates.html",
        {"record": record, "candidates": candidates, "other": other, "error": error},
        status_code=422 if error else 200,
    )


@router.post("/records/{record_id}/merge")
def merge(
    request: Request,
    user: CurrentUser,
    record_id: int,
    other_id: Annotated[int, Form()],
    survivor: Annotated[int, Form()],
) -> Response:
    if survivor not in (record_id, other_id):
        raise InputError("the record to keep must be one of the two being merged")
    loser = other_id if survivor == record_id else record_id
    with write(request) as session:
        result = records.merge_records(session=session, survivor_id=survivor, other_id=loser)
    flash(request, f"{result.removed_name} is merged into {result.record.name}.")
    return RedirectResponse(f"/records/{result.record.id}", status_code=303)
