"""``postroom record add|edit|remove|import|list|show``: Name records and their timelines.

Calls ``services.records``, ``services.timeline`` and ``services.importing`` only, the same
use cases as the web app; past mail with a record's new addresses is linked by the services
(``edit --add-email`` as ``add`` does: docs/concepts.md, Matching). Nothing entered is stuck:
every value can be changed or taken off again with ``edit``, and a record removed (after a
confirmation) with ``remove``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from postroom.cli.runtime import console, make_table, open_runtime, printable, shown, user_errors
from postroom.domain.addresses import normalize_address
from postroom.domain.records import PersonDraft, PhoneEntry, normalize_phone, normalize_tag
from postroom.errors import Conflict, InputError
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
    location: Annotated[str | None, typer.Option(help="city or region")] = None,
    link: Annotated[
        list[str] | None, typer.Option("--link", help="repeatable (LinkedIn...)")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="repeatable")] = None,
    kind: Annotated[str, typer.Option(help="candidate or contact")] = "candidate",
    owner: Annotated[str | None, typer.Option(help="owner's user email")] = None,
    notes: Annotated[str | None, typer.Option(help="free text about the person")] = None,
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
    try:
        with runtime.sessions.begin() as session:
            result = records.create_record(
                session=session,
                draft=draft,
                on_duplicate=on_duplicate,  # type: ignore[arg-type]
                default_region=region,
            )
    except Conflict as exc:  # the service's advice is the web's too: name this command's option
        raise Conflict(
            str(exc.args[0]),
            advice="give --on-duplicate merge to merge into it, or --on-duplicate create "
            "for a separate record on purpose",
        ) from exc
    person_id, person_name = result.record.id, result.record.name
    if result.is_created:
        console.print(f"created record #{person_id} {shown(person_name)}")
    else:
        assert result.duplicate is not None
        what = ", ".join(result.changes) or "nothing new"
        console.print(
            f"merged into record #{person_id} {shown(person_name)} "
            f"({shown(result.duplicate.reason)}): {shown(what)}"
        )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {shown(warning)}")


@app.command("edit")
@user_errors
def edit(
    record_id: Annotated[int, typer.Argument(help="record id (see `postroom record list`)")],
    name: Annotated[str | None, typer.Option(help="full name")] = None,
    kind: Annotated[str | None, typer.Option(help="candidate or contact")] = None,
    company: Annotated[str | None, typer.Option(help='company name ("" clears it)')] = None,
    title: Annotated[str | None, typer.Option(help='job title ("" clears it)')] = None,
    location: Annotated[str | None, typer.Option(help='location ("" clears it)')] = None,
    notes: Annotated[str | None, typer.Option(help='notes ("" clears them)')] = None,
    add_email: Annotated[
        list[str] | None, typer.Option("--add-email", help="add an address (repeatable)")
    ] = None,
    remove_email: Annotated[
        list[str] | None, typer.Option("--remove-email", help="take an address off (repeatable)")
    ] = None,
    add_phone: Annotated[
        list[str] | None, typer.Option("--add-phone", help="add a phone number (repeatable)")
    ] = None,
    remove_phone: Annotated[
        list[str] | None, typer.Option("--remove-phone", help="take a number off (repeatable)")
    ] = None,
    add_tag: Annotated[
        list[str] | None, typer.Option("--add-tag", help="add a tag (repeatable)")
    ] = None,
    remove_tag: Annotated[
        list[str] | None, typer.Option("--remove-tag", help="take a tag off (repeatable)")
    ] = None,
    add_link: Annotated[
        list[str] | None, typer.Option("--add-link", help="add a link (repeatable)")
    ] = None,
    remove_link: Annotated[
        list[str] | None, typer.Option("--remove-link", help="take a link off (repeatable)")
    ] = None,
    region: Annotated[str | None, typer.Option(help="default phone region, e.g. GB, US")] = None,
) -> None:
    """Change a record: its fields, and its emails, phones, tags and links one by one. Past
    mail with an added address appears on its timeline."""
    changes = (name, kind, company, title, location, notes)
    lists = (add_email, remove_email, add_phone, remove_phone, add_tag, remove_tag)
    if all(v is None for v in (*changes, *lists, add_link, remove_link)):
        raise InputError(
            "nothing to change", advice="give what to change, e.g. --add-email (see --help)"
        )
    runtime = open_runtime()
    with runtime.sessions.begin() as session:
        r = records.get_record(session=session, record_id=record_id)
        emails = [e.address for e in sorted(r.emails, key=lambda e: not e.is_primary)]
        emails = _without(emails, remove_email, normalize_address, "email", r.id)
        phones = [PhoneEntry(p.number, p.label) for p in r.phones]
        for raw in remove_phone or ():
            number = normalize_phone(raw, region)
            kept = [p for p in phones if p.number != number]
            if number is None or len(kept) == len(phones):
                raise InputError(
                    f"record #{r.id} has no phone {raw.strip()!r}",
                    advice="see its numbers with `postroom record show`",
                )
            phones = kept
        tags = _without(list(r.tags), remove_tag, normalize_tag, "tag", r.id)
        links = _without(list(r.links), remove_link, str.strip, "link", r.id)
        draft = PersonDraft(
            name=r.name if name is None else name,
            kind=r.kind if kind is None else kind,
            emails=(*emails, *(add_email or ())),
            phones=(*phones, *(PhoneEntry(p) for p in add_phone or ())),
            company=_field(company, r.company.name if r.company else None),
            title=_field(title, r.title),
            location=_field(location, r.location),
            links=(*links, *(add_link or ())),
            tags=(*tags, *(add_tag or ())),
            notes=_field(notes, r.notes),
            owner_email=r.owner.email if r.owner else None,
        )
        after = records.update_record(
            session=session, record_id=r.id, draft=draft, default_region=region
        )
        warnings = records.never_collected(session=session, emails=add_email or ())
    console.print(
        f"updated record #{after.id} {shown(after.name)} "
        f"({_activities(after.activity_count)} on its timeline)"
    )
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {shown(warning)}")


def _activities(count: int) -> str:
    return f"{count} activity" if count == 1 else f"{count} activities"


def _field(value: str | None, current: str | None) -> str | None:
    """``None``: keep the current value; ``""``: clear it; else the new value."""
    if value is None:
        return current
    return value.strip() or None


def _without(
    values: list[str],
    remove: list[str] | None,
    key: Callable[[str], str | None],
    what: str,
    record_id: int,
) -> list[str]:
    """``values`` less each of ``remove``, compared by ``key``; a value to remove must be
    there (a typo is said, not ignored)."""
    for raw in remove or ():
        gone = key(raw)
        kept = [v for v in values if key(v) != gone]
        if gone is None or len(kept) == len(values):
            raise InputError(
                f"record #{record_id} has no {what} {raw.strip()!r}",
                advice="see its values with `postroom record show`",
            )
        values = kept
    return values


@app.command("remove")
@user_errors
def remove(
    record_id: Annotated[int, typer.Argument(help="record id (see `postroom record list`)")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
) -> None:
    """Remove a record and its timeline (the mail itself stays: add its address to another
    record to see it there)."""
    runtime = open_runtime()
    with runtime.read() as session:
        r = records.get_record(session=session, record_id=record_id)
    if not yes and not typer.confirm(
        f"Remove record #{r.id} {printable(r.name)} and the {_activities(r.activity_count)} "
        "on its timeline?",
        default=False,
    ):
        console.print("nothing removed")
        raise typer.Exit(code=1)
    with runtime.write() as session:
        gone = records.delete_record(session=session, record_id=record_id)
    console.print(f"removed record #{record_id} {shown(gone)}")


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
    verbose: Annotated[
        bool,
        typer.Option("--verbose", help="list every row, not only those that need attention"),
    ] = False,
) -> None:
    """Import records from CSV or vCard. Prints a summary and the rows that need attention
    (errors, skipped rows, values left out); --verbose lists every row."""
    if on_duplicate not in ("merge", "skip", "create"):
        raise InputError(f"--on-duplicate {on_duplicate!r}", advice="use merge, skip or create")
    if kind not in ("candidate", "contact"):
        raise InputError(f"--kind {kind!r}", advice="use candidate or contact")
    fmt = file_format or ("vcard" if file.suffix.lower() in (".vcf", ".vcard") else "csv")
    if fmt not in ("csv", "vcard"):
        raise InputError(f"--format {fmt!r}", advice="use csv or vcard")
    try:
        importing.check_file_size(file.stat().st_size)
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
    _print_import_report(report, file.name, verbose=verbose, region=region)
    if report.errors:
        raise typer.Exit(code=1)


ATTENTION_SHOWN = 20
"""Rows needing attention an import report lists without ``--verbose``."""


def _count(n: int, word: str) -> str:
    """``1 error``, ``2 errors``, ``5,000 lines``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _print_import_report(
    report: importing.ImportReport, filename: str, *, verbose: bool, region: str | None
) -> None:
    """A summary line, what was left out (counted by reason), then the rows that need
    attention (at most ``ATTENTION_SHOWN``), or every row when ``verbose``."""
    unit = report.unit
    rows = report.list_outcomes() if verbose else report.list_attention()
    listed = rows if verbose else rows[:ATTENTION_SHOWN]
    if listed:
        table = make_table(unit, "outcome", "record", "name", "what happened")
        styles = {"created": "green", "merged": "cyan", "skipped": "yellow", "error": "red"}
        for outcome, entry in listed:
            table.add_row(
                str(entry.source),
                f"[{styles[outcome]}]{outcome}[/]",
                f"#{entry.record_id}" if entry.record_id else "",
                shown(entry.name),
                shown(entry.message),
            )
        console.print(table)
    if len(listed) < len(rows):
        console.print(
            f"[dim]{len(listed)} of {_count(len(rows), unit)} that need attention shown "
            "(--verbose lists every row)[/]"
        )
    console.print(
        f"[bold]{shown(filename)}: {_count(report.total, unit)}:[/] "
        f"{len(report.created):,} created, {len(report.merged):,} merged, "
        f"{len(report.skipped):,} skipped, {_count(len(report.errors), 'error')}"
    )
    for field, reason, n in report.count_left_out():
        console.print(f"[yellow]{field} left out on {_count(n, unit)}:[/] {shown(reason)}")
        if field == "phone" and "country code" in reason and region is None:
            console.print("[dim]  --region GB (or US...) reads numbers without a country code[/]")
    if report.ignored_fields:
        console.print(f"[dim]not imported: {shown(', '.join(report.ignored_fields))}[/]")


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
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="records to show")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="records to skip first")] = 0,
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
    console.print(_record_table(rows) if rows else _no_records(search, tag, kind))
    if total > offset + len(rows):
        console.print(f"[dim]{len(rows)} of {total} records (--offset for more)[/]")


WIDE = 120
"""From this console width on, ``record list`` also shows kind, phone and tags."""


def _local(value: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``value`` in this machine's time zone (``TZ``), labelled: ``2025-03-03 11:00 CET``."""
    local = value.astimezone()
    return f"{local.strftime(fmt)} {local.tzname() or ''}".rstrip()


def _record_table(rows: list[records.RecordRow]) -> Table:
    """The records as a table that fits the console: at 80 columns id, name, company,
    email, last contact (a local date) and the number of activities; kind, phone and tags
    too from ``WIDE`` columns on."""
    wide = console.width >= WIDE
    extra = ("kind", "phone", "tags") if wide else ()
    table = make_table("id", "name", *extra, "company", "email", "last contact", "activities")
    table.box = box.SIMPLE_HEAD
    table.show_edge = False
    for column in table.columns:
        if str(column.header) in ("id", "last contact", "activities"):
            column.no_wrap = True
            column.justify = "right" if column.header != "last contact" else "left"
    for r in rows:
        more = (r.kind, r.phone or "", ", ".join(r.tags)) if wide else ()
        table.add_row(
            str(r.id),
            shown(r.name),
            *map(shown, more),
            shown(r.company.name) if r.company else "",
            shown(r.primary_email or ""),
            r.last_contact_at.astimezone().strftime("%Y-%m-%d") if r.last_contact_at else "never",
            f"{r.activity_count:,}",
        )
    return table


def _no_records(search: str | None, tag: str | None, kind: str | None) -> str:
    if search or tag or kind:
        return "no records match (try fewer words, or no --tag/--kind)"
    return (
        "no records yet: add one with `postroom record add NAME` or `postroom record import FILE`"
    )


def _boxes(boxes: tuple[Mailbox, ...]) -> str:
    return ", ".join(f"{b.name} <{b.address}>" if b.name else b.address for b in boxes)


def _line(text: str, *, style: str | None = None) -> None:
    """One line of text from outside (mail, the record's fields), shown as it is."""
    console.print(shown(text), style=style)


@app.command("show")
@user_errors
def show(
    record_id: Annotated[int, typer.Argument(help="record id")],
    limit: Annotated[
        int, typer.Option(min=1, max=timeline.MAX_PER_PAGE, help="activities to show")
    ] = 50,
    full: Annotated[bool, typer.Option("--full", help="whole text, not just the new part")] = False,
) -> None:
    """A record and its activity timeline, newest first: who wrote to whom, which address a
    bounce failed, times in this machine's time zone (set TZ to change it)."""
    runtime = open_runtime()
    with runtime.sessions() as session:
        r = records.get_record(session=session, record_id=record_id)
        page = timeline.get_timeline(session=session, record_id=record_id, per_page=limit)
    console.print(f"[bold]#{r.id} {shown(r.name)}[/] ({r.kind})")
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
            _line(f"  {label:9} {value}")
    console.print(f"\n[bold]Activities[/] ({page.total})")
    for a in page.entries:
        when = _local(a.occurred_at) if a.occurred_at else "undated"
        arrow = "→ sent" if a.is_sent else "← received"
        kind = " [red]BOUNCE[/]" if a.is_bounce else ""
        gone = " [yellow](gone from the server)[/]" if a.is_gone_from_server else ""
        console.print(
            f"[cyan]{when}[/] {arrow}{kind}{gone}  [bold]{shown(a.subject or '(no subject)')}[/]"
        )
        for label, boxes in (("From", a.from_), ("To", a.to), ("Cc", a.cc)):
            if boxes:
                _line(f"    {label}: {_boxes(boxes)}", style="dim")
        if a.bounce_address:
            _line(f"    failed: {a.bounce_address}")
        if a.detail:
            _line(f"    {a.detail}")
        if a.body_state == "present":
            text = (a.text if full else a.new_text) or ""
            for line in text.strip().splitlines()[: None if full else 6]:
                _line(f"    {line}")
        elif a.body_state == "pending":
            console.print("    [dim](text not fetched yet)[/]")
        else:
            console.print("    [dim](text hidden by the account's privacy setting)[/]")
        for att in a.attachments:
            size = f", {att.size} bytes" if att.size is not None else ""
            _line(f"    📎 {att.filename} ({att.content_type}{size})", style="dim")
