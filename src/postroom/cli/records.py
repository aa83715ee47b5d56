"""``postroom record add|import|list|show``: Name records and their timelines.

Calls ``services.records``, ``services.timeline`` and ``services.importing`` only, the same
use cases as the web app; past mail with a record's new addresses is linked by the services.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from postroom.cli.runtime import console, make_table, open_runtime, user_errors
from postroom.domain.records import PersonDraft, PhoneEntry
from postroom.errors import InputError
from postroom.services import importing, records, timeline
from postroom.services.timeline import Mailbox

app = typer.Typer(help="Name records: candidates and contacts.", no_args_is_help=True)

Duplicate = Annotated[
    str,
    typer.Option(
        "--on-duplicate",
        help="when the record duplicates another (same email, phone, or name and company): "
        "error, merge or create",
    ),
]


@app.command("add")
@user_errors
def add(
    name: Annotated[str, typer.Argument(help="full name")],
    email: Annotated[
        list[str] | None, typer.Option("--email", "-e", help="repeatable; first is primary")
    ] = None,
    phone: Annotated[list[str] | None, typer.Option("--phone", "-p", help="repeatable")] = None,
    company: Annotated[str | None, typer.Option(help="company name")] = None,
    title: Annotated[str | None, typer.Option(help="job title")] = None,
    location: Annotated[str | None, typer.Option()] = None,
    link: Annotated[
        list[str] | None, typer.Option("--link", help="repeatable (LinkedIn...)")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="repeatable")] = None,
    kind: Annotated[str, typer.Option(help="candidate or contact")] = "candidate",
    owner: Annotated[str | None, typer.Option(help="owner's user email")] = None,
    notes: Annotated[str | None, typer.Option()] = None,
    region: Annotated[str | None, typer.Option(help="default phone region, e.g. GB, US")] = None,
    on_duplicate: Duplicate = "error",
) -> None:
    """Add a record (after the duplicate check); past mail with its addresses is linked."""
    if on_duplicate not in ("error", "merge", "create"):
        raise InputError(f"--on-duplicate {on_duplicate!r}", advice="use error, merge or create")
    draft = PersonDraft(
        name=name,
        kind=kind,
        emails=tuple(email or ()),
        phones=tuple(PhoneEntry(p) for p in phone or ()),
        company=company,
        title=title,
        location=location,
        links=tuple(link or ()),
        tags=tuple(tag or ()),
        notes=notes,
        owner_email=owner,
    )
    runtime = open_runtime()
    with runtime.sessions.begin() as session:
        result = records.create_record(
            session=session,
            draft=draft,
            on_duplicate=on_duplicate,  # type: ignore[arg-type]
            default_region=region,
        )
    person_id, person_name = result.record.id, result.record.name
    if result.is_created:
        console.print(f"created record #{person_id} {person_name}")
    else:
        assert result.duplicate is not None
        what = ", ".join(result.changes) or "nothing new"
        console.print(
            f"merged into record #{person_id} {person_name} ({result.duplicate.reason}): {what}"
        )


@app.command("import")
@user_errors
def import_file(
    file: Annotated[Path, typer.Argument(help="a .csv or .vcf file")],
    on_duplicate: Annotated[
        str, typer.Option("--on-duplicate", help="merge, skip or create")
    ] = "merge",
    region: Annotated[str | None, typer.Option(help="default phone region, e.g. GB, US")] = None,
    kind: Annotated[
        str, typer.Option(help="candidate or contact, when the file does not say")
    ] = "candidate",
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or vcard (default: from the extension)")
    ] = None,
) -> None:
    """Import records from CSV or vCard; prints what was created, merged, skipped, and why."""
    if on_duplicate not in ("merge", "skip", "create"):
        raise InputError(f"--on-duplicate {on_duplicate!r}", advice="use merge, skip or create")
    if kind not in ("candidate", "contact"):
        raise InputError(f"--kind {kind!r}", advice="use candidate or contact")
    fmt = file_format or ("vcard" if file.suffix.lower() in (".vcf", ".vcard") else "csv")
    if fmt not in ("csv", "vcard"):
        raise InputError(f"--format {fmt!r}", advice="use csv or vcard")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror or exc}") from exc
    runtime = open_runtime()
    run = importing.import_vcard if fmt == "vcard" else importing.import_csv
    with runtime.sessions.begin() as session:
        report = run(
            session=session,
            data=data,
            policy=on_duplicate,  # type: ignore[arg-type]
            default_region=region,
            default_kind=kind,  # type: ignore[arg-type]
            on_addresses_added=records.LINK_PAST_MAIL,
        )
    unit = report.unit
    table = make_table(unit, "outcome", "record", "name", "reason")
    styles = {"created": "green", "merged": "cyan", "skipped": "yellow", "error": "red"}
    for outcome, entry in report.list_outcomes():
        table.add_row(
            str(entry.source),
            f"[{styles[outcome]}]{outcome}[/]",
            f"#{entry.record_id}" if entry.record_id else "",
            entry.name,
            entry.reason or "",
        )
    console.print(table)
    console.print(
        f"{report.total} {unit}s: {len(report.created)} created, {len(report.merged)} merged, "
        f"{len(report.skipped)} skipped, {len(report.errors)} errors"
    )
    if report.ignored_fields:
        console.print(f"[dim]not imported: {', '.join(report.ignored_fields)}[/]")
    if report.errors:
        raise typer.Exit(code=1)


@app.command("list")
@user_errors
def list_records(
    tag: Annotated[str | None, typer.Option(help="only records with this tag")] = None,
    search: Annotated[
        str | None,
        typer.Option("--search", "-s", help="part of a name, email, phone, company or tag"),
    ] = None,
    kind: Annotated[str | None, typer.Option(help="candidate or contact")] = None,
    sort: Annotated[str, typer.Option(help="name or last_contact")] = "name",
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List records with their last contact and how many emails are logged on each."""
    if sort not in ("name", "last_contact"):
        raise InputError(f"--sort {sort!r}", advice="use name or last_contact")
    runtime = open_runtime()
    rows: list[records.RecordRow] = []
    total = 0
    with runtime.sessions() as session:
        while len(rows) < limit:  # pages of at most MAX_PER_PAGE records
            query = records.RecordQuery(
                text=search,
                tag=tag,
                kind=kind,
                sort=sort,  # type: ignore[arg-type]
                per_page=min(limit - len(rows), records.MAX_PER_PAGE),
                offset=offset + len(rows),
            )
            found = records.list_records(session=session, query=query)
            rows.extend(found.rows)
            total = found.total
            if len(found.rows) < query.per_page:
                break
    table = make_table(
        "id", "name", "kind", "email", "phone", "company", "tags", "last contact", "emails"
    )
    for r in rows:
        table.add_row(
            str(r.id),
            r.name,
            r.kind,
            r.primary_email or "",
            r.phone or "",
            r.company.name if r.company else "",
            ", ".join(r.tags),
            r.last_contact_at.strftime("%Y-%m-%d") if r.last_contact_at else "never",
            str(r.activity_count),
        )
    console.print(table if rows else "no records")
    if total > offset + len(rows):
        console.print(f"[dim]{len(rows)} of {total} records (--offset for more)[/]")


def _boxes(boxes: tuple[Mailbox, ...]) -> str:
    return ", ".join(f"{b.name} <{b.address}>" if b.name else b.address for b in boxes)


@app.command("show")
@user_errors
def show(
    record_id: Annotated[int, typer.Argument(help="record id")],
    limit: Annotated[
        int, typer.Option(min=1, max=timeline.MAX_PER_PAGE, help="activities to show")
    ] = 50,
    full: Annotated[bool, typer.Option("--full", help="whole text, not just the new part")] = False,
) -> None:
    """A record and its activity timeline, newest first."""
    runtime = open_runtime()
    with runtime.sessions() as session:
        r = records.get_record(session=session, record_id=record_id)
        page = timeline.get_timeline(session=session, record_id=record_id, per_page=limit)
    console.print(f"[bold]#{r.id} {escape(r.name)}[/] ({r.kind})")
    for label, value in (
        ("email", ", ".join(e.address + (" (primary)" if e.is_primary else "") for e in r.emails)),
        ("phone", ", ".join(p.display + (f" ({p.label})" if p.label else "") for p in r.phones)),
        ("company", r.company.name if r.company else ""),
        ("title", r.title or ""),
        ("location", r.location or ""),
        ("links", ", ".join(r.links)),
        ("tags", ", ".join(r.tags)),
        ("owner", r.owner.email if r.owner else ""),
        ("notes", r.notes or ""),
    ):
        if value:
            console.print(f"  {label:9} {value}", markup=False)
    console.print(f"\n[bold]Activities[/] ({page.total})")
    for a in page.entries:
        when = a.occurred_at.strftime("%Y-%m-%d %H:%M") if a.occurred_at else "undated"
        arrow = "→ sent" if a.is_sent else "← received"
        kind = " [red]BOUNCE[/]" if a.is_bounce else ""
        gone = " [yellow](gone from the server)[/]" if a.is_gone_from_server else ""
        console.print(
            f"[cyan]{when}[/] {arrow}{kind}{gone}  [bold]{escape(a.subject or '(no subject)')}[/]"
        )
        for label, boxes in (("From", a.from_), ("To", a.to), ("Cc", a.cc)):
            if boxes:
                console.print(f"    {label}: {_boxes(boxes)}", markup=False, style="dim")
        if a.bounce_address:
            console.print(f"    failed: {a.bounce_address}", markup=False)
        if a.detail:
            console.print(f"    {a.detail}", markup=False)
        if a.body_state == "present":
            text = (a.text if full else a.new_text) or ""
            for line in text.strip().splitlines()[: None if full else 6]:
                console.print(f"    {line}", markup=False)
        elif a.body_state == "pending":
            console.print("    [dim](text not fetched yet)[/]")
        else:
            console.print("    [dim](text hidden by the account's privacy setting)[/]")
        for att in a.attachments:
            size = f", {att.size} bytes" if att.size is not None else ""
            console.print(
                f"    📎 {att.filename} ({att.content_type}{size})", markup=False, style="dim"
            )
