"""The live line's three forms: rich on a terminal, a line per change when piped, JSON with --json."""

from __future__ import annotations

import io
import json

from releasectl.commands.context import Context, RecordingReporter, StreamReporter
from releasectl.commands.deployment_watch import JsonWatch, LineWatch, RichWatch, open_watch
from releasectl.core.config import Config
from releasectl.core.service_deployment import read
from tests.core.test_service_deployment import run
from tests.support.scripted_deployments import sd_frame


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def context(reporter: object, *, json_output: bool = False) -> Context:
    return Context(config=Config(), reporter=reporter, json_output=json_output)  # type: ignore[arg-type]


CANARY_10 = read(sd_frame(run(), "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=10))


def test_the_form_follows_the_output() -> None:
    assert isinstance(open_watch(context(RecordingReporter(), json_output=True)), JsonWatch)
    assert isinstance(open_watch(context(StreamReporter(io.StringIO()))), LineWatch)
    watch = open_watch(context(StreamReporter(Terminal())))
    assert isinstance(watch, RichWatch)
    watch.close()


def test_piped_only_changes_make_lines() -> None:
    reporter = RecordingReporter()
    watch = LineWatch(context(reporter))
    watch.update(CANARY_10, 180, changed=True)
    watch.update(CANARY_10, 150, changed=False)
    assert reporter.texts() == [
        "deployment abcDEF123: IN_PROGRESS PRODUCTION_TRAFFIC_SHIFT: traffic new 10% / old 90%, "
        "running 2/2, bake time 3m00s left"
    ]


def test_json_events_are_one_object_per_line() -> None:
    reporter = RecordingReporter()
    JsonWatch(context(reporter, json_output=True)).update(CANARY_10, 180, changed=True)
    (line,) = reporter.texts("log")
    assert json.loads(line)["traffic"] == {"new": 10.0, "old": 90.0}


def test_on_a_terminal_the_reporters_lines_print_above_the_live_line_and_the_stream_comes_back() -> None:
    terminal = Terminal()
    reporter = StreamReporter(terminal)
    watch = open_watch(context(reporter))
    reporter.info("event: (service hello-world) has started 2 tasks")
    watch.update(CANARY_10, 180, changed=True)
    watch.close()
    assert reporter.stream is terminal
    shown = terminal.getvalue()
    assert "event: (service hello-world) has started 2 tasks" in shown
    assert "PRODUCTION_TRAFFIC_SHIFT: traffic new 10% / old 90%" in shown
