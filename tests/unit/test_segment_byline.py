"""Byline parsing."""

from __future__ import annotations

import pytest

from streams.segment.byline import (
    agency_in,
    agency_line,
    is_credit_line,
    parse_by_line,
    parse_credit_line,
)


@pytest.mark.parametrize(
    ("line", "authors", "editors"),
    [
        (
            "(Writing by Steve Gutterman, Editing by Timothy Heritage)",
            ["Steve Gutterman"],
            ["Timothy Heritage"],
        ),
        (
            "(Reporting by Linda Sieg in Tokyo; Additional reporting by John Smith; Editing by Ed Lane)",
            ["Linda Sieg", "John Smith"],
            ["Ed Lane"],
        ),
        (
            "Reporting by A. B. Cee and Dee Eff; writing by Gee Aitch; editing by Jay Kay",
            ["A. B. Cee", "Dee Eff", "Gee Aitch"],
            ["Jay Kay"],
        ),
        ("Compiled by Mary Jones", ["Mary Jones"], []),
    ],
)
def test_credit_lines(line: str, authors: list[str], editors: list[str]) -> None:
    assert is_credit_line(line)
    b = parse_credit_line(line)
    assert b.authors == authors
    assert b.editors == editors


@pytest.mark.parametrize(
    ("line", "authors", "agency"),
    [
        ("By Nelson Bocanegra", ["Nelson Bocanegra"], None),
        ("By Michelle Solomon, Entertainment Writer", ["Michelle Solomon"], None),
        ("By Peter Torday, Reuters", ["Peter Torday"], "Reuters"),
        ("BY JOHN SMITH AND JANE DOE", ["John Smith", "Jane Doe"], None),
        ("By Jane Smith and John Brown", ["Jane Smith", "John Brown"], None),
    ],
)
def test_by_lines(line: str, authors: list[str], agency: str | None) -> None:
    b = parse_by_line(line)
    assert b is not None
    assert b.authors == authors
    assert b.agency == agency


def test_not_bylines() -> None:
    assert parse_by_line("By the way, this is not a byline at all") is None
    assert not is_credit_line("The report was written by hand.")


def test_agencies() -> None:
    assert agency_in("MOSCOW (Reuters) - x") == "Reuters"
    assert agency_in("WASHINGTON (AP) - x") == "AP"
    assert agency_line("The Associated Press") == "AP"
    assert agency_line("AFP") == "AFP"
    assert agency_line("Agence France-Presse") == "AFP"
    assert agency_line("Breaking news") is None
