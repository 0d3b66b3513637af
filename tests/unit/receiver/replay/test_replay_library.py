"""The replay library below the CLI (``receiver.replay``): options, output and errors without click."""

import ast
import os
import time

import pytest

import receiver.replay
from receiver.replay import send
from receiver.replay.choices import ReplayOptions
from receiver.replay.errors import BadOption, OptionConflict, ReplayError
from receiver.replay.report import Output
from receiver.replay.selection import read_ids
from receiver.replay.steps import replay_captures
from receiver.replay.targets import HttpTarget, build_target
from tests.support.capture_factory import days_ago, make_capture, smartech_body, write_captures


class Collected:
    """An ``Output`` that keeps what a replay says instead of printing it."""

    def __init__(self):
        self.lines, self.records = [], []
        self.output = Output(line=self.line, record=self.records.append)

    def line(self, text, err=False):
        self.lines.append((text, err))


def test_library_modules_never_import_click_nor_the_cli():
    folder = os.path.dirname(receiver.replay.__file__)
    for name in os.listdir(folder):
        if name.endswith(".py"):
            tree = ast.parse(open(os.path.join(folder, name), encoding="utf-8").read())
            imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
            imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
            assert not {module.partition(".")[0] for module in imported} & {"click", "scripts"}, name


@pytest.mark.parametrize(
    "options, error, option, message",
    [
        ({}, OptionConflict, None, "choose exactly one target: --to URL or --enqueue"),
        ({"url": "ftp://x/"}, BadOption, "--to", "must start with http:// or https://"),
        ({"url": "http://x/", "user": "u"}, BadOption, "--user/--password", "give both --user and --password"),
        ({"enqueue": True, "credentials_given": True}, OptionConflict, None, "--user and --password go with --to"),
        ({"enqueue": True, "keep_path": True}, OptionConflict, None, "--keep-path goes with --to, not --enqueue"),
        ({"url": "http://x/", "files": ("a",), "ids": ("b",)}, OptionConflict, None, "--file and --id/--ids-from"),
    ],
)
def test_options_are_checked_when_made_and_errors_name_the_option(options, error, option, message):
    with pytest.raises(error, match=message) as raised:
        ReplayOptions(data_dir="var", **options)
    assert isinstance(raised.value, ReplayError) and isinstance(raised.value, ValueError)
    assert getattr(raised.value, "option", None) == option


def test_options_hide_the_password_and_ids_are_checked_by_the_store():
    assert "s3cret" not in repr(ReplayOptions(data_dir="var", url="http://x/", user="u", password="s3cret"))
    capture_id = make_capture(days_ago(1), "x")["id"]
    assert read_ids([capture_id.lower()], [f" {capture_id}\n", "\n"]) == (capture_id,)
    with pytest.raises(BadOption, match="'nope' is not a capture id") as raised:
        read_ids(["nope"])
    assert raised.value.option == "ID"


def test_build_target_loads_settings_only_for_the_queue():
    def no_settings():
        raise AssertionError("settings loaded for --to")

    target = build_target(ReplayOptions(data_dir="var", url="http://x/", keep_path=True), no_settings)
    assert isinstance(target, HttpTarget) and target.describe() == "POST http://x/ (original paths)"


def test_a_dry_run_says_everything_through_its_output_and_prints_nothing(data_dir, capsys):
    records = write_captures(data_dir, [make_capture(days_ago(1, hour=1 + i), smartech_body()) for i in range(3)])
    said = Collected()
    options = ReplayOptions(data_dir=data_dir, url="http://127.0.0.1:9/", dry_run=True)
    run = replay_captures(options, build_target(options), said.output)
    run.summary()
    assert run.status == 0 and said.records == []
    assert [text.split()[0] for text, _ in said.lines[:-1]] == [record["id"] for record in records]
    assert said.lines[-1] == ("dry run: 3 captures would be sent to POST http://127.0.0.1:9/; nothing was sent", False)
    assert capsys.readouterr() == ("", "")


def test_failures_and_the_json_summary_go_through_the_output(data_dir, tmp_path):
    write_captures(data_dir, [make_capture(days_ago(1, hour=1 + i), smartech_body()) for i in range(2)])
    said = Collected()
    state = str(tmp_path / "state")
    options = ReplayOptions(data_dir=data_dir, url="http://127.0.0.1:9/", as_json=True, state_path=state, timeout=1)
    started = time.monotonic()
    run = replay_captures(options, build_target(options), said.output)
    run.summary()
    assert time.monotonic() - started < 30
    assert run.status == 1 and [row["outcome"] for row in said.records[:-1]] == ["error", "error"]
    assert said.records[-1]["summary"]["errors"] == 2 and said.lines == []


def test_answers_other_than_200_are_one_error_with_a_hint_on_401():
    answers = [send.Answer("EMAIL_OPEN", 200, "01X"), send.Answer("SMS_CLICK", 401, send.NO_ID)]
    with pytest.raises(ReplayError) as raised:
        send.check_answers(answers)
    assert str(raised.value) == "1 of 2 samples not answered with 200: SMS_CLICK=401 (401: check --user/--password)"
    send.check_answers(answers[:1])
    with pytest.raises(BadOption) as raised:
        send.post_samples("127.0.0.1/webhook", "u", "p", answered=print)
    assert raised.value.option == "URL"
