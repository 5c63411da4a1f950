"""Feed connectors that keep ``news.raw`` fed: RSS/Atom, news sitemaps, a watched folder,
JSONL and WARC backfills, and the producer they share (see ``docs/ingest.md``).

Every connector follows one rule: an item is remembered as sent (``state.SeenStore``) only
after the broker acknowledged it, so a restart re-sends nothing that was sent and loses
nothing that was not.
"""

from streams.ingest.redact import install as _install_redaction

_install_redaction()  # credentials in feed URLs never reach the logs (redact.py)
