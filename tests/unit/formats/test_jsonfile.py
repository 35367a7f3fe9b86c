"""Reading JSON within bounds, and one-line messages from validation errors."""

import json
from pathlib import Path

import pytest

from profiler.errors import UsageError
from profiler.formats import jsonfile
from profiler.formats.jsonfile import MAX_BYTES, MAX_DEPTH, UnreadableNumber
from profiler.formats.seccomp import OciProfile


def parse(text: str):
    return jsonfile.parse_json(text, "f.json", "fix it")


def test_nesting_depth_ignores_brackets_in_strings() -> None:
    assert jsonfile.nesting_depth('{"a": [1, {"b": "[[[{{{"}]}') == 3
    assert jsonfile.nesting_depth('["\\"[[[", []]') == 2
    assert jsonfile.nesting_depth("3") == 0


def test_depth_is_refused_before_json_could_recurse() -> None:
    assert parse("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(UsageError, match="more than 64 levels deep"):
        parse("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    with pytest.raises(UsageError, match="more than 64 levels deep"):
        parse("[" * 200_000 + "]" * 200_000)  # json.loads alone raises RecursionError


def test_many_brackets_side_by_side_are_not_depth() -> None:
    assert len(parse("[" + ", ".join(["[]"] * 10_000) + "]")) == 10_000


def test_numbers_python_cannot_convert_become_unreadable_not_a_crash() -> None:
    data = parse('{"a": ' + "9" * 5000 + ', "b": -' + "1" * 100 + ', "c": 1e999, "d": NaN}')
    assert {k: v.description for k, v in data.items() if isinstance(v, UnreadableNumber)} == {
        "a": "a 5000-digit number",
        "b": "a 100-digit number",
        "c": "1e999, beyond the range of a number",
        "d": "NaN, which is not a JSON number",
    }
    assert parse(str(2**64)) == 2**64  # 20 digits: read as a number, refused by the models


def test_duplicate_keys_and_lone_surrogates_are_refused() -> None:
    with pytest.raises(UsageError, match='key "a" appears twice'):
        parse('{"a": 1, "b": {"a": 2, "a": 3}}')
    with pytest.raises(UsageError, match="unpaired"):
        parse('["\\udc00"]')
    assert parse('["\\ud83d\\ude00"]') == ["\U0001f600"]  # a pair is a character


def test_invalid_json_names_line_and_column() -> None:
    with pytest.raises(UsageError) as info:
        parse('{\n  "a": 1,\n}')
    assert info.value.message == (
        "f.json is not valid JSON (line 3 column 1: Expecting property name enclosed in double quotes)"
    )
    assert info.value.hint == "fix it"


def test_files_that_are_not_regular_or_too_big(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        jsonfile.read_text(tmp_path / "none", "f", "h")
    with pytest.raises(UsageError, match="is a directory"):
        jsonfile.read_text(tmp_path, "f", "h")
    big = tmp_path / "big.json"
    with big.open("w") as handle:
        handle.truncate(MAX_BYTES + 1)
    with pytest.raises(UsageError, match="16 MiB"):
        jsonfile.read_text(big, "f", "h")
    (tmp_path / "bad.json").write_bytes(b'{"\xff"}')
    with pytest.raises(UsageError, match=r"not UTF-8 text \(byte 0xff at offset 2\)"):
        jsonfile.read_text(tmp_path / "bad.json", "f", "h")


def test_a_symlink_to_a_regular_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_text("[]")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    assert jsonfile.read_json(tmp_path / "link.json", "f", "h") == []


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("syscalls", 3, "args", 0, "op"), "syscalls[3].args[0].op"),
        (("counts", "read; rm -rf /", "[key]"), 'counts["read; rm -rf /"]'),
        (("roles", "driver JVM"), 'roles["driver JVM"]'),
        ((), "the top level"),
    ],
)
def test_locations_read_like_paths_into_the_file(loc, path) -> None:
    assert jsonfile.location(loc) == path


def test_one_line_names_the_first_problem_and_counts_the_rest() -> None:
    data = {"defaultAction": "SCMP_ACT_NOPE", "syscalls": [{"names": [1], "action": 2}]}
    with pytest.raises(UsageError) as info:
        jsonfile.validate(OciProfile, data, "profile p.json", "fix it")
    message = info.value.message
    assert message.startswith("profile p.json: defaultAction: expected one of 'SCMP_ACT_KILL'")
    assert message.endswith('got "SCMP_ACT_NOPE"; 2 more problems after this one')
    assert "\n" not in message


def test_shown_values_are_short_and_json_spelled() -> None:
    assert jsonfile.shown(True) == "true"
    assert jsonfile.shown(None) == "null"
    assert jsonfile.shown("x" * 100).endswith("...") and len(jsonfile.shown("x" * 100)) == 60
    assert jsonfile.shown({"a": 1}) == "an object"
    assert jsonfile.shown([]) == "an empty list"
    assert json.loads(jsonfile.shown("a\nb")) == "a\nb"  # escaped: never a second line
