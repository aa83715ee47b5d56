"""``postroom record add|import|list|show``: Name records and their timelines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from postroom.cli.runtime import console, make_table, open_runtime, user_errors
from postroom.domain.records import PersonDraft, PhoneEntry
from postroom.errors import InputError
from postroom.pipeline import link_past_messages
from postroom.services import importing
from postroom.services.records import add_person
from postroom.store import activities as activity_store
from postroom.store import records as record_store
from postroom.store.models import BodyState

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
        result = add_person(
            session=session,
            draft=draft,
            on_duplicate=on_duplicate,  # type: ignore[arg-type]
            default_region=region,
            on_addresses_added=link_past_messages,
        )
        person_id, person_name = result.person.id, result.person.name
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
            on_addresses_added=link_past_messages,
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
        str | None, typer.Option("--search", "-s", help="part of a name or email")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List records by name."""
    runtime = open_runtime()
    with runtime.sessions() as session:
        people = record_store.list_persons(
            session=session, tag=tag, text=search, limit=limit, offset=offset
        )
        table = make_table("id", "name", "kind", "email", "phone", "company", "tags")
        for p in people:
            table.add_row(
                str(p.id),
                p.name,
                p.kind.value,
                ", ".join(e.address for e in p.emails),
                ", ".join(ph.number for ph in p.phones),
                p.company.name if p.company else "",
                ", ".join(t.tag for t in p.tags),
            )
    console.print(table if people else "no records")


@app.command("show")
@user_errors
def show(
    record_id: Annotated[int, typer.Argument(help="record id")],
    limit: Annotated[int, typer.Option(help="activities to show")] = 50,
    full: Annotated[bool, typer.Option("--full", help="whole text, not just the new part")] = False,
) -> None:
    """A record and its activity timeline, newest first."""
    runtime = open_runtime()
    with runtime.sessions() as session:
        p = record_store.get_person_or_raise(session=session, person_id=record_id)
        console.print(f"[bold]#{p.id} {p.name}[/] ({p.kind.value})")
        for label, value in (
            (
                "email",
                ", ".join(e.address + (" (primary)" if e.is_primary else "") for e in p.emails),
            ),
            (
                "phone",
                ", ".join(ph.number + (f" ({ph.label})" if ph.label else "") for ph in p.phones),
            ),
            ("company", p.company.name if p.company else ""),
            ("title", p.title or ""),
            ("location", p.location or ""),
            ("links", ", ".join(str(x) for x in p.links)),
            ("tags", ", ".join(t.tag for t in p.tags)),
            ("owner", p.owner.email if p.owner else ""),
            ("notes", p.notes or ""),
        ):
            if value:
                console.print(f"  {label:9} {value}")
        total = activity_store.count_activities(session=session, person_id=p.id)
        activities = activity_store.list_activities(session=session, person_id=p.id, limit=limit)
        console.print(f"\n[bold]Activities[/] ({total})")
        for a in activities:
            when = a.occurred_at.strftime("%Y-%m-%d %H:%M") if a.occurred_at else "undated"
            arrow = "→ sent" if a.direction.value == "sent" else "← received"
            kind = " [red]BOUNCE[/]" if a.kind.value == "bounce" else ""
            console.print(f"[cyan]{when}[/] {arrow}{kind}  [bold]{a.subject or '(no subject)'}[/]")
            if a.detail:
                console.print(f"    {a.detail}")
            if a.body_state is BodyState.PRESENT:
                text = (a.text if full else a.reply_text) or ""
                for line in text.strip().splitlines()[: None if full else 6]:
                    console.print(f"    {line}", markup=False)
            elif a.body_state is BodyState.PENDING:
                console.print("    [dim](text not fetched yet)[/]")
            for att in a.attachments:
                console.print(
                    f"    [dim]📎 {att.get('filename') or 'unnamed'} "
                    f"({att.get('content_type')}, {att.get('size')} bytes)[/]"
                )
