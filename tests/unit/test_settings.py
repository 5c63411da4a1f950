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


SASL = {
    "NEWSFLOW_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "NEWSFLOW_SASL_USERNAME": "alice",
    "NEWSFLOW_SASL_PASSWORD": "s3cret-pw",
}


def test_security_defaults_are_plaintext() -> None:
    from streams.app import broker_credentials
    from streams.kafka_io import kafka_client_kwargs

    s = Settings.from_env({})
    assert (s.security_protocol, s.sasl_mechanism) == ("PLAINTEXT", "SCRAM-SHA-512")
    assert kafka_client_kwargs(s) == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert broker_credentials(s) is None


def test_sasl_settings_reach_every_client_form() -> None:
    import faust

    from streams.app import broker_credentials
    from streams.kafka_io import kafka_client_kwargs

    s = Settings.from_env(SASL)
    kw = kafka_client_kwargs(s)
    assert kw["security_protocol"] == "SASL_PLAINTEXT"
    assert kw["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kw["sasl_plain_username"], kw["sasl_plain_password"]) == ("alice", "s3cret-pw")
    assert "ssl_context" not in kw
    creds = broker_credentials(s)
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.protocol.value == "SASL_PLAINTEXT" and creds.mechanism.value == "SCRAM-SHA-512"
    assert "s3cret-pw" not in repr(creds)
    # The round trip through the environment keeps the password (child processes need it).
    assert Settings.from_env(s.as_env()) == s


def test_sasl_ssl_and_ssl_build_a_tls_context() -> None:
    import ssl

    import faust

    from streams.app import broker_credentials
    from streams.kafka_io import kafka_client_kwargs

    s = Settings.from_env({**SASL, "NEWSFLOW_SECURITY_PROTOCOL": "SASL_SSL"})
    kw = kafka_client_kwargs(s)
    assert isinstance(kw["ssl_context"], ssl.SSLContext)
    assert kw["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    creds = broker_credentials(s)
    assert isinstance(creds, faust.SASLCredentials) and creds.protocol.value == "SASL_SSL"
    tls = Settings.from_env({"NEWSFLOW_SECURITY_PROTOCOL": "SSL"})
    assert "sasl_mechanism" not in kafka_client_kwargs(tls)
    assert isinstance(broker_credentials(tls), faust.SSLCredentials)


def test_password_is_masked_wherever_settings_are_shown() -> None:
    s = Settings.from_env(SASL)
    assert "s3cret-pw" not in repr(s) and "s3cret-pw" not in str(s)
    shown = s.redacted_env()
    assert shown["NEWSFLOW_SASL_PASSWORD"] == "***"
    assert "s3cret-pw" not in str(shown)
    assert s.as_env()["NEWSFLOW_SASL_PASSWORD"] == "s3cret-pw"
    assert Settings().redacted_env()["NEWSFLOW_SASL_PASSWORD"] == ""


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"NEWSFLOW_SECURITY_PROTOCOL": "SASL"}, "NEWSFLOW_SECURITY_PROTOCOL"),
        ({**SASL, "NEWSFLOW_SASL_MECHANISM": "GSSAPI"}, "NEWSFLOW_SASL_MECHANISM"),
        ({**SASL, "NEWSFLOW_SASL_PASSWORD": ""}, "NEWSFLOW_SASL_PASSWORD"),
        ({"NEWSFLOW_SECURITY_PROTOCOL": "SASL_SSL"}, "NEWSFLOW_SASL_USERNAME"),
        ({"NEWSFLOW_SASL_USERNAME": "alice"}, "NEWSFLOW_SECURITY_PROTOCOL"),
        ({"NEWSFLOW_SSL_CAFILE": "/etc/ca.pem"}, "NEWSFLOW_SSL_CAFILE"),
        (
            {"NEWSFLOW_SECURITY_PROTOCOL": "SSL", "NEWSFLOW_SSL_CAFILE": "/nonexistent/ca.pem"},
            "NEWSFLOW_SSL_CAFILE",
        ),
        (
            {"NEWSFLOW_SECURITY_PROTOCOL": "SSL", "NEWSFLOW_SSL_KEYFILE": "/nonexistent/k.pem"},
            "NEWSFLOW_SSL_KEYFILE",
        ),
    ],
)
def test_bad_security_settings_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named) as err:
        Settings.from_env(env)
    assert "s3cret-pw" not in str(err.value)
