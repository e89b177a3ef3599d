"""CPA internal/config/codex_live_test.go: ``codex.live-media-relay`` as config.yaml gives
it. cliproxy has no WebRTC media relay (the section is announced as not effective at
start-up), but it reads and checks the section as CPA does, so a CPA config moves over
unchanged and a wrong one is refused the same way."""

from __future__ import annotations

import pytest

from cliproxy.config import Config, ConfigDocument
from cliproxy.errors import ConfigError
from cliproxy.management.config_api import config_json

RELAY = """codex:
  live-media-relay:
    enabled: true
    max-sessions: 64
    disable-private-remote-ips: true
    public-ip: "203.0.113.10"
    udp-port-min: 40000
    udp-port-max: 40150
    ice-servers:
      - urls: ["stun:stun.example.com:3478"]
      - urls: ["turn:turn.example.com:3478?transport=udp"]
        username: "relay-user"
        credential: "relay-secret"
"""


def parse(text: str) -> Config:
    return ConfigDocument.from_text(text, "config.yaml").config


def _relay(body: str) -> str:
    return "codex:\n  live-media-relay:\n" + "".join(f"    {line}\n" for line in body.splitlines())


def test_the_section_parses_and_its_secrets_stay_out_of_json() -> None:
    """CPA TestCodexLiveMediaRelayConfigParsesAndValidates: every key read, the section
    valid, and the config as the management API gives it (JSON) holds no TURN username or
    credential."""
    relay = parse(RELAY).codex.live_media_relay
    assert relay.enabled and relay.max_sessions == 64 and relay.disable_private_remote_ips
    assert relay.public_ip == "203.0.113.10" and (relay.udp_port_min, relay.udp_port_max) == (40000, 40150)
    assert len(relay.ice_servers) == 2 and relay.ice_servers[1].credential == "relay-secret"
    shown = str(config_json(parse(RELAY))["codex"]["live-media-relay"])
    for secret in ("relay-secret", "credential", "relay-user", "username"):
        assert secret not in shown


@pytest.mark.parametrize(
    ("body", "disabled"),
    [
        ("allow-private-remote-ips: true", False),
        ("allow-private-remote-ips: false", True),
        ("enabled: true", False),
    ],
    ids=["legacy allow true", "legacy allow false", "new default"],
)
def test_the_legacy_private_ip_setting_is_read(body: str, disabled: bool) -> None:
    """CPA TestCodexLiveMediaRelayConfigMigratesLegacyPrivateIPSetting: the old
    ``allow-private-remote-ips`` is the inverse of ``disable-private-remote-ips``; both
    at once are refused."""
    assert parse(_relay(body)).codex.live_media_relay.disable_private_remote_ips is disabled
    with pytest.raises(ConfigError) as info:
        parse(_relay("allow-private-remote-ips: true\ndisable-private-remote-ips: false"))
    assert "codex.live-media-relay" in str(info.value)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("max-sessions: -1", "negative"),
        ('public-ip: "not-an-ip"', "public-ip"),
        ("udp-port-min: 40000", "must both be set"),
        ("udp-port-min: 40100\nudp-port-max: 40000", "must not exceed"),
        ("max-sessions: 2\nudp-port-min: 40000\nudp-port-max: 40002", "at least 4 ports"),
        ("ice-servers:\n  - username: user", "urls is required"),
        ('ice-servers:\n  - urls: ["https://example.com"]', "stun:, stuns:, turn: or turns:"),
    ],
    ids=[
        "negative session limit",
        "invalid public IP",
        "partial UDP range",
        "reversed UDP range",
        "undersized UDP range",
        "missing ICE URLs",
        "unsupported ICE URL",
    ],
)
def test_invalid_values_are_refused(body: str, words: str) -> None:
    """CPA TestCodexLiveMediaRelayConfigRejectsInvalidValues: each bad value of an enabled
    relay is a config error naming the section (the ICE URL itself is not repeated)."""
    with pytest.raises(ConfigError) as info:
        parse(_relay("enabled: true\n" + body))
    assert info.value.path == "codex.live-media-relay" and words in str(info.value)
    assert "example.com" not in str(info.value)
