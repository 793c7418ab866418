"""Console users: demo users with random passwords kept only as argon2 hashes, and what each role may do."""

from __future__ import annotations

from pathlib import Path

from mash.console.users import ConsoleRole, User, UserDirectory, hash_password, write_demo_users

COORDINATOR = User(username="cora", role=ConsoleRole.COORDINATOR, password_hash="$argon2id$x")
MANAGER = User(username="mani", role=ConsoleRole.MANAGER, password_hash="$argon2id$x")


def test_demo_users_get_random_passwords_stored_only_as_argon2_hashes(tmp_path: Path) -> None:
    shown = write_demo_users(tmp_path / "users.json", tmp_path / "demo-users.json")
    assert {name: role for name, (role, _) in shown.items()} == {
        "coordinator": "coordinator",
        "manager": "manager",
        "operations": "read_only",
    }
    stored = (tmp_path / "users.json").read_text()
    assert "$argon2id$" in stored
    for _, password in shown.values():
        assert password not in stored
    directory = UserDirectory(tmp_path / "users.json")
    coordinator = directory.authenticate("coordinator", shown["coordinator"][1])
    assert coordinator is not None
    assert coordinator.role is ConsoleRole.COORDINATOR
    assert directory.authenticate("coordinator", shown["manager"][1]) is None
    assert directory.authenticate("nobody", "anything") is None
    assert write_demo_users(tmp_path / "u2.json", tmp_path / "d2.json")["manager"][1] != shown["manager"][1]


def test_roles_decide_who_may_decide_and_sign_off() -> None:
    hashed = hash_password("x")
    ops = User(username="ops", role=ConsoleRole.READ_ONLY, password_hash=hashed)
    assert not ops.can_decide
    assert not ops.can_sign_off
    assert COORDINATOR.can_decide
    assert not COORDINATOR.can_sign_off
    assert MANAGER.can_decide
    assert MANAGER.can_sign_off
