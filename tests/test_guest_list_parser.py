"""The bulk paste of a guest list: `Name +2 | note`, one a line, all or nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.errors import InvalidInput
from services.night.guest_lists import (
    NAME_MOST,
    NOTE_MOST,
    PLUS_ONES_MOST,
    ParsedName,
    parse_bulk,
    parse_line,
)


def test_the_forms_staff_paste() -> None:
    assert parse_bulk("Jane Doe +2\n  - Ali  Khan\n\n3. Bo Li+1 | birthday\n* Cy +0\n") == [
        ParsedName("Jane Doe", 2),
        ParsedName("Ali Khan"),
        ParsedName("Bo Li", 1, "birthday"),
        ParsedName("Cy", 0),
    ]
    assert parse_line("   ") is None
    assert parse_line("Jean-Luc O'Neil + 3") == ParsedName("Jean-Luc O'Neil", 3)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no names"),
        ("\n \n", "no names"),
        ("+2", "count but no name"),
        ("Jane +51", "at most 50"),
        ("Jane + 2 + 1", "count last"),
        ("Jane\njane", "line 1 and line 2"),
        ("Ja\x07ne", "control character"),
        ("x" * (NAME_MOST + 1), "at most 120"),
        ("Jane | " + "n" * (NOTE_MOST + 1), "note is at most"),
    ],
)
def test_nonsense_is_refused_naming_the_line(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        parse_bulk(text)


def test_too_many_names_at_once() -> None:
    with pytest.raises(InvalidInput, match="At most 500"):
        parse_bulk("\n".join(f"Guest {n}" for n in range(501)))


@given(st.text(max_size=400))
def test_any_text_parses_to_sane_names_or_is_refused(text: str) -> None:
    try:
        names = parse_bulk(text)
    except InvalidInput as refusal:
        assert str(refusal)
        return
    assert 1 <= len(names) <= 500
    keys = [n.name.casefold() for n in names]
    assert len(set(keys)) == len(keys)
    for n in names:
        assert n.name and n.name == " ".join(n.name.split()) and len(n.name) <= NAME_MOST
        assert "+" not in n.name and "\n" not in n.name
        assert 0 <= n.plus_ones <= PLUS_ONES_MOST
        assert len(n.note) <= NOTE_MOST and "\n" not in n.note


_word = st.text(alphabet=st.characters(categories=["L"]), min_size=1, max_size=12)


@given(
    st.lists(
        st.tuples(st.lists(_word, min_size=1, max_size=3), st.integers(0, PLUS_ONES_MOST)),
        min_size=1,
        max_size=30,
        unique_by=lambda t: " ".join(t[0]).casefold(),
    )
)
def test_what_is_written_as_name_plus_count_reads_back(entries: list[tuple[list[str], int]]) -> None:
    text = "\n".join(f"{' '.join(words)} +{count}" for words, count in entries)
    try:
        parsed = parse_bulk(text)
    except InvalidInput:
        # Two names that differ only by case folding (e.g. 'ß' and 'ss') are one name.
        folded = [" ".join(w).casefold() for w, _ in entries]
        assert len(set(folded)) < len(folded) or any(len(" ".join(w)) > NAME_MOST for w, _ in entries)
        return
    assert [(p.name, p.plus_ones) for p in parsed] == [(" ".join(w), c) for w, c in entries]
