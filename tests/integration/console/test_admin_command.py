"""`./crm admin` (python -m crm_console.admin) against the real database: the first admin is
made once and its password printed once; accounts are unique by e-mail whatever its case; a
reset password replaces the old one."""

import os
import re
import subprocess
import sys
import uuid

import pytest
from argon2 import PasswordHasher
from pymongo import MongoClient


@pytest.fixture
def admin_cli(infra):
    env = {
        **os.environ,
        "MONGODB_URL": infra["mongodb"],
        "CRM_CONSOLE_DATABASE": f"t_console_{uuid.uuid4().hex[:8]}",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "crm_console.admin", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    run.database = env["CRM_CONSOLE_DATABASE"]  # type: ignore[attr-defined]
    yield run
    MongoClient(infra["mongodb"]).drop_database(env["CRM_CONSOLE_DATABASE"])


def stored(infra, database: str) -> list[dict]:
    return list(MongoClient(infra["mongodb"])[database]["staff"].find({}))


def test_the_first_admin_is_made_once_and_its_password_shown_once(admin_cli, infra):
    first = admin_cli("first-admin", "--email", "owner@shop.example")
    assert first.returncode == 0, first.stderr
    password = re.search(r"Password \(shown only now\): (\S+)", first.stdout).group(1)
    again = admin_cli("first-admin", "--email", "owner@shop.example")
    assert again.returncode == 0 and again.stdout == ""
    [account] = stored(infra, admin_cli.database)
    assert account["role"] == "admin" and password not in str(account)  # only the hash is kept
    assert PasswordHasher().verify(account["password_hash"], password)


def test_an_email_has_one_account_whatever_its_case_and_errors_are_plain(admin_cli):
    assert admin_cli("create", "Maria@Shop.example", "--role", "viewer").returncode == 0
    taken = admin_cli("create", "maria@shop.EXAMPLE")
    assert taken.returncode == 1 and "exists" in taken.stderr
    bad = admin_cli("create", "not-an-email")
    assert bad.returncode == 1 and "e-mail" in bad.stderr
    listed = admin_cli("list").stdout
    assert listed.splitlines() == ["Maria@Shop.example\tviewer\tactive"]


def test_reset_password_replaces_the_old_one(admin_cli, infra):
    created = admin_cli("create", "ops@shop.example")
    old = re.search(r"Password \(shown only now\): (\S+)", created.stdout).group(1)
    reset = admin_cli("reset-password", "ops@shop.example")
    new = reset.stdout.rsplit(" ", 1)[1].strip()
    [account] = stored(infra, admin_cli.database)
    assert PasswordHasher().verify(account["password_hash"], new) and new != old
    assert admin_cli("reset-password", "nobody@shop.example").returncode == 1
