"""newsflow: a streaming news ingestion pipeline (segment -> enrich -> dedup) on Faust/Kafka."""

__version__ = "0.1.0"
