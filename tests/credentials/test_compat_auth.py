"""Which credentials of a type no built-in serves the OpenAI-compatible provider takes."""

from __future__ import annotations

import pytest

from cliproxy.config import Config
from cliproxy.credentials.compat_auth import native_compat
from cliproxy.credentials.record import Credential
from cliproxy.providers.openai_compat import OpenAICompatProvider
from cliproxy.providers.registry import NoProviderError, Providers

CONFIG = Config.model_validate(
    {"openai-compatibility": [{"name": "native-provider", "base-url": "https://native.example.com/v1"}]}
)


@pytest.mark.parametrize(
    ("cred", "want"),
    [
        (Credential(id="a", provider="native-provider"), True),
        (Credential(id="b", provider="plugin-provider", base_url="https://compat.example.com/v1"), True),
        (
            Credential(
                id="c", provider="plugin-provider", attributes={"base_url": "https://c.example.com/v1"}
            ),
            True,
        ),
        (Credential(id="d", provider="openai-compatibility", compat_name="compat"), True),
        (Credential(id="e", provider="plugin-provider", attributes={"api_key": "test"}), False),
    ],
    ids=["config provider", "inline base url", "base url attribute", "compat metadata", "plain plugin auth"],
)
def test_native_compat(cred: Credential, want: bool) -> None:
    """TestHasNativeOpenAICompatExecutorConfig: a type named like an ``openai-compatibility``
    entry, an inline ``base_url`` (the file's, or an attribute a plugin set) or a
    ``compat_name`` goes to the OpenAI-compatible provider; a plain plugin auth with only a
    key does not, and then no provider serves it (a 503 for the client, not a 500). One
    with no ``base_url`` of its own is refused too (a 503, where CPA's executor answers 401
    "missing provider baseURL"), so its key never goes to OpenAI's default endpoint."""
    assert native_compat(cred, CONFIG) is want
    providers = Providers()
    providers.configure(CONFIG)
    if want and (cred.base_url or cred.compat_name):
        assert isinstance(providers.provider_for(cred), OpenAICompatProvider)
    else:  # without an endpoint of its own: never OpenAI's (CPA: "missing provider baseURL")
        with pytest.raises(NoProviderError) as caught:
            providers.provider_for(cred)
        assert caught.value.status == 503
