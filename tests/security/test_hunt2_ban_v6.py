"""The management gate's ban (five wrong keys, 30 minutes) against a guesser with an IPv6
network: one subscriber has a whole /64, so a ban of one address bans nothing."""

from __future__ import annotations

import pytest

from cliproxy.config.document import ConfigDocument
from cliproxy.management.auth import ManagementGate, ban_subject

WRONG = {"Authorization": "Bearer nope"}


def _config() -> object:
    text = "remote-management:\n  allow-remote: true\n  secret-key: 'x'\n"
    return ConfigDocument.from_text(text).config


async def test_guesses_from_one_ipv6_network_share_one_count(monkeypatch, clock):
    """Five wrong keys from five addresses of one /64 ban the /64: the next guess, from yet
    another address of it, is 403 without a key check, while a neighbour network and IPv4
    peers keep their own counts. Before, each address counted alone, so a guesser walked
    through its 2**64 addresses, five bcrypt checks each, and was never banned."""
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    checked: list[str] = []

    def verify(key: str, stored: str) -> bool:
        checked.append(key)
        return False

    gate = ManagementGate(clock, verify=verify)
    config = _config()
    statuses = []
    for i in range(1, 6):
        denied = await gate.check(config, f"2001:db8:0:7::{i:x}", WRONG)
        assert denied is not None
        statuses.append(denied.status)
    assert statuses == [401] * 5
    banned = await gate.check(config, "2001:db8:0:7:ffff::1", WRONG)
    assert banned is not None and banned.status == 403 and "banned" in banned.message
    assert len(checked) == 5  # no bcrypt run for a banned network
    other = await gate.check(config, "2001:db8:0:8::1", WRONG)  # the next /64: its own count
    assert other is not None and other.status == 401
    for i in range(4):
        v4 = await gate.check(config, f"198.51.100.{i}", WRONG)
        assert v4 is not None and v4.status == 401  # IPv4 addresses count alone, as in CPA


@pytest.mark.parametrize(
    ("peer", "subject"),
    [
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:db8:0:0:ffff:1:2:3%eth0", "2001:db8::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("198.51.100.7", "198.51.100.7"),
        ("::1", "::1"),
        ("", ""),
        ("not-an-ip", "not-an-ip"),
    ],
)
def test_ban_subject(peer, subject):
    assert ban_subject(peer) == subject
