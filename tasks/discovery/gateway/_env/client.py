#!/usr/bin/env python3
"""`client`: the bots that post through the gateway, and a way to test one."""

import json
import os
import sys
from pathlib import Path

from gwlib import Paths, send

PATHS = Paths(Path(os.environ.get("APP_WORKDIR") or os.getcwd()).resolve())
USAGE = "usage: client list | client test NAME CHANNEL"


def main(args: list[str]) -> None:
    if args == ["list"]:
        for p in sorted(PATHS.clients.glob("*.json")):
            print(f"{p.stem:<16} clients/{p.name}")
        return
    if args[:1] != ["test"] or len(args) != 3:
        print(USAGE)
        sys.exit(2)
    try:
        conf = json.loads(PATHS.client(args[1]).read_text())
        code, body = send(PATHS, args[1], conf["token"], args[2], f"test message from {args[1]}")
    except (OSError, ValueError, KeyError) as e:
        print(f"client {args[1]}: {e}")
        sys.exit(1)
    print(f"HTTP {code}: {json.dumps(body)}")
    sys.exit(0 if code == 200 else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
