import pytest

from hotline.phone import normalise_caller


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+48600111222", "+48600111222"),
        ("600111222", "+48600111222"),
        ("0048600111222", "+48600111222"),
        ("+380441234567", "+380441234567"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_numbers_are_read_as_e164(raw: str, e164: str) -> None:
    caller = normalise_caller(raw)
    assert caller.e164 == e164
    assert not caller.withheld


@pytest.mark.parametrize("raw", ["", "anonymous", "Anonymous", "unknown", "Restricted", None])
def test_withheld_numbers_stay_withheld(raw: str | None) -> None:
    caller = normalise_caller(raw)
    assert caller.withheld
    assert caller.e164 is None


def test_presentation_restricted_hides_a_present_number() -> None:
    caller = normalise_caller("+48600111222", presentation_restricted=True)
    assert caller.withheld and caller.e164 is None


@pytest.mark.parametrize("raw", ["abc", "12", "+", "1" * 200, "'; DROP TABLE calls; --", "\x00\x01"])
def test_garbage_is_kept_raw_never_raises(raw: str) -> None:
    caller = normalise_caller(raw)
    assert caller.e164 is None
    assert not caller.withheld
    assert len(caller.raw) <= 80
