"""What a management write leaves in config.yaml around the key it changes.

CPA saves through ``SaveConfigPreserveComments`` (``internal/config/config_yaml.go``):
``mergeNodePreserve`` updates the parsed tree in place, so the comment heading the next
section (yaml.v3's head comment of that key) and the file's indentation survive a
whole-list write such as ``PUT /api-keys`` or ``PUT /claude-api-key``. CPA has no Go test
of this; the cases below are the panel's ordinary writes.
"""

from __future__ import annotations

from tests.management.conftest import mcall

CONFIG = """\
api-keys:
  - "old-1"  # laptop
  - "old-2"

# Upstream Claude keys
claude-api-key:
  - api-key: "sk-old"
    base-url: "https://example.invalid"

# How credentials are picked
routing:
  strategy: "round-robin"
"""


async def test_list_writes_keep_the_next_sections_heading_and_the_indentation(mproxy, tmp_path):
    """Item by index, the new value keeps the old one's quoting and comment; the lines
    heading the next section stay. Before, replacing a block list dropped the comment lines
    after it (ruamel keeps them on the list's last item) and every item's quotes and
    comment, and a file whose first nested mapping sat under a list item was re-indented
    to four spaces on every write."""
    proxy = await mproxy(CONFIG)
    assert (await mcall(proxy, "PUT", "/api-keys", ["new-1"]))[0] == 200
    assert (await mcall(proxy, "PUT", "/claude-api-key", [{"api-key": "sk-new"}]))[0] == 200
    text = (tmp_path / "config.yaml").read_text()
    body = text[text.index("api-keys:") :]
    assert body == (
        'api-keys:\n  - "new-1"  # laptop\n\n# Upstream Claude keys\n'
        'claude-api-key:\n  - api-key: "sk-new"\n\n# How credentials are picked\n'
        'routing:\n  strategy: "round-robin"\n'
    )
