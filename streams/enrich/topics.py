"""Topics from the IPTC Media Topics top level (17 classes), by a weighted keyword lexicon.

The taxonomy is fixed and documented (https://iptc.org/standards/media-topics/, top level);
``TOPICS`` lists the labels we emit, spelled as IPTC names them. Each class has cue words
(matched on lower-cased word prefixes); a class is assigned when its cues cover enough of
the text. This is the offline baseline that ``newsflow eval enrich`` measures.
"""

from __future__ import annotations

import re

# fmt: off
TOPICS: dict[str, tuple[str, ...]] = {
    "arts, culture, entertainment and media": (
        "film", "movie", "music", "album", "concert", "actor", "actress", "museum", "theatre",
        "theater", "novel", "festival", "television", "artist", "singer", "hollywood", "oscar",
    ),
    "conflict, war and peace": (
        "war", "troops", "military", "army", "rebel", "missile", "airstrike", "ceasefire",
        "peace treaty", "soldier", "militant", "insurgent", "bomb", "invasion", "territorial",
    ),
    "crime, law and justice": (
        "police", "court", "judge", "arrest", "murder", "trial", "lawsuit", "prosecutor",
        "convicted", "sentenced", "crime", "fraud", "attorney", "jury", "indict",
    ),
    "disaster, accident and emergency incident": (
        "earthquake", "flood", "hurricane", "crash", "fire", "explosion", "disaster", "tsunami",
        "wildfire", "accident", "rescue", "collapsed", "evacuat",
    ),
    "economy, business and finance": (
        "central bank", "money supply", "stock exchange", "interest rates", "trade deficit",
        "shares", "stock", "profit", "revenue", "market", "bank", "economy", "economic",
        "trade", "dividend", "earnings", "prices", "tonnes", "inflation", "company", "billion",
        "million", "dlrs", "pct", "investor", "merger", "acquisition", "oil", "currency",
        "export", "import", "tariff", "budget", "debt", "loan", "net", "quarter", "qtr", "mln",
        "bln", "cts", "shr", "shrs", "revs", "div", "qtly", "payable", "sales", "loss",
        "acquire", "acquired", "stake", "subsidiary", "unit", "tender", "offer", "bid", "bonds",
        "bond", "yield", "rates", "interest", "reserves", "deficit", "surplus", "gdp", "gnp",
        "output", "production", "crop", "harvest", "wheat", "grain", "corn", "sugar", "coffee",
        "cocoa", "crude", "barrels", "opec", "gold", "copper", "futures", "commodity",
        "commodities", "exchange", "yen", "dollar", "francs", "sterling", "exporters",
        "importers", "shipment", "shipments", "banks", "banking", "central", "money", "supply",
        "fiscal", "monetary", "treasury", "securities", "shareholders", "share", "takeover",
        "corp", "inc", "ltd", "plc", "bushels", "soybean", "soybeans", "oilseed", "trading",
        "traders", "wholesale", "retail", "consumer",
    ),
    "education": (
        "school", "university", "student", "teacher", "education", "college", "campus",
        "curriculum", "exam",
    ),
    "environment": (
        "climate", "emission", "pollution", "environment", "wildlife", "conservation", "carbon",
        "species", "deforestation", "renewable",
    ),
    "health": (
        "health", "hospital", "disease", "virus", "patients", "vaccine", "medical", "doctor",
        "cancer", "drug", "outbreak", "epidemic", "pandemic",
    ),
    "human interest": (
        "celebrity", "anniversary", "birthday", "wedding", "royal", "zoo",
    ),
    "labour": (
        "strike", "union", "workers", "unemployment", "jobs", "wage", "labour", "labor",
        "employment", "layoff", "pension", "unemployed", "jobless", "payrolls", "workforce",
    ),
    "lifestyle and leisure": (
        "travel", "fashion", "recipe", "restaurant", "holiday", "tourism", "hobby", "garden",
    ),
    "politics": (
        "president", "minister", "government", "election", "parliament", "senate", "vote",
        "party", "congress", "diplomat", "treaty", "sanction", "policy", "prime minister",
        "foreign minister", "talks", "summit", "lawmaker", "campaign", "governor",
    ),
    "religion": (
        "church", "pope", "religious", "mosque", "muslim", "christian", "bishop", "faith",
    ),
    "science and technology": (
        "scientist", "research", "technology", "software", "internet", "computer", "space",
        "nasa", "smartphone", "study", "robot", "satellite", "google", "apple", "microsoft",
    ),
    "society": (
        "immigra", "poverty", "welfare", "protest", "rights", "community", "family", "gender",
        "discrimination", "refugee",
    ),
    "sport": (
        "match", "league", "cup", "goal", "coach", "tournament", "championship", "season",
        "olympic", "player", "team", "scored", "win over", "football", "soccer", "tennis",
        "golf", "cricket", "rugby", "nba", "nfl",
    ),
    "weather": (
        "weather", "forecast", "rain", "snow", "temperature", "storm", "drought", "heatwave",
    ),
}
# fmt: on

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_MIN_SCORE = 3.0
_MAX_TOPICS = 3


def _cue_index() -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    singles: dict[str, list[str]] = {}
    phrases: list[tuple[str, str]] = []
    for topic, cues in TOPICS.items():
        for cue in cues:
            if " " in cue:
                phrases.append((cue, topic))
            else:
                singles.setdefault(cue, []).append(topic)
    return singles, phrases


_SINGLES, _PHRASES = _cue_index()


def classify_topics(text: str) -> list[str]:
    """Up to three IPTC top-level topics, strongest first; empty when nothing is clear."""
    lower = text.lower()
    scores: dict[str, float] = {}
    for word in _WORD.findall(lower):
        topics = _SINGLES.get(word)
        if topics is None and len(word) > 5:
            topics = _SINGLES.get(word[:-1]) or _SINGLES.get(word[:-2])
        if topics:
            for topic in topics:
                scores[topic] = scores.get(topic, 0.0) + 1.0
    for phrase, topic in _PHRASES:
        hits = lower.count(phrase)
        if hits:
            scores[topic] = scores.get(topic, 0.0) + 2.0 * hits
    if not scores:
        return []
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])[:_MAX_TOPICS]
    best = ranked[0][1]
    return [t for t, s in ranked if s >= _MIN_SCORE and s >= best * 0.5]
