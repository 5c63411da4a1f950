"""Clean wire copy in the Reuters-21578 style."""

from __future__ import annotations

from streams.records import RawStory
from streams.segment import segment

WIRE = """BAHIA COCOA REVIEW
SALVADOR, Feb 26 - Showers continued throughout the week in
the Bahia cocoa zone, alleviating the drought since early
January and improving prospects for the coming temporao,
although normal humidity levels have not been restored,
Comissaria Smith said in its weekly review.
    The dry period means the temporao will be late this year.
    Arrivals for the week ended February 22 were 155,221 bags
of 60 kilos making a cumulative total for the season of 5.93
mln against 5.81 at the same stage last year.
 Reuter
"""


def test_wire_parts() -> None:
    s = segment(RawStory(story_id="w1", body=WIRE))
    assert s.content_kind == "wire"
    assert s.headline == "BAHIA COCOA REVIEW"
    assert s.dateline is not None
    assert s.dateline.place == "SALVADOR"
    assert s.dateline.text == "SALVADOR, Feb 26 -"
    assert s.dateline.time is None  # no year, no time of day on the wire dateline
    assert len(s.body) == 3
    assert s.body[0].startswith(
        "SALVADOR, Feb 26 - Showers continued throughout the week in the Bahia"
    )
    assert s.body[1] == "The dry period means the temporao will be late this year."
    assert s.body[-1].endswith("at the same stage last year.")
    assert all("Reuter" not in p for p in s.body)
    assert s.byline.agency == "Reuters"


def test_wire_title_from_envelope_and_byline() -> None:
    body = (
        "WASHINGTON, March 3 - The U.S. trade deficit widened sharply in January, the\n"
        "Commerce Department said on Tuesday.\n"
        "    (Reporting by Peter Torday; Editing by Ann Lee)\n"
        " Reuter\n"
    )
    s = segment(RawStory(story_id="w2", body=body, title="U.S. TRADE DEFICIT WIDENS"))
    assert s.content_kind == "wire"
    assert s.headline == "U.S. TRADE DEFICIT WIDENS"
    assert s.body == [
        "WASHINGTON, March 3 - The U.S. trade deficit widened sharply in January, the "
        "Commerce Department said on Tuesday."
    ]
    assert s.byline.authors == ["Peter Torday"]
    assert s.byline.editors == ["Ann Lee"]
