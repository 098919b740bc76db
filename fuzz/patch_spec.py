#!/usr/bin/env python3
"""Write the copy of the RealWorld spec that the fuzzer tests against.

The spec (shared/spec/openapi.yml, RealWorld 1.1.0) is never edited. This
script loads it, applies the accepted deviations listed in ACCEPTED below
(each one narrow, each one with its reason; fuzz/README.md has the same list),
points `servers` at the server under test and writes the result as JSON.

Usage: patch_spec.py SPEC_IN SPEC_OUT BASE_URL
"""

from __future__ import annotations

import copy
import json
import sys

import yaml

# Operations (by operationId) that take a path parameter naming a resource
# that may not exist: the server answers 404 {"errors":{"<thing>":["not found"]}}.
OPS_WITH_RESOURCE_IN_PATH = [
    "GetProfileByUsername",
    "FollowUserByUsername",
    "UnfollowUserByUsername",
    "GetArticle",
    "UpdateArticle",
    "DeleteArticle",
    "GetArticleComments",
    "CreateArticleComment",
    "DeleteArticleComment",
    "CreateArticleFavorite",
    "DeleteArticleFavorite",
]

# Operations on a resource that only its author may change: 403.
OPS_OWNER_ONLY = ["UpdateArticle", "DeleteArticle", "DeleteArticleComment"]

# Operations with optional auth whose spec entry lists no 401, although the
# server (deliberately) rejects an invalid token sent to them.
OPS_OPTIONAL_AUTH_WITHOUT_401 = ["GetArticle"]

# The error body every status above carries: {"errors": {"<key>": ["message", ...]}}.
ERROR_MODEL_REF = {"$ref": "#/components/schemas/GenericErrorModel"}


def error_response(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": copy.deepcopy(ERROR_MODEL_REF)}},
    }


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in {"get", "put", "post", "delete", "patch"}:
                yield path, method, op


def by_id(spec: dict) -> dict[str, dict]:
    return {op["operationId"]: op for _, _, op in operations(spec)}


def accept_field_keyed_errors(spec: dict) -> None:
    """A1. Validation errors are keyed by field ({"errors":{"email":[...]}}).

    The spec's GenericErrorModel *requires* errors.body, so every field-keyed
    error violates it. Kept checked: `errors` is a non-empty object whose
    every value is a list of strings (`body` is just one possible key).
    """
    model = spec["components"]["schemas"]["GenericErrorModel"]
    errors = model["properties"]["errors"]
    errors.pop("required", None)
    errors["minProperties"] = 1
    errors["additionalProperties"] = {"type": "array", "items": {"type": "string"}}


def accept_null_bio_image(spec: dict) -> None:
    """A2. `bio` and `image` of a user / profile are null when never set."""
    schemas = spec["components"]["schemas"]
    for name in ("User", "Profile"):
        for field in ("bio", "image"):
            schemas[name]["properties"][field]["type"] = ["string", "null"]


def accept_undocumented_statuses(spec: dict) -> None:
    """A3-A6. Statuses the spec does not list for some operations."""
    ops = by_id(spec)
    for op_id in OPS_WITH_RESOURCE_IN_PATH:
        ops[op_id]["responses"].setdefault("404", error_response("Not found (accepted spec gap)"))
    for op_id in OPS_OWNER_ONLY:
        ops[op_id]["responses"].setdefault("403", error_response("Forbidden: not the author (accepted spec gap)"))
    for op_id in OPS_OPTIONAL_AUTH_WITHOUT_401:
        ops[op_id]["responses"].setdefault("401", {"$ref": "#/components/responses/Unauthorized"})
    for _, _, op in operations(spec):
        if "requestBody" in op:
            op["responses"].setdefault("413", error_response("Body over BODY_LIMIT_BYTES (accepted spec gap)"))


ACCEPTED = [accept_field_keyed_errors, accept_null_bio_image, accept_undocumented_statuses]


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    spec_in, spec_out, base_url = sys.argv[1:]
    with open(spec_in, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    for patch in ACCEPTED:
        patch(spec)
    spec["servers"] = [{"url": base_url}]
    with open(spec_out, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=2, sort_keys=False)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
