"""``POST /v0/management/api-call`` sends only a method HTTP can carry."""

from __future__ import annotations

import pytest

from tests.management.conftest import mcall, mproxy
from tests.management.test_ops_api import HEAD, Echo, echo

__all__ = ["echo", "mproxy"]


@pytest.mark.parametrize("method", ["GE T", "GET /x HTTP/1.1\\r\\nX:", "G\\u00e9T", "GET\\tX"])
async def test_a_method_that_is_not_a_token_is_refused(mproxy, echo: Echo, method):
    """CPA builds the request with Go's http.NewRequest, which refuses a method that is not
    an HTTP token: 400 "failed to build request". Before, such a method (a space, say) went
    out on the request line as it was, or failed as a 502; now nothing is sent."""
    proxy = await mproxy(HEAD)
    body = {"method": method.encode().decode("unicode_escape"), "url": echo.url + "/x"}
    assert await mcall(proxy, "POST", "/api-call", body) == (400, {"error": "failed to build request"})
    assert echo.seen == []
    ok = await mcall(proxy, "POST", "/api-call", {"method": "patch", "url": echo.url + "/x"})
    assert ok[0] == 200 and echo.seen[-1][0] == "PATCH"
