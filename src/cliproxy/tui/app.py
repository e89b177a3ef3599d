"""The Textual app: credentials, usage, logs tail, config reload."""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Log, Static, TabbedContent, TabPane

from cliproxy.tui.client import ManagementClient, ManagementError

__all__ = ["CREDENTIAL_COLUMNS", "ProxyTui"]

# (column title, auth-files field)
CREDENTIAL_COLUMNS = (
    ("Name", "name"),
    ("Provider", "provider"),
    ("Label", "label"),
    ("Status", "status"),
    ("Success", "success"),
    ("Failed", "failed"),
)
LOG_POLL_SECONDS = 2.0


class ProxyTui(App[None]):
    """A management client for one running proxy."""

    TITLE = "cliproxy"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh"),
        Binding("c", "reload_config", "Reload config"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, url: str, key: str) -> None:
        super().__init__()
        self.client = ManagementClient(url, key)
        self.sub_title = url
        self._log_after = 0

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="credentials"):
            with TabPane("Credentials", id="credentials"):
                yield DataTable(id="credentials-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Usage", id="usage"):
                yield Static(id="usage-view")
            with TabPane("Logs", id="logs"):
                yield Log(id="logs-view", max_lines=2000)
        yield Static("", id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#credentials-table", DataTable).add_columns(
            *(title for title, _ in CREDENTIAL_COLUMNS)
        )
        await self.action_refresh()
        self.set_interval(LOG_POLL_SECONDS, self.poll_logs)

    async def on_unmount(self) -> None:
        await self.client.close()

    def show_status(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    async def action_refresh(self) -> None:
        """Fetch credentials and usage again."""
        try:
            files = await self.client.auth_files()
            usage = await self.client.key_usage()
            models = await self.client.model_usage()
        except ManagementError as exc:
            self.show_status(f"error: {exc}")
            return
        self.fill_credentials(files)
        self.query_one("#usage-view", Static).update(_models_text(models) + "\n\n" + _usage_text(usage))
        self.show_status(f"{len(files)} credentials")
        await self.poll_logs()

    def fill_credentials(self, files: list[dict[str, Any]]) -> None:
        table = self.query_one("#credentials-table", DataTable)
        table.clear()
        for entry in sorted(files, key=lambda f: str(f.get("name", ""))):
            table.add_row(
                *(_cell(entry.get(field)) for _, field in CREDENTIAL_COLUMNS), key=str(entry.get("name"))
            )

    async def poll_logs(self) -> None:
        """Append the log lines written since the last poll (quiet when file logging is off)."""
        try:
            answer = await self.client.logs(self._log_after)
        except ManagementError:
            return
        lines = answer.get("lines")
        if isinstance(lines, list) and lines:
            self.query_one("#logs-view", Log).write_lines(str(line) for line in lines)
        latest = answer.get("latest-timestamp")
        if isinstance(latest, int) and latest > self._log_after:
            self._log_after = latest

    async def action_reload_config(self) -> None:
        """Have the proxy read and apply its config file again."""
        try:
            await self.client.reload_config()
        except ManagementError as exc:
            self.show_status(f"reload failed: {exc}")
            return
        await self.action_refresh()
        self.show_status(f"config reloaded; {self.query_one('#status', Static).render()}")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _models_text(models: list[dict[str, Any]] | str) -> str:
    """Per model: requests, failures and tokens (the usage ledger)."""
    if isinstance(models, str):
        return f"By model: {models}"
    out = ["By model (usage ledger)"]
    for row in models:
        out.append(
            f"  {row.get('key', '')} ({row.get('label', '')})  requests {row.get('requests', 0)}"
            f"  failed {row.get('failed', 0)}  tokens in {row.get('input_tokens', 0)}"
            f" out {row.get('output_tokens', 0)}"
        )
    return "\n".join(out) if models else "By model: no requests yet"


def _usage_text(usage: Any) -> str:
    """Per provider and key: success and failed counts (``/api-key-usage``)."""
    if not isinstance(usage, dict) or not usage:
        return "API keys: no usage yet"
    out: list[str] = ["API keys (config)"]
    for provider, keys in sorted(usage.items()):
        out.append(str(provider))
        if not isinstance(keys, dict):
            out.append("  " + orjson.dumps(keys).decode())
            continue
        for name, counts in sorted(keys.items()):
            base, _, key = str(name).partition("|")
            ok = counts.get("success", 0) if isinstance(counts, dict) else "?"
            bad = counts.get("failed", 0) if isinstance(counts, dict) else "?"
            out.append(f"  {base or '(default)'}  key ...{key[-4:]}  success {ok}  failed {bad}")
    return "\n".join(out)
