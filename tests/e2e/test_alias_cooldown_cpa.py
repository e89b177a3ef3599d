"""An OAuth alias request's cooldown is kept under the upstream model it resolves to, as
CPA's ``stateModelForExecution`` keeps it (sdk/cliproxy/auth/conductor_models.go): a 429
on one name cools the credential for the other name too."""

from __future__ import annotations

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_oauth_files import claude_file, write_auth

UPSTREAM = "claude-sonnet-4-6"
ALIAS = 'oauth-model-alias:\n  claude: [{name: "claude-sonnet-4-6", alias: "s", fork: true}]\n'


async def _chat(url: str, model: str) -> None:
    async with openai.AsyncOpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0, timeout=10) as client:
        await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])


@pytest.mark.parametrize(("first", "then"), [("s", UPSTREAM), (UPSTREAM, "s")], ids=["alias", "upstream"])
async def test_a_429_on_one_name_cools_the_upstream_model_for_both(
    start_proxy, fakes, tmp_path, clock, first, then
):
    """CPA's TestManagerExecute_OAuthAliasBypassesBlockedRouteModel, the other way round:
    with ``fork`` both the alias ``s`` and ``claude-sonnet-4-6`` are served by one Claude
    account; a 429 for either name cools the account for ``claude-sonnet-4-6`` (the
    resolved upstream model, CPA's state model), so the next request by the other name is
    answered 429 by the proxy without reaching the upstream. Before, the cooldown was kept
    under the name the client asked for and the other name was tried again (one more
    failing upstream request per cooldown window). Once the cooldown is over, a whole
    answer by either name clears the upstream model's record (its back-off too), as CPA's
    success result for the state model does."""
    write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + ALIAS, clock=clock)
    fakes.claude.fail_next(429, retry_after=60)
    with pytest.raises(openai.RateLimitError):
        await _chat(proxy.url, first)
    assert len(fakes.claude.requests) == 1
    with pytest.raises(openai.RateLimitError):
        await _chat(proxy.url, then)
    assert len(fakes.claude.requests) == 1  # cooling: the upstream is not asked again
    state = proxy.service.pool.state
    assert await state.get_cooldown("claude-a.json", UPSTREAM) is not None
    clock.advance(61)
    await _chat(proxy.url, then)
    assert len(fakes.claude.requests) == 2
    assert await state.get_cooldown("claude-a.json", UPSTREAM) is None
