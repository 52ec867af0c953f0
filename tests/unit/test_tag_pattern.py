"""The `tag` pattern: the first tag it matches whole, and a pattern that backtracks refused within its time limit."""

from __future__ import annotations

import pytest

from imagedefs.errors import ConfigurationError
from imagedefs.tag_pattern import TagPattern

SOURCE = 'UserParameters "tag"'


def test_the_first_tag_matched_whole_is_taken() -> None:
    pattern = TagPattern.compile(r"v[0-9]+", SOURCE)
    assert pattern.first_match(["latest", "v12x", "v7", "v8"]) == "v7"
    assert pattern.first_match(["latest"]) is None
    assert pattern.first_match([]) is None


def test_a_pattern_that_takes_too_long_is_refused_naming_it_the_tag_and_where_it_was_set() -> None:
    # Given a pattern with nested repetition and a tag that makes it backtrack
    pattern = TagPattern.compile("(a+)+$", SOURCE)
    # When it is matched under a short time limit
    with pytest.raises(ConfigurationError) as raised:
        pattern.first_match(["v1", "a" * 40 + "!"], seconds=0.05)
    # Then the message says where the pattern was set, the pattern, the tag it was matched against, and the limit
    message = str(raised.value)
    assert message.startswith(f'{SOURCE} "(a+)+$" was refused')
    assert f'against tag "{"a" * 40}!"' in message
    assert "took more than 0.05 s" in message
    assert "Write a simpler pattern" in message


def test_an_invalid_pattern_is_refused_naming_where_it_was_set() -> None:
    with pytest.raises(ConfigurationError, match=r'^UserParameters "tag" is not a valid regular expression .*"v\[0-9"'):
        TagPattern.compile("v[0-9", SOURCE)
