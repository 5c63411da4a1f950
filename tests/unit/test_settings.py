from __future__ import annotations

import pytest

from streams.settings import Settings, SettingsError, env_name


def test_defaults_and_env_override() -> None:
    s = Settings.from_env({"NEWSFLOW_BROKER": "kafka://10.1.2.3:9999", "NEWSFLOW_PARTITIONS": "8",
                           "NEWSFLOW_ENRICH_BATCH_SECONDS": "0.5", "UNRELATED": "x"})
    assert s.bootstrap_servers == "10.1.2.3:9999"
    assert s.partitions == 8 and s.enrich_batch_seconds == 0.5
    assert s.topic_raw == "news.raw" and s.dedup_partitions == 1


def test_round_trip_through_env() -> None:
    s = Settings(topic_raw="a.raw", web_port=7000)
    assert Settings.from_env(s.as_env()) == s


@pytest.mark.parametrize(("key", "value"), [("NEWSFLOW_PARTITIONS", "four"),
                                            ("NEWSFLOW_PARTITIONS", "0"),
                                            ("NEWSFLOW_BROKER", "localhost:9092")])
def test_bad_values_name_the_variable(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key):
        Settings.from_env({key: value})


def test_env_name() -> None:
    assert env_name("topic_dlq") == "NEWSFLOW_TOPIC_DLQ"
