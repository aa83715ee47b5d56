from postroom.domain.addresses import is_in_domain, normalize_address, normalize_domain


def test_case_and_idna_are_normalised():
    assert normalize_address("Anna.Berg@BÜCHER.example") == "anna.berg@xn--bcher-kva.example"
    assert normalize_address(" <Bob@Example.COM.> ") == "bob@example.com"


def test_not_addresses_are_refused():
    for text in ["", "bob", "@example.com", "bob@", "a b@example.com", "bob@exa mple.com"]:
        assert normalize_address(text) is None, text


def test_domain_without_dot_is_refused_except_localhost():
    assert normalize_domain("example") is None
    assert normalize_domain("localhost") == "localhost"


def test_subdomains_belong_to_their_domain():
    domains = frozenset({"acme.com"})
    assert is_in_domain("a@acme.com", domains)
    assert is_in_domain("a@mail.eu.acme.com", domains)
    assert not is_in_domain("a@notacme.com", domains)
