"""Parsers of untrusted text: HTML cells and country lists never crash and never let markup through."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from mobility.gazetteer.services.versions import countries
from mobility.restrictions.countries import CountryMatcher, name_key, split_names
from mobility.restrictions.importers.common import html_to_text

TAG = re.compile(r"<\s*/?\s*(a|br|p|strong|li|ul|ol|b|script|style|div|span)\b[^>]*>", re.IGNORECASE)
PIECES = st.sampled_from(
    ["<br>", "<br<", "< /a>", "</ br>", "<ahref=\"https://x.org\">", "<a href='javascript:alert(1)'>", "</a>",
     "<script>", "</script>", "<p>", "<li>", "&amp;", "&lt;", "<Israel’s", "\n", " ", "text", "é", "<", ">", "<be>"]
)  # fmt: skip
MATCHER = CountryMatcher()


@given(st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=30))
@example(["<br<", "\x00", ">"])  # a NUL inside a tag made the parser hand the tag back as text
def test_html_cells_become_text_without_tags(pieces):
    text, links = html_to_text("".join(pieces))
    assert not TAG.search(text)
    assert "\x00" not in text
    assert all(link["url"].startswith(("http://", "https://")) for link in links)


@given(st.text(max_size=200))
def test_country_lists_never_crash_and_match_only_real_codes(text):
    result = MATCHER.names(text)
    known = countries()
    for match in result.matches:
        assert (match.iso3 in known) != bool(match.region)
    assert len(result.unmatched) <= len(split_names(text))


def test_every_iso_name_matches_its_own_code_even_when_mangled():
    for iso3, (_iso2, name) in countries().items():
        found = MATCHER.one(name)
        assert found and found[0].iso3 == iso3, name
        # A PDF line break inside a word, and upper case, change nothing.
        mangled = (name[:3] + "- " + name[3:]).upper() if len(name) > 4 else name.upper()
        assert MATCHER.one(mangled)[0].iso3 == iso3, mangled
        assert name_key(mangled) == name_key(name)
