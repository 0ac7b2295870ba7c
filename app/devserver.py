"""`make run`: start Kvarn locally and say where it is and how to log in."""

from __future__ import annotations

import argparse
import os


def main() -> None:
    parser = argparse.ArgumentParser(description="Run Kvarn for local development")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    base_url = f"http://{args.host}:{args.port}"
    os.environ.setdefault("KVARN_BASE_URL", base_url)
    os.environ.setdefault("KVARN_DEV_MAILBOX", "true")

    from . import create_app
    from .devtools.demo import DEMO_LOGINS

    app = create_app()
    lines = [
        "",
        f"  Kvarn is running at {base_url}/",
    ]
    if app.config.get("DEV_MAILBOX"):
        lines.append(f"  Mail it sends is readable at {base_url}/dev/mailbox")
    if DEMO_LOGINS:
        lines.append(f"  Staff log-in at {base_url}/login with (email / password):")
        lines += [f"    {role:<12} {email} / {password}" for role, email, password in DEMO_LOGINS]
    lines.append("  Stop with Ctrl+C.\n")
    print("\n".join(lines), flush=True)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
