"""Two workers sharing one Redis (two services in miniature, as tests/e2e/test_shared_state.py):
the panel's ``unavailable`` for an account must not depend on which worker answers.

``unavailable`` is CPA's aggregate of the account's model states (credentials/listing.py):
an account with one model cooling while another has served stays available. Which models
an account has served is part of that aggregate, so with ``workers: N`` every worker must
know them, not only the one whose request succeeded.
"""

from __future__ import annotations

from typing import Any

from tests.management.conftest import MANAGEMENT_KEY
from tests.management.test_unavailable_model_states import (
    KEY,
    OPUS,
    SONNET,
    ask,
    listed,
    spend_opus_week,
    write_account,
)


async def pair(start_proxy: Any, fake_claude: Any, redis_server: Any, tmp_path: Any) -> tuple[Any, Any]:
    write_account(tmp_path, fake_claude.base_url)
    text = (
        f'api-keys: ["{KEY}"]\nusage-ledger: {{enabled: false}}\n'
        f"state:\n  backend: redis\n  url: {redis_server.url}\n  prefix: 'hunt:'\n"
    )
    return await start_proxy(text), await start_proxy(text)


async def test_a_model_served_through_a_keeps_the_account_available_on_b(
    start_proxy, fake_claude, redis_server, tmp_path, monkeypatch
):
    """Sonnet served through A, then Opus's week is spent (through B): both workers list the
    account available with Opus's message. Before, B knew of no Sonnet success and listed
    the account unavailable until Opus's end, while A listed it available: the panel
    flapped with the worker that answered."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    a, b = await pair(start_proxy, fake_claude, redis_server, tmp_path)
    assert await ask(a, SONNET) == 200
    spend_opus_week(fake_claude)
    assert await ask(b, OPUS) == 429
    for proxy in (a, b):
        entry = await listed(proxy)
        assert (entry["status"], entry["unavailable"]) == ("error", False), proxy.port
        assert "next_retry_after" not in entry
