import logging
import os
import pickle
import stat
import threading
from dataclasses import dataclass

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from postroom.config import Settings
from postroom.errors import ConfigError, SecretError
from postroom.services import secrets
from postroom.services.secrets import Keyring, Secret, load_or_create_key
from postroom.store.models import MailAccount, UserAccount

PASSWORD = "hunter2-Très-secret"


def _settings(home, key=None):
    return Settings(home=home, database_url="sqlite://", secret_key=key)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0)  # the most permissive umask: the key file must still be 0600
    yield
    os.umask(old)


def test_key_file_is_made_on_first_use_with_mode_0600(tmp_path, open_umask):
    settings = _settings(tmp_path / "home")
    keyring = load_or_create_key(settings)
    assert _mode(settings.key_path) == 0o600
    Fernet(settings.key_path.read_bytes().strip())  # a well-formed key
    assert sorted(p.name for p in settings.key_path.parent.iterdir()) == ["secret.key"]
    again = load_or_create_key(settings)
    assert again.open(keyring.seal(PASSWORD)) == PASSWORD


def test_an_existing_key_file_is_never_overwritten(tmp_path):
    settings = _settings(tmp_path)
    load_or_create_key(settings)
    before = settings.key_path.read_bytes()
    secrets._create_key_file(settings.key_path)  # as a second process losing the race would
    assert settings.key_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]


def test_processes_racing_agree_on_one_key(tmp_path):
    settings = _settings(tmp_path)
    barrier = threading.Barrier(8)
    keyrings = []

    def start():
        barrier.wait()
        keyrings.append(load_or_create_key(settings))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sealed = keyrings[0].seal(PASSWORD)
    assert [k.open(sealed) for k in keyrings] == [PASSWORD] * 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]


def test_key_file_open_to_others_is_refused(tmp_path):
    settings = _settings(tmp_path)
    load_or_create_key(settings)
    settings.key_path.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        load_or_create_key(settings)
    assert str(caught.value) == (
        f"the key file {settings.key_path} is open to group or others (mode 0644)"
        f" (run: chmod 600 {settings.key_path})"
    )
    settings.key_path.chmod(0o620)
    with pytest.raises(ConfigError, match="mode 0620"):
        load_or_create_key(settings)


def test_malformed_key_file_is_refused(tmp_path):
    settings = _settings(tmp_path)
    fd = os.open(settings.key_path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"not-a-key\n")
    os.close(fd)
    with pytest.raises(ConfigError) as caught:
        load_or_create_key(settings)
    assert str(caught.value).startswith(f"the key file {settings.key_path} is malformed")
    assert "Fernet.generate_key()" in caught.value.advice


def test_environment_key_wins_over_the_key_file(tmp_path):
    file_keyring = load_or_create_key(_settings(tmp_path))
    env_key = Keyring.generate_key().decode()
    env_keyring = load_or_create_key(_settings(tmp_path, key=env_key))
    sealed = env_keyring.seal(PASSWORD)
    assert Keyring(env_key.encode()).open(sealed) == PASSWORD
    with pytest.raises(SecretError):
        file_keyring.open(sealed)


def test_environment_key_never_creates_a_file(tmp_path):
    load_or_create_key(_settings(tmp_path / "home", key=Keyring.generate_key().decode()))
    assert not (tmp_path / "home").exists()


def test_malformed_environment_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="POSTROOM_SECRET_KEY is malformed"):
        load_or_create_key(_settings(tmp_path, key="short"))
    with pytest.raises(ConfigError, match="POSTROOM_SECRET_KEY is malformed"):
        load_or_create_key(_settings(tmp_path, key="ключ"))


def test_wrong_key_is_a_secret_error(tmp_path):
    sealed = Keyring(Keyring.generate_key()).seal(PASSWORD)
    other = Keyring(Keyring.generate_key())
    with pytest.raises(SecretError) as caught:
        other.open(sealed)
    assert "restore the key file" in str(caught.value)
    with pytest.raises(SecretError):
        other.open(b"garbage")


def test_seal_is_randomised_and_round_trips():
    keyring = Keyring(Keyring.generate_key())
    first, second = keyring.seal(PASSWORD), keyring.seal(Secret(PASSWORD))
    assert first != second
    assert keyring.open(first) == keyring.open(second) == PASSWORD
    assert keyring.open_secret(first) == Secret(PASSWORD)


def test_sealed_password_in_the_database_is_not_the_password(session_factory):
    keyring = Keyring(Keyring.generate_key())
    with session_factory.begin() as session:
        user = UserAccount(email="rec@firm.example")
        session.add(user)
        session.flush()
        session.add(
            MailAccount(
                user_id=user.id,
                label="work",
                imap_host="imap.firm.example",
                username="rec@firm.example",
                secret=keyring.seal(Secret(PASSWORD)),
            )
        )
    with session_factory() as session:
        stored = bytes(session.execute(text("SELECT secret FROM mail_account")).scalar_one())
    assert PASSWORD.encode() not in stored
    assert b"hunter2" not in stored
    assert keyring.open(stored) == PASSWORD


@dataclass
class _Login:
    user: str
    password: Secret


def test_secret_never_prints_itself(caplog):
    secret = Secret(PASSWORD)
    assert str(secret) == "**********"
    assert repr(secret) == "'**********'"
    assert f"{secret} {secret!r}" == "********** '**********'"
    assert repr(_Login("rec", secret)) == "_Login(user='rec', password='**********')"
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("login with %s / %r", secret, secret)
    assert PASSWORD not in caplog.text
    assert "login with ********** / '**********'" in caplog.text
    assert PASSWORD not in str(ValueError(secret))
    assert secret.reveal() == PASSWORD
    assert "**********" in repr(Keyring(Keyring.generate_key()))


def test_secret_is_compared_not_hashed_or_pickled():
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    with pytest.raises(TypeError):
        hash(Secret("a"))
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret("a"))
