import re

import pytest
from sqlalchemy import func, select

from postroom.domain.records import PersonDraft, PhoneEntry
from postroom.errors import InputError
from postroom.services import records
from postroom.services.importing import (
    MAX_CARD_SIZE,
    MAX_FILE_SIZE,
    MAX_ROW_LINES,
    ImportEntry,
    ImportReport,
    LeftOut,
    check_file_size,
    import_csv,
    import_vcard,
    parse_csv_records,
    parse_vcard_records,
)
from postroom.store import records as store
from postroom.store.models import Person, PersonKind


class HookCalls:
    def __init__(self):
        self.calls = []

    def __call__(self, session, person_id, address_keys):
        self.calls.append((person_id, address_keys))


def _csv(*lines, delimiter=",", newline="\r\n"):
    return newline.join(lines).replace(",", delimiter) + newline


def _person(session_factory, person_id):
    with session_factory() as session:
        return store.get_person_or_raise(session=session, person_id=person_id)


def _count(session_factory):
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(Person))


# --- CSV --------------------------------------------------------------------------------

MESSY = (
    "\ufeff Full Name ;E-Mail;E-mail 2;Mobile Phone;Work phone;Organisation;Job Title;Title;"
    "City;LinkedIn URL;Tags;Notes;Birthday;Type\r\n"
    "Anna Berg;anna@acme.example;;+44 20 7946 0958;;Acme;Head of Sales;Ms;London;"
    "https://linkedin.com/in/anna;Python, Remote;met at a fair;1990-01-01;candidate\r\n"
    "A. Berg;ANNA@acme.example;anna@home.example;;;;;;;;remote;;;\r\n"
    "Carla D;carla@GLOBEX.example;;;;;CTO;;;;;;;\r\n"
    ";;;;;;;;;;;;;\r\n"
    "anna  berg;;;;;ACME;;;;;;;;\r\n"
    "Bob;bob@;;12345;;;;;;;;;;\r\n"
    'Eve Fox;eve@fox.example, eve@home.example;;;020 7946 0000;;;;;;;"two\r\nlines";;\r\n'
    "Gus;gus@x.example;;;;;;;;;;;;;surplus\r\n"
    "Hal Ito;hal@client.example;;;;Initech;;;;;;;;Client\r\n"
)


def test_csv_with_messy_headers_and_duplicates_in_the_db_and_the_file(session_factory):
    hook = HookCalls()
    with session_factory.begin() as session:
        carla = records.add_person(
            session=session, draft=PersonDraft("Carla Diaz", emails=("carla@globex.example",))
        ).person
    with session_factory.begin() as session:
        report = import_csv(
            session=session,
            data=MESSY.encode("utf-8"),
            default_region="GB",
            on_addresses_added=hook,
        )
    assert report == ImportReport(
        unit="line",
        created=[
            ImportEntry(2, "Anna Berg", 2),
            ImportEntry(
                7,
                "Bob",
                3,
                left_out=(
                    LeftOut("email", "bob@", "not an address"),
                    LeftOut("phone", "12345", "not a valid number"),
                ),
            ),
            ImportEntry(8, "Eve Fox", 4),
            ImportEntry(11, "Hal Ito", 5),
        ],
        merged=[
            ImportEntry(
                3,
                "A. Berg",
                2,
                "same email anna@acme.example as line 2: added email anna@home.example",
            ),
            ImportEntry(
                4,
                "Carla D",
                carla.id,
                "same email carla@globex.example as record #1 (Carla Diaz): added title",
            ),
            ImportEntry(
                6, "anna berg", 2, "same name and company anna berg at ACME as line 2: nothing new"
            ),
        ],
        skipped=[ImportEntry(5, "", None, "empty row")],
        errors=[
            ImportEntry(10, "Gus", None, "the row has 15 fields but the header has 14"),
        ],
        ignored_fields=["Title", "Birthday"],
    )
    assert [o[1].source for o in report.list_outcomes()] == [2, 3, 4, 5, 6, 7, 8, 10, 11]
    assert report.total == 9

    anna = _person(session_factory, 2)
    assert [(e.address_key, e.is_primary) for e in anna.emails] == [
        ("anna@acme.example", True),
        ("anna@home.example", False),
    ]
    assert [(p.number, p.label) for p in anna.phones] == [("+442079460958", "mobile")]
    assert anna.company is not None
    assert anna.company.name == "Acme"
    assert (anna.title, anna.location, anna.notes) == ("Head of Sales", "London", "met at a fair")
    assert anna.links == ["https://linkedin.com/in/anna"]
    assert [t.tag for t in anna.tags] == ["python", "remote"]
    bob = _person(session_factory, 3)
    assert (bob.name, bob.emails, bob.phones) == ("Bob", [], [])
    eve = _person(session_factory, 4)
    assert [e.address_key for e in eve.emails] == ["eve@fox.example", "eve@home.example"]
    assert [(p.number, p.label) for p in eve.phones] == [("+442079460000", "work")]
    assert eve.notes == "two\r\nlines"
    assert _person(session_factory, 5).kind is PersonKind.CONTACT
    assert _person(session_factory, carla.id).title == "CTO"
    assert hook.calls == [
        (2, ["anna@acme.example"]),
        (2, ["anna@home.example"]),
        (4, ["eve@fox.example", "eve@home.example"]),
        (5, ["hal@client.example"]),
    ]
    assert _count(session_factory) == 5


def test_skip_policy_skips_duplicates_with_the_reason(session_factory):
    with session_factory.begin() as session:
        records.add_person(session=session, draft=PersonDraft("Old", emails=("old@x.example",)))
        report = import_csv(
            session=session,
            data=_csv(
                "name,email",
                "New,new@x.example",
                "Again,NEW@x.example",
                "Old Again,old@x.example",
            ).encode(),
            policy="skip",
        )
    assert report.created == [ImportEntry(2, "New", 2)]
    assert report.skipped == [
        ImportEntry(3, "Again", 2, "same email new@x.example as line 2"),
        ImportEntry(4, "Old Again", 1, "same email old@x.example as record #1 (Old)"),
    ]
    assert (report.merged, report.errors) == ([], [])
    assert _person(session_factory, 2).name == "New"
    assert _count(session_factory) == 2


def test_create_policy_creates_duplicates_and_says_so(session_factory):
    with session_factory.begin() as session:
        report = import_csv(
            session=session,
            data=_csv("name,email", "New,new@x.example", "Again,new@x.example").encode(),
            policy="create",
        )
    assert report.created == [
        ImportEntry(2, "New", 1),
        ImportEntry(3, "Again", 2, "created anyway: same email new@x.example as line 2"),
    ]
    assert _count(session_factory) == 2


def test_cp1252_file_with_first_and_last_name_columns(session_factory):
    data = _csv(
        "First Name,Middle Name,Last Name,E-mail 1 - Type,E-mail 1 - Value,Company",
        "José,María,Núñez,Work,jose@acme.example,Café Ltd",
    ).encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    with session_factory.begin() as session:
        report = import_csv(session=session, data=data)
    assert report.created == [ImportEntry(2, "José María Núñez", 1)]
    assert report.ignored_fields == ["E-mail 1 - Type"]
    person = _person(session_factory, 1)
    assert person.company is not None
    assert (person.name, person.company.name) == ("José María Núñez", "Café Ltd")
    assert [e.address for e in person.emails] == ["jose@acme.example"]


def test_utf16_tab_separated_file_from_excel(session_factory):
    data = _csv("Name\tEmail\tPhone", "Zoë\tzoe@x.example\t+1 202 555 0143", delimiter="\t")
    with session_factory.begin() as session:
        report = import_csv(session=session, data=data.encode("utf-16"))
    assert report.created == [ImportEntry(2, "Zoë", 1)]
    assert [p.number for p in _person(session_factory, 1).phones] == ["+12025550143"]


def test_comma_inside_quotes_does_not_fool_the_delimiter_sniffer():
    data = _csv("Name,Emails", 'Ann,"a@x.example; b@x.example"', 'Bo,"Bo <bo@x.example>"')
    parsed = parse_csv_records(data.encode())
    assert [r.draft.emails for r in parsed.records if r.draft] == [
        ("a@x.example", "b@x.example"),
        ("bo@x.example",),
    ]


def test_outlook_export_headers():
    data = _csv(
        "First Name,Last Name,Company,Job Title,Title,Business Phone,Home Phone,Mobile Phone,"
        "Business Fax,E-mail Address,E-mail 2 Address,Business City,Web Page,Categories,Notes",
        "Ann,Lee,Acme,CTO,Dr,+1 202 555 0143,+1 202 555 0144,+1 202 555 0145,+1 202 555 0146,"
        "ann@acme.example,ann@home.example,Austin,https://ann.example,Tech;VIP,Likes tea",
    )
    parsed = parse_csv_records(data.encode())
    assert parsed.ignored_fields == ("Title", "Business Fax")
    assert parsed.records[0].draft == PersonDraft(
        name="Ann Lee",
        emails=("ann@acme.example", "ann@home.example"),
        phones=(
            PhoneEntry("+1 202 555 0143", "work"),
            PhoneEntry("+1 202 555 0144", "home"),
            PhoneEntry("+1 202 555 0145", "mobile"),
        ),
        company="Acme",
        title="CTO",
        location="Austin",
        links=("https://ann.example",),
        tags=("Tech", "VIP"),
        notes="Likes tea",
    )


def test_google_contacts_export_headers():
    data = _csv(
        "Name,Given Name,Family Name,Group Membership,E-mail 1 - Type,E-mail 1 - Value,"
        "Phone 1 - Type,Phone 1 - Value,Organization 1 - Name,Organization 1 - Title",
        "Bo Ek,Bo,Ek,* myContacts,Work,bo@x.example,Mobile,+46 8 123 456 78,Volvo,Engineer",
    )
    parsed = parse_csv_records(data.encode(), default_kind="contact")
    assert parsed.ignored_fields == ("Group Membership", "E-mail 1 - Type", "Phone 1 - Type")
    assert parsed.records[0].draft == PersonDraft(
        name="Bo Ek",
        kind="contact",
        emails=("bo@x.example",),
        phones=(PhoneEntry("+46 8 123 456 78"),),
        company="Volvo",
        title="Engineer",
    )


def test_header_words_are_matched_whole():
    parsed = parse_csv_records(
        b"Name,Office Mail Room,E-Mail,Emails\nAnn,x,a@x.example,b@x.example\n"
    )
    assert parsed.ignored_fields == ("Office Mail Room",)
    assert parsed.records[0].draft == PersonDraft("Ann", emails=("a@x.example", "b@x.example"))


def test_single_column_file_falls_back_to_comma():
    parsed = parse_csv_records(b"Name\nAnn\nBo\n")
    assert [(r.source, r.name) for r in parsed.records] == [(2, "Ann"), (3, "Bo")]


def test_blank_trailing_lines_are_reported_as_empty_rows():
    parsed = parse_csv_records(b"Name\nAnn\n\n")
    assert [(r.source, r.skip_reason) for r in parsed.records] == [(2, None), (3, "empty row")]


def test_files_that_cannot_be_imported_at_all():
    with pytest.raises(InputError, match="the file is empty"):
        parse_csv_records(b"")
    with pytest.raises(InputError, match="the file is empty"):
        parse_csv_records(b"\xef\xbb\xbf\r\n")
    with pytest.raises(InputError, match=re.escape("no name column (its columns: Email, Phone)")):
        parse_csv_records(b"Email,Phone\na@x.example,1\n")
    with pytest.raises(InputError, match="neither UTF-8 nor Windows-1252"):
        parse_csv_records(b"Name\n\x81\x8d\x8f\n")


def test_unknown_owner_and_over_long_values_are_left_out_and_the_rest_imported(
    session_factory,
):
    with session_factory.begin() as session:
        store.find_or_create_user(session=session, email="rec@firm.example")
        report = import_csv(
            session=session,
            data=_csv(
                "name,owner,title,email",
                "Ann,rec@firm.example,,ann@x.example",
                "Bo,ghost@firm.example,,bo@x.example",
                f"Cy,,{'x' * 301},cy@x.example",
                "Di,ghost@firm.example,CTO,",
            ).encode(),
        )
    assert report.created == [
        ImportEntry(2, "Ann", 1),
        ImportEntry(
            3, "Bo", 2, left_out=(LeftOut("owner", "ghost@firm.example", "not a Postroom user"),)
        ),
        ImportEntry(
            4, "Cy", 3, left_out=(LeftOut("title", "x" * 301, "longer than 300 characters"),)
        ),
        ImportEntry(
            5, "Di", 4, left_out=(LeftOut("owner", "ghost@firm.example", "not a Postroom user"),)
        ),
    ]
    assert report.errors == []
    assert report.created[2].message == f"title '{'x' * 39}…' left out: longer than 300 characters"
    assert report.count_left_out() == [
        ("owner", "not a Postroom user", 2),
        ("title", "longer than 300 characters", 1),
    ]
    assert report.left_out_count == 3
    assert _person(session_factory, 1).owner is not None
    bo = _person(session_factory, 2)
    assert (bo.owner, [e.address_key for e in bo.emails]) == (None, ["bo@x.example"])
    cy = _person(session_factory, 3)
    assert (cy.title, [e.address_key for e in cy.emails]) == (None, ["cy@x.example"])
    assert _person(session_factory, 4).title == "CTO"


def test_a_big_file_whose_phones_have_no_country_code_is_imported_without_them(
    session_factory,
):
    """The defect of issue 12: 5,000 rows, one phone format without a country code, gave 0
    created and 5,000 errors. Now every row is created, each saying its phone was left out."""
    rows = [f"Person {n},p{n}@x.example,020 7946 {n % 10000:04d},Acme" for n in range(5000)]
    with session_factory.begin() as session:
        report = import_csv(session=session, data=_csv("name,email,phone,company", *rows).encode())
    assert (len(report.created), len(report.errors), report.left_out_count) == (5000, 0, 5000)
    reason = "has no country code (write it with + or give a default region)"
    assert report.count_left_out() == [("phone", reason, 5000)]
    assert report.created[0].message == f"phone '020 7946 0000' left out: {reason}"
    assert len(report.list_attention()) == 5000
    assert _count(session_factory) == 5000
    person = _person(session_factory, 1)
    assert (person.name, [e.address_key for e in person.emails]) == (
        "Person 0",
        ["p0@x.example"],
    )
    assert person.phones == []


def test_a_row_that_cannot_be_a_record_is_still_an_error_with_every_problem(session_factory):
    with session_factory.begin() as session:
        report = import_csv(
            session=session,
            data=_csv("first name,last name,phone,type", ",,12345,", "Al,,,lead").encode(),
        )
    assert report.created == []
    assert report.errors == [
        ImportEntry(
            2,
            "",
            None,
            "name is empty; phone '12345' has no country code "
            "(write it with + or give a default region)",
        ),
        ImportEntry(3, "Al", None, "kind 'lead' is not candidate or contact"),
    ]
    assert report.list_attention() == [("error", e) for e in report.errors]


def test_the_rows_that_need_attention_list_errors_first(session_factory):
    with session_factory.begin() as session:
        report = import_csv(
            session=session,
            data=_csv(
                "name,email", "Ann,ann@", "Bo,bo@x.example", ",", "Cy,cy@x.example", ",x@y.example"
            ).encode(),
        )
    assert [(outcome, e.source) for outcome, e in report.list_attention()] == [
        ("error", 6),
        ("skipped", 4),
        ("created", 2),
    ]


def test_a_merged_row_reports_the_values_left_out_with_what_it_added(session_factory):
    with session_factory.begin() as session:
        records.add_person(session=session, draft=PersonDraft("Ann", emails=("ann@x.example",)))
        report = import_csv(
            session=session,
            data=_csv(
                "name,email,phone,tags", "Ann B,ann@x.example; ann@,+44 20 7946 0958,remote"
            ).encode(),
        )
    [entry] = report.merged
    assert entry.left_out == (LeftOut("email", "ann@", "not an address"),)
    assert entry.message == (
        "same email ann@x.example as record #1 (Ann): added phone +442079460958, tag remote"
        "; email 'ann@' left out: not an address"
    )
    assert report.list_attention() == [("merged", entry)]


def test_a_row_that_fails_while_stored_is_rolled_back_alone(session_factory):
    def refuse_bo(session, person_id, address_keys):
        if address_keys == ["bo@x.example"]:
            raise InputError("linking past mail failed")

    with session_factory.begin() as session:
        report = import_csv(
            session=session,
            data=_csv(
                "name,email,company",
                "Ann,ann@x.example,Acme",
                "Bo,bo@x.example,Bo Corp",
                "Cy,cy@x.example,Acme",
            ).encode(),
            on_addresses_added=refuse_bo,
        )
    assert [e.name for e in report.created] == ["Ann", "Cy"]
    assert report.errors == [ImportEntry(3, "Bo", None, "linking past mail failed")]
    with session_factory() as session:
        assert [p.name for p in store.list_persons(session=session)] == ["Ann", "Cy"]
        assert store.get_company_by_name(session=session, name="Bo Corp") is None


def test_an_import_the_caller_rolls_back_leaves_nothing(session_factory):
    with session_factory() as session:
        import_csv(session=session, data=_csv("name", "Ann", "Bo").encode())
        session.rollback()
    assert _count(session_factory) == 0


# --- vCard -------------------------------------------------------------------------------

VCARD3 = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "FN:Anna Berg\r\n"
    "N:Berg;Anna;;;\r\n"
    "EMAIL;TYPE=INTERNET:anna@home.example\r\n"
    "EMAIL;TYPE=INTERNET,PREF:anna@acme.example\r\n"
    "TEL;TYPE=CELL:+44 7911 123456\r\n"
    "TEL;TYPE=WORK,VOICE:+44 20 7946 0958\r\n"
    "ORG:Acme Ltd;Sales\r\n"
    "TITLE:Head of Sales\r\n"
    "ADR;TYPE=WORK:;;1 Main St;London;;EC1A 1BB;United Kingdom\r\n"
    "URL:https://www.linkedin.com/in/anna-berg-0123456789-abcdefghij-very-long-profile-na\r\n"
    " me\r\n"
    "NOTE:Met at the fair\\, keen on\r\n"
    "  remote work.\r\n"
    "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Prefers caf=C3=A9 meetings\r\n"
    "CATEGORIES:Python,Remote\r\n"
    "BDAY:1990-01-01\r\n"
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "FN:Broken Card\r\n"
    "this line has no colon\r\n"
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "FN:Bob Stone\r\n"
    "EMAIL:bob@globex.example\r\n"
    "ORG:Globex\r\n"
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "FN:A. Berg\r\n"
    "EMAIL:ANNA@acme.example\r\n"
    "TEL:+1 202 555 0143\r\n"
    "END:VCARD\r\n"
)


def test_vcard3_file_with_several_cards_folded_lines_and_a_broken_card(session_factory):
    hook = HookCalls()
    with session_factory.begin() as session:
        report = import_vcard(session=session, data=VCARD3.encode(), on_addresses_added=hook)
    assert report == ImportReport(
        unit="card",
        created=[ImportEntry(1, "Anna Berg", 1), ImportEntry(3, "Bob Stone", 2)],
        merged=[
            ImportEntry(
                4, "A. Berg", 1, "same email anna@acme.example as card 1: added phone +12025550143"
            )
        ],
        errors=[
            ImportEntry(
                2,
                "Broken Card",
                None,
                "unreadable card at line 20: Failed to parse line: this line has no colon",
            )
        ],
        ignored_fields=["BDAY"],
    )
    anna = _person(session_factory, 1)
    assert [(e.address, e.is_primary) for e in anna.emails] == [
        ("anna@acme.example", True),
        ("anna@home.example", False),
    ]
    assert [(p.number, p.label) for p in anna.phones] == [
        ("+447911123456", "mobile"),
        ("+442079460958", "work"),
        ("+12025550143", None),
    ]
    assert anna.company is not None
    assert (anna.company.name, anna.title) == ("Acme Ltd", "Head of Sales")
    assert anna.location == "London, United Kingdom"
    assert anna.links == [
        "https://www.linkedin.com/in/anna-berg-0123456789-abcdefghij-very-long-profile-name"
    ]
    assert anna.notes == "Met at the fair, keen on remote work.\n\nPrefers café meetings"
    assert [t.tag for t in anna.tags] == ["python", "remote"]
    assert hook.calls == [
        (1, ["anna@acme.example", "anna@home.example"]),
        (2, ["bob@globex.example"]),
    ]


VCARD4 = (
    "BEGIN:VCARD\n"
    "VERSION:4.0\n"
    "N:Smith;Bob;J.;Dr.;\n"
    "EMAIL;TYPE=home:bob@home.example\n"
    "EMAIL;TYPE=work;PREF=1:bob@acme.example\n"
    'TEL;VALUE=uri;TYPE="voice,cell";PREF=1:tel:+1-202-555-0143;ext=55\n'
    "X-SOCIALPROFILE;TYPE=linkedin:https://linkedin.com/in/bob\n"
    "KIND:individual\n"
    "END:VCARD\n"
    "BEGIN:VCARD\n"
    "VERSION:4.0\n"
    "ORG:Nameless Inc.\n"
    "EMAIL:info@nameless.example\n"
    "END:VCARD\n"
    "BEGIN:VCARD\n"
    "VERSION:4.0\n"
    "FN:Robert Smith\n"
    "EMAIL:BOB@ACME.example\n"
    "CATEGORIES:go\n"
    "CATEGORIES:rust,go\n"
    "END:VCARD\n"
)


def test_vcard4_file_with_pref_uri_phone_and_an_in_file_duplicate(session_factory):
    with session_factory.begin() as session:
        report = import_vcard(
            session=session, data=VCARD4.encode(), policy="skip", default_kind="contact"
        )
    assert report == ImportReport(
        unit="card",
        created=[ImportEntry(1, "Bob J. Smith", 1)],
        skipped=[ImportEntry(3, "Robert Smith", 1, "same email bob@acme.example as card 1")],
        errors=[ImportEntry(2, "", None, "name is empty")],
    )
    bob = _person(session_factory, 1)
    assert bob.kind is PersonKind.CONTACT
    assert [e.address for e in bob.emails] == ["bob@acme.example", "bob@home.example"]
    assert [(p.number, p.label) for p in bob.phones] == [("+12025550143", "mobile")]
    assert bob.links == ["https://linkedin.com/in/bob"]


def test_vcard21_quoted_printable_names(session_factory):
    data = (
        "BEGIN:VCARD\r\n"
        "VERSION:2.1\r\n"
        "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;\r\n"
        "TEL;CELL;PREF:+49 151 23456789\r\n"
        "EMAIL;PREF;INTERNET:j@x.example\r\n"
        "END:VCARD\r\n"
    )
    with session_factory.begin() as session:
        report = import_vcard(session=session, data=data.encode("ascii"))
    assert report.created == [ImportEntry(1, "Jürgen Müller", 1)]
    assert [(p.number, p.label) for p in _person(session_factory, 1).phones] == [
        ("+4915123456789", "mobile")
    ]


def test_vcard_framing_errors_are_reported_and_do_not_stop_the_rest(session_factory):
    data = (
        "garbage before\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Ann\nEND:VCARD\n"
        "VERSION:3.0\nFN:Lost Begin\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Bo\nEND:VCARD\n"
        "\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Cut Short\n"
    )
    with session_factory.begin() as session:
        report = import_vcard(session=session, data=data.encode())
    assert [(o, e.source, e.name, e.reason) for o, e in report.list_outcomes()] == [
        ("error", 1, "", "text outside any BEGIN:VCARD ... END:VCARD at line 1"),
        ("created", 2, "Ann", None),
        ("error", 3, "Lost Begin", "END:VCARD without BEGIN:VCARD at line 6"),
        ("created", 4, "Bo", None),
        ("error", 5, "Cut Short", "the card at line 14 has no END:VCARD"),
    ]


def test_a_file_without_cards_is_refused(session_factory):
    with session_factory() as session, pytest.raises(InputError, match="no vCard"):
        import_vcard(session=session, data=b"\n\n")


def test_a_word_for_a_phone_and_a_bad_vcard_tel_are_left_out(session_factory):
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cara Vee\r\nEMAIL:cara@v.example\r\n"
        "TEL;TYPE=CELL:call me\r\nTEL;TYPE=WORK:+44 20 7946 0958\r\nEND:VCARD\r\n"
    )
    with session_factory.begin() as session:
        cards = import_vcard(session=session, data=card.encode())
        rows = import_csv(
            session=session, data=_csv("name,phone", "Dan,hello", "Eve,+44 20 7946 0959").encode()
        )
    not_a_number = "not a phone number (write it in digits, e.g. +44 20 7946 0958)"
    assert cards.created == [
        ImportEntry(1, "Cara Vee", 1, left_out=(LeftOut("phone", "call me", not_a_number),))
    ]
    assert rows.created[0].message == f"phone 'hello' left out: {not_a_number}"
    assert rows.created[1].left_out == ()
    cara = _person(session_factory, 1)
    assert [(p.number, p.label) for p in cara.phones] == [("+442079460958", "work")]
    assert [e.address_key for e in cara.emails] == ["cara@v.example"]


# --- hostile files (issue 11, item 8) ----------------------------------------------------


def _card(name, *lines):
    return "".join(
        f"{line}\r\n" for line in ("BEGIN:VCARD", "VERSION:3.0", f"FN:{name}", *lines, "END:VCARD")
    )


def test_pictures_are_dropped_before_parsing_so_a_huge_photo_costs_no_memory():
    """A 30 MB PHOTO line took 4.6 GB in vobject; the photo is never imported anyway."""
    import tracemalloc

    photo = "PHOTO;ENCODING=b;TYPE=JPEG:" + "QUJD" * 2**20  # 4 MB of base64
    folded = "item1.LOGO;ENCODING=b:QUJD\r\n QUJDQUJD\r\n QUJD"
    bare = "SOUND;ENCODING=BASE64:\r\nQUJDQUJD\r\nQUJD\r\n"  # vCard 2.1: bare base64 lines
    data = (
        _card("Ann", "EMAIL:ann@x.example", photo, folded, "TEL:+44 20 7946 0958")
        + _card("Bo", bare + "EMAIL:bo@x.example")
    ).encode()

    tracemalloc.start()
    try:
        parsed = parse_vcard_records(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert [(r.name, r.error, r.draft.emails) for r in parsed.records] == [
        ("Ann", None, ("ann@x.example",)),
        ("Bo", None, ("bo@x.example",)),
    ]
    assert parsed.records[0].draft.phones == (PhoneEntry("+44 20 7946 0958"),)
    assert {"PHOTO", "LOGO", "SOUND"} <= set(parsed.ignored_fields)
    assert peak < 8 * len(data)


def test_a_broken_or_hostile_card_is_one_error_and_the_cards_around_it_are_imported(
    session_factory,
):
    nested = "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Deep\r\nAGENT:\r\n" * 5000 + "END:VCARD\r\n" * 5000
    huge_note = _card("Big", "NOTE:" + "x" * (MAX_CARD_SIZE + 1))
    data = (
        _card("Ann", "EMAIL:ann@x.example")
        + nested
        + _card("Bo", "EMAIL:bo@x.example")
        + "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No End\r\n"  # its END:VCARD is missing
        + _card("Cy", "EMAIL:cy@x.example")
        + huge_note
        + _card("Di", "EMAIL:di@x.example")
    )
    with session_factory.begin() as session:
        report = import_vcard(session=session, data=data.encode())

    assert [(o, e.source, e.name, e.reason) for o, e in report.list_outcomes()] == [
        ("created", 1, "Ann", None),
        (
            "error",
            2,
            "Deep",
            "the card at line 6 holds cards nested 5000 deep (at most 2): not read",
        ),
        ("created", 3, "Bo", None),
        ("error", 4, "No End", "the card at line 25011 has no END:VCARD"),
        ("created", 5, "Cy", None),
        (
            "error",
            6,
            "Big",
            "the card at line 25019 is 1.0 MB without its pictures (at most 1 MB): not read",
        ),
        ("created", 7, "Di", None),
    ]


def test_an_unclosed_quote_no_longer_swallows_the_rows_after_it(session_factory):
    """Every line is accounted for: the row with the unclosed quote is an error naming its
    line, and each line after it is read as a row of its own."""
    rows = [f"P{i},p{i}@x.example" for i in range(3000)]
    data = _csv("Name,Email", "Anna,anna@x.example", 'Bo,"bo@x.example', *rows)
    with session_factory.begin() as session:
        report = import_csv(session=session, data=data.encode())

    assert len(report.created) == 3001
    [error] = report.errors
    assert (error.source, error.name) == (3, "Bo")
    assert error.reason.startswith(
        f"a quoted field that starts on line 3 runs on past {MAX_ROW_LINES} lines or 64 KB "
        "(an unclosed quote?): the line is left out, and the lines after it are read as rows"
    )
    assert sorted(e.source for _, e in report.list_outcomes()) == list(range(2, 3004))


def test_an_unclosed_quote_in_the_last_rows_is_found_at_the_end_of_the_file():
    data = _csv("Name,Email", "Anna,anna@x.example", 'Bo,"bo@x.example', "Cy,cy@x.example")

    parsed = parse_csv_records(data.encode())

    assert [(r.source, r.name, r.error) for r in parsed.records] == [
        (2, "Anna", None),
        (
            3,
            "Bo",
            "a quoted field that starts on line 3 runs on to the end of the file (an unclosed "
            "quote?): the line is left out, and the lines after it are read as rows",
        ),
        (4, "Cy", None),
    ]


def test_a_quoted_field_running_on_past_the_row_limit_is_an_unclosed_quote():
    rows = [f"P{i},p{i}@x.example" for i in range(MAX_ROW_LINES + 50)]
    data = _csv("Name,Email,Notes", 'Bo,bo@x.example,"oops', *rows, 'Cy,cy@x.example,"closed"')
    notes = _csv("Name,Email,Notes", 'Di,di@x.example,"line one', "line two", 'line three"')

    parsed = parse_csv_records(data.encode())
    fine = parse_csv_records(notes.encode())

    first = parsed.records[0]
    assert (first.source, first.draft) == (2, None)
    assert f"runs on past {MAX_ROW_LINES} lines" in first.error
    assert [r.source for r in parsed.records] == list(range(2, len(rows) + 4))
    assert parsed.records[-1].draft.emails == ("cy@x.example",)
    [di] = fine.records
    assert di.draft.notes == "line one\r\nline two\r\nline three"


def test_a_file_over_the_size_limit_is_refused_before_parsing():
    with pytest.raises(InputError, match=r"the file is 64\.0 MB; at most 64 MB is imported"):
        check_file_size(MAX_FILE_SIZE + 1)
    check_file_size(MAX_FILE_SIZE)
