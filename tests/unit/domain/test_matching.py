from postroom.domain.matching import (
    Direction,
    MatchPolicy,
    Participant,
    find_private_mention,
    plan_links,
)

ME = "me@firm.com"
POLICY = MatchPolicy(
    own_addresses=frozenset({ME, "alias@firm.com"}),
    colleague_addresses=frozenset({"boss@partner-office.com"}),
    internal_domains=frozenset({"firm.com"}),
    private_addresses=frozenset({"lawyer@private.org"}),
    private_domains=frozenset({"doctor.example"}),
)
DIRECTORY = {"anna@ex.com": [1], "bob@ex.com": [2, 3], "me@firm.com": [9], "sam@firm.com": [8]}


def p(role, key):
    return Participant(role, key)


def test_received_mail_goes_on_the_senders_record():
    plan = plan_links([p("from", "anna@ex.com"), p("to", ME)], DIRECTORY, POLICY)
    assert plan.direction is Direction.RECEIVED
    assert plan.person_ids == (1,)


def test_mail_from_an_alias_is_sent_and_goes_on_every_recipient():
    plan = plan_links(
        [
            p("from", "alias@firm.com"),
            p("to", "anna@ex.com"),
            p("cc", "bob@ex.com"),
            p("bcc", "anna@ex.com"),
        ],
        DIRECTORY,
        POLICY,
    )
    assert plan.direction is Direction.SENT
    assert plan.person_ids == (1, 2, 3)


def test_sender_field_of_the_owner_also_means_sent():
    plan = plan_links(
        [p("from", "team@ex.com"), p("sender", ME), p("to", "anna@ex.com")], DIRECTORY, POLICY
    )
    assert plan.direction is Direction.SENT


def test_own_colleague_and_internal_addresses_are_never_contacts():
    plan = plan_links(
        [p("from", ME), p("to", "sam@firm.com"), p("cc", "boss@partner-office.com")],
        DIRECTORY,
        POLICY,
    )
    assert plan.person_ids == ()
    assert plan.counterparts == ()


def test_private_participant_vetoes_the_whole_message():
    plan = plan_links([p("from", "anna@ex.com"), p("cc", "lawyer@private.org")], DIRECTORY, POLICY)
    assert plan.person_ids == ()
    assert plan.vetoed_by == "lawyer@private.org"


def test_private_domain_vetoes_subdomains_too():
    plan = plan_links(
        [p("from", "anna@ex.com"), p("cc", "x@clinic.doctor.example")], DIRECTORY, POLICY
    )
    assert plan.vetoed_by == "x@clinic.doctor.example"


def test_private_mention_in_the_body_is_found_whatever_the_case():
    assert (
        find_private_mention("please write to Lawyer@PRIVATE.org.", POLICY) == "lawyer@private.org"
    )
    assert (
        find_private_mention("see nurse@ward.doctor.example", POLICY) == "nurse@ward.doctor.example"
    )
    assert find_private_mention("nothing private here: anna@ex.com", POLICY) is None
    assert find_private_mention("no list", MatchPolicy()) is None
