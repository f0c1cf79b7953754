import pytest

from boundaries._kernel.errors import InvalidInput
from twitterclone.infra.cursor import decode_cursor, encode_cursor
from twitterclone.settings import Settings, SettingsError


def test_settings_read_prefixed_environment() -> None:
    s = Settings.from_env(
        {"TWITTERCLONE_TWEET_MAX_LENGTH": "500", "TWITTERCLONE_CORS_ORIGINS": "a, b", "OTHER": "x"}
    )
    assert s.tweet_max_length == 500
    assert s.cors_origin_list == ["a", "b"]


def test_bad_setting_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="TWITTERCLONE_TWEET_MAX_LENGTH"):
        Settings.from_env({"TWITTERCLONE_TWEET_MAX_LENGTH": "many"})


def test_cursor_round_trip_and_garbage() -> None:
    assert decode_cursor(encode_cursor([5, "x"]), tuple[int, str]) == (5, "x")
    for bad in ["!!!", "eyJ", encode_cursor("text")]:
        with pytest.raises(InvalidInput):
            decode_cursor(bad, tuple[int, str])
