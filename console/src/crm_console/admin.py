"""Staff accounts from the command line (`./crm admin ...`): the first admin, and a way back in
when every admin has forgotten a password. Passwords are generated and printed once; the
database holds only their Argon2 hashes.

  python -m crm_console.admin create EMAIL [--role admin|viewer] [--name NAME]
  python -m crm_console.admin first-admin [--email EMAIL]   # only when no account exists yet
  python -m crm_console.admin reset-password EMAIL
  python -m crm_console.admin list
"""

import argparse
import asyncio
import sys

from crm_console.auth import StaffAccounts, generate_password
from crm_console.settings import ConsoleSettings
from crm_console.store import INDEXES, ConsoleStore
from crm_servicekit.errors import DomainError
from crm_servicekit.mongo import Mongo


async def run(args: argparse.Namespace) -> int:
    settings = ConsoleSettings()
    mongo = Mongo(settings.mongodb_url, settings.mongodb_database)
    try:
        await mongo.ensure_indexes(INDEXES)
        store = ConsoleStore(mongo.db)
        accounts = StaffAccounts(
            store,
            session_hours=settings.session_hours,
            lockout_failures=settings.lockout_failures,
            lockout_minutes=settings.lockout_minutes,
        )
        if args.command == "first-admin":
            if await store.any_staff():
                return 0  # said once, at the first start; never again
            args.role, args.name = "admin", "Administrator"
            args.command = "create"
        if args.command == "create":
            password = generate_password()
            await accounts.create(args.email, password, args.role, args.name or "")
            print(f"Staff account created: {args.email.strip()} ({args.role})")
            print(f"Password (shown only now): {password}")
        elif args.command == "reset-password":
            password = await accounts.reset_password(args.email)
            print(f"New password for {args.email.strip()} (shown only now; its sessions ended): {password}")
        elif args.command == "list":
            for s in await accounts.list():
                print(f"{s['email']}\t{s['role']}\t{'active' if s['active'] else 'deactivated'}")
        return 0
    except DomainError as e:
        print(f"error: {e.detail or e.title}", file=sys.stderr)
        return 1
    finally:
        await mongo.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./crm admin", description="Staff accounts of the console")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="a new staff account; its password is printed once")
    create.add_argument("email")
    create.add_argument("--role", choices=["admin", "viewer"], default="admin")
    create.add_argument("--name", default="")
    first = sub.add_parser("first-admin", help="an admin account, only if no account exists")
    first.add_argument("--email", default="admin@localhost")
    reset = sub.add_parser("reset-password", help="a new generated password for an account")
    reset.add_argument("email")
    sub.add_parser("list", help="every staff account")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
