import pytest

from postroom.domain.records import (
    CheckedDraft,
    DraftError,
    DuplicateMatch,
    EmailValue,
    ExistingRecord,
    MatchRule,
    PersonDraft,
    PhoneEntry,
    PhoneValue,
    check_draft,
    check_email,
    find_duplicate,
    normalize_name_key,
    normalize_phone,
    parse_kind,
)


def test_name_key_folds_case_width_and_space_but_keeps_accents():
    assert normalize_name_key("  Anna\u00a0 BERG\t") == "anna berg"
    assert normalize_name_key("Straße") == "strasse"
    assert normalize_name_key("ＡＣＭＥ") == "acme"  # full-width letters (NFKC)
    assert normalize_name_key("José Núñez") != normalize_name_key("Jose Nunez")


def test_phone_numbers_become_e164():
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalize_phone("0044 20 7946 0958", "gb") == "+442079460958"
    assert normalize_phone("(202) 555-0143", "US") == "+12025550143"


def test_phone_extensions_are_dropped():
    assert normalize_phone("+1-202-555-0143 ext. 55") == "+12025550143"


def test_phone_without_country_code_or_region_is_refused():
    assert normalize_phone("020 7946 0958") is None


def test_invalid_phone_numbers_are_refused():
    for raw in ["", "12345", "not a number", "+44 7700 900123", "+1 000 000 0000"]:
        assert normalize_phone(raw, "GB") is None, raw


def test_kind_words():
    assert parse_kind(" Candidate ") == "candidate"
    assert parse_kind("Client") == "contact"
    assert parse_kind("supplier") is None


def test_check_email():
    assert check_email(" Anna@ACME.example ") == EmailValue(
        "Anna@ACME.example", "anna@acme.example"
    )
    assert check_email("bob@") is None
    assert check_email("a" * 300 + "@example.com") is None


def test_checked_draft_is_normalised():
    draft = PersonDraft(
        name="  Anna   Berg ",
        kind="Client",
        emails=("Anna@ACME.example", "anna@acme.example", "anna@home.example"),
        phones=(PhoneEntry("020 7946 0958", "Work"), PhoneEntry("+44 20 7946 0958")),
        company="  Acme   Ltd ",
        title=" Head of Sales ",
        location="",
        links=(" https://linkedin.com/in/anna ", "https://linkedin.com/in/anna"),
        tags=("Python", " python ", "Remote  OK", ""),
        notes="  ",
        owner_email="Rec@Firm.example",
    )
    assert check_draft(draft, default_region="GB") == CheckedDraft(
        name="Anna Berg",
        name_key="anna berg",
        kind="contact",
        emails=(
            EmailValue("Anna@ACME.example", "anna@acme.example"),
            EmailValue("anna@home.example", "anna@home.example"),
        ),
        phones=(PhoneValue("+442079460958", "work"),),
        company="Acme Ltd",
        company_key="acme ltd",
        title="Head of Sales",
        location=None,
        links=("https://linkedin.com/in/anna",),
        tags=("python", "remote ok"),
        notes=None,
        owner_key="rec@firm.example",
    )


def test_every_problem_is_listed():
    draft = PersonDraft(
        name=" ",
        kind="supplier",
        emails=("bob@", "ok@example.com", "bob at example"),
        phones=(PhoneEntry("12345"), PhoneEntry("020 7946 0958")),
        title="x" * 301,
        tags=("t" * 101,),
        owner_email="nobody",
    )
    with pytest.raises(DraftError) as caught:
        check_draft(draft)
    assert caught.value.problems == (
        "name is empty",
        "kind 'supplier' is not candidate or contact",
        "email 'bob@' is not an address",
        "email 'bob at example' is not an address",
        "phone '12345' has no country code (write it with + or give a default region)",
        "phone '020 7946 0958' has no country code (write it with + or give a default region)",
        "title is longer than 300 characters",
        f"tag '{'t' * 101}' is longer than 100 characters",
        "owner 'nobody' is not an address",
    )
    assert str(caught.value).startswith("name is empty; kind 'supplier'")


def test_invalid_number_with_region_says_so():
    with pytest.raises(DraftError) as caught:
        check_draft(PersonDraft("Bob", phones=(PhoneEntry("12345"),)), default_region="GB")
    assert caught.value.problems == ("phone '12345' is not a valid number",)


@pytest.mark.parametrize("region", [None, "GB"])
def test_words_are_not_a_phone_number_whatever_the_region(region):
    """Issue 12: "hello" was reported as having no country code, sending the user after one."""
    with pytest.raises(DraftError) as caught:
        check_draft(
            PersonDraft("Bob", phones=(PhoneEntry("hello"), PhoneEntry("--"))),
            default_region=region,
        )
    assert caught.value.problems == (
        "phone 'hello' is not a phone number (write it in digits, e.g. +44 20 7946 0958)",
        "phone '--' is not a phone number (write it in digits, e.g. +44 20 7946 0958)",
    )


def _checked(**fields) -> CheckedDraft:
    return check_draft(PersonDraft(**fields), default_region="GB")


ANNA = ExistingRecord(
    id=3,
    name="Anna Berg",
    name_key="anna berg",
    company_key="acme",
    email_keys=frozenset({"anna@acme.example"}),
    phones=frozenset({"+442079460958"}),
)
BOB = ExistingRecord(
    id=5,
    name="Bob Stone",
    name_key="bob stone",
    company_key=None,
    email_keys=frozenset({"bob@example.com"}),
    phones=frozenset({"+12025550143"}),
)


def test_same_email_matches():
    draft = _checked(name="Someone", emails=("x@example.com", "ANNA@acme.example"))
    match = find_duplicate(draft, [BOB, ANNA])
    assert match == DuplicateMatch(3, "Anna Berg", MatchRule.EMAIL, "anna@acme.example")
    assert match.reason == "same email anna@acme.example"


def test_email_beats_phone_whatever_the_record_order():
    draft = _checked(name="X", emails=("bob@example.com",), phones=(PhoneEntry("020 7946 0958"),))
    match = find_duplicate(draft, [ANNA, BOB])
    assert match is not None
    assert (match.record_id, match.rule) == (5, MatchRule.EMAIL)


def test_same_phone_matches():
    match = find_duplicate(_checked(name="X", phones=(PhoneEntry("+1 202 555 0143"),)), [ANNA, BOB])
    assert match is not None
    assert match.reason == "same phone +12025550143"
    assert match.record_id == 5


def test_same_name_and_company_matches():
    draft = _checked(name="ANNA  berg", company="ACME")
    match = find_duplicate(draft, [ANNA])
    assert match == DuplicateMatch(3, "Anna Berg", MatchRule.NAME_AND_COMPANY, "ANNA berg at ACME")
    assert match.reason == "same name and company ANNA berg at ACME"


def test_same_name_alone_or_other_company_is_not_a_duplicate():
    assert find_duplicate(_checked(name="Anna Berg"), [ANNA]) is None
    assert find_duplicate(_checked(name="Anna Berg", company="Globex"), [ANNA]) is None
    assert find_duplicate(_checked(name="Bob Stone", company="Acme"), [BOB]) is None


def test_oldest_record_wins_among_equals():
    twin = ExistingRecord(id=9, name="Anna B", name_key="anna b", email_keys=ANNA.email_keys)
    match = find_duplicate(_checked(name="A", emails=("anna@acme.example",)), [twin, ANNA])
    assert match is not None
    assert match.record_id == 3


def test_no_candidates_no_match():
    assert find_duplicate(_checked(name="Anna Berg", company="Acme"), []) is None
