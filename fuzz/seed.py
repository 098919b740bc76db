#!/usr/bin/env python3
"""Seed a fresh Conduit server with a little data for the fuzzer.

Usage: seed.py BASE_URL WORK_DIR [--no-nul]

Creates (through the public API only):
  - `fuzzer`        the user whose token schemathesis sends (written to WORK_DIR/token)
  - `fuzzfriend`    a second user: the fuzzer follows them; their article and
                    comment are someone else's resources (403 on change)
  - an article by each user, each with a tag, a comment on each, one favorite
Then writes WORK_DIR/seed.toml: schemathesis dictionaries and parameter
bindings so that path and query parameters hit these existing resources half
of the time (the other half stays random).
With --no-nul the hostile values contain no NUL character (run.sh --no-nul).
Standard library only; exits non-zero on any unexpected answer.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

PASSWORD = "fuzz-password-1"

# Hostile strings that fit anywhere a name or identifier goes: NUL bytes
# (PostgreSQL rejects them in text), LIKE wildcards, quotes, backslash,
# multi-byte and case-folding characters, blanks.
NASTY_KEYS = ["a\u0000b", "\u0000", "%", "_", "%_%", "' OR '1'='1", "\\", "\u00e9\u0301", "\u0130stanbul",
              "\U0001f980", "\u202e", "", " ", "a/b", "..", "a?b#c"]
# Longer texts around the server's limits (title 200, tag 40, description
# 1,000, bio 2,000, body 50,000), staying below the 64 KiB body limit.
NASTY_TEXT = ["t" * 200, "t" * 201, "d" * 1001, "b" * 2001, "\U0001f980" * 201, "x" * 50001, "line\r\nbreak\ttab"]


class Api:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def call(self, method: str, path: str, body=None, token: str | None = None, expect: int = 200):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Token {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        if status != expect:
            raise SystemExit(f"seed: {method} {path} answered {status}, expected {expect}: {raw[:500]!r}")
        return json.loads(raw) if raw else None


def toml_list(values) -> str:
    # JSON string escapes are TOML escapes too, as long as non-ASCII stays raw
    # (TOML has no surrogate-pair escapes).
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def main() -> int:
    args = sys.argv[1:]
    no_nul = "--no-nul" in args
    args = [a for a in args if a != "--no-nul"]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    api, work = Api(args[0]), args[1]

    def register(name: str) -> str:
        user = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        return api.call("POST", "/users", {"user": user}, expect=201)["user"]["token"]

    me = register("fuzzer")
    friend = register("fuzzfriend")
    # Log in once too, so the login path is known to work before fuzzing.
    api.call("POST", "/users/login", {"user": {"email": "fuzzer@example.com", "password": PASSWORD}})
    api.call("PUT", "/user", {"user": {"bio": "I fuzz APIs"}}, token=friend)

    def article(token: str, title: str, tag: str) -> str:
        body = {"article": {"title": title, "description": "seeded", "body": "seeded body", "tagList": [tag]}}
        return api.call("POST", "/articles", body, token=token, expect=201)["article"]["slug"]

    my_slug = article(me, "Fuzz seed article", "fuzzing")
    friend_slug = article(friend, "Fuzz friend article", "seeded")

    def comment(token: str, slug: str, text: str) -> int:
        return api.call("POST", f"/articles/{slug}/comments", {"comment": {"body": text}}, token=token)["comment"]["id"]

    my_comment = comment(me, my_slug, "first!")
    friend_comment = comment(friend, friend_slug, "hello from a friend")
    api.call("POST", f"/profiles/fuzzfriend/follow", token=me)
    api.call("POST", f"/articles/{my_slug}/favorite", token=friend)

    with open(f"{work}/token", "w", encoding="utf-8") as f:
        f.write(me)
    slugs = [my_slug, friend_slug]
    users = ["fuzzer", "fuzzfriend"]
    comments = [my_comment, friend_comment]
    dictionaries = {
        # Seeded identifiers, plus a few hostile strings for the same slots.
        "slugs": slugs + NASTY_KEYS,
        "usernames": users + ["FUZZER", "FuzzFriend"] + NASTY_KEYS,
        "tags": ["fuzzing", "seeded", "FUZZING"] + NASTY_KEYS,
        "comment_ids": comments + [0, -1, 2**31, 2**63 - 1, str(2**63)],
        "limits": [1, 100, 101, 2**31, 2**63 - 1, str(2**63)],
        "offsets": [0, 1, 2**31, 2**63 - 1, str(2**63)],
        # (2**63 is past a TOML integer, and past i64: sent as a string.)
        # Body fields: hostile strings, around the server's documented limits.
        "strings": NASTY_KEYS + NASTY_TEXT,
        "emails": ["fuzzer@example.com", "FUZZER@EXAMPLE.COM", "a\u0000b@example.com", "x@" + "e" * 300 + ".com"],
        "images": ["", "https://example.com/a.png", "javascript:alert(1)", "http://x/\u0000", "https://" + "e" * 2000],
    }
    bindings = {
        "path.slug": ("slugs", 0.5),
        "path.username": ("usernames", 0.5),
        "path.id": ("comment_ids", 0.5),
        "query.tag": ("tags", 0.5),
        "query.author": ("usernames", 0.5),
        "query.favorited": ("usernames", 0.5),
        "query.limit": ("limits", 0.2),
        "query.offset": ("offsets", 0.2),
        "body.user.username": ("usernames", 0.2),
        "body.user.email": ("emails", 0.2),
        "body.user.password": ("strings", 0.2),
        "body.user.bio": ("strings", 0.2),
        "body.user.image": ("images", 0.2),
        "body.article.title": ("strings", 0.2),
        "body.article.description": ("strings", 0.2),
        "body.article.body": ("strings", 0.2),
        "body.article.tagList[*]": ("tags", 0.2),
        "body.comment.body": ("strings", 0.2),
    }
    lines = ["# Generated by fuzz/seed.py: seeded identifiers and hostile values."]
    for name, values in dictionaries.items():
        if no_nul:
            values = [v for v in values if not (isinstance(v, str) and "\0" in v)]
        lines += [f"[dictionaries.{name}]", f"values = {toml_list(values)}"]
    lines += ["", "[parameters]"]
    for key, (name, probability) in bindings.items():
        lines.append(f'"{key}" = {{ dictionary = "{name}", probability = {probability} }}')
    seed = "\n".join(lines) + "\n"
    with open(f"{work}/seed.toml", "w", encoding="utf-8") as f:
        f.write(seed)
    print(f"seed: users {users}, articles {slugs}, comments {comments}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
