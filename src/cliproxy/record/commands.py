"""The ``record`` and ``replay`` sub-commands' arguments (``cliproxy.cli``): argparse only,
so ``cliproxy --help`` loads nothing more."""

from __future__ import annotations

import argparse

__all__ = ["add_record_arguments", "add_replay_parser"]


def add_record_arguments(record: argparse.ArgumentParser) -> None:
    record.add_argument(
        "-out",
        "--out",
        required=True,
        metavar="DIR",
        help="write one JSON recording per client request (scrubbed) into DIR",
    )


def add_replay_parser(sub: argparse._SubParsersAction) -> None:
    replay = sub.add_parser(
        "replay",
        help="replay recordings against a proxy and report every difference",
        allow_abbrev=False,
    )
    replay.add_argument("recordings", metavar="DIR", help="a folder of recordings (or one recording file)")
    replay.add_argument(
        "--against",
        default="",
        metavar="URL",
        help="a running proxy to test (its providers pointed at the recorded upstream); "
        "default: start one in-process from the recording's config.yaml",
    )
    replay.add_argument("--api-key", default="", metavar="K", help="with --against: the client key to send")
    replay.add_argument(
        "-config",
        "--config",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="config template for the in-process proxy (default DIR/config.yaml)",
    )
    replay.add_argument(
        "--upstream-port",
        type=int,
        default=0,
        metavar="N",
        help="port of the recorded upstream (default random)",
    )
    replay.add_argument(
        "--pace",
        type=float,
        default=0.0,
        metavar="F",
        help="stream chunks F times their recorded gaps apart (0: at once)",
    )
