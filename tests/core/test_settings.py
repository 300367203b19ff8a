from pathlib import Path

import pytest

from hotline.settings import ensure_secrets, load_settings


def test_defaults_file_environment_in_that_order(tmp_path: Path) -> None:
    config = tmp_path / "hotline.toml"
    config.write_text("fastagi_port = 4600\nconsole_port = 9000\nreturning_caller_days = 3\n")
    env = {"HOTLINE_STATE_DIR": str(tmp_path), "HOTLINE_FASTAGI_PORT": "4700"}
    settings = load_settings(env)
    assert settings.fastagi_port == 4700  # environment beats file
    assert settings.console_port == 9000  # file beats default
    assert settings.ami_port == 5038  # default
    assert settings.returning_caller_days == 3
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"


def test_unknown_setting_in_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "hotline.toml").write_text("fastagi_prot = 1\n")
    with pytest.raises(ValueError, match="fastagi_prot"):
        load_settings({"HOTLINE_STATE_DIR": str(tmp_path)})


def test_secrets_never_come_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "hotline.toml").write_text('ami_secret = "x"\n')
    with pytest.raises(ValueError, match="environment"):
        load_settings({"HOTLINE_STATE_DIR": str(tmp_path)})


def test_secrets_are_generated_once_and_kept_private(tmp_path: Path) -> None:
    settings = load_settings({"HOTLINE_STATE_DIR": str(tmp_path)})
    assert settings.ami_secret == ""
    first = ensure_secrets(settings)
    second = ensure_secrets(settings)
    assert first.ami_secret and len(first.ami_secret) >= 24
    assert first.ami_secret == second.ami_secret
    assert first.console_session_key == second.console_session_key
    assert (tmp_path / "secrets.toml").stat().st_mode & 0o077 == 0


def test_secret_from_environment_wins(tmp_path: Path) -> None:
    settings = load_settings({"HOTLINE_STATE_DIR": str(tmp_path), "HOTLINE_AMI_SECRET": "from-env"})
    assert ensure_secrets(settings).ami_secret == "from-env"
