"""Schema post-processing: the error answers every operation can give, documented once for all.

Any call can present a broken token (401); any write can come with a read-only token (403); any id in a
path, and any pagination cursor, can name nothing (404); any body can be invalid (400); any call can
run over its rate limit (429, with Retry-After). Views document
their own specific errors; this fills in these generic ones where a view did not, so that clients (and
schemathesis) find every status the API really answers with in the schema.
"""

from __future__ import annotations

from typing import Any

SAFE_METHODS = {"get", "head", "options"}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
RETRY_AFTER = {
    "description": "Seconds until a call of this kind is accepted again.",
    "schema": {"type": "integer"},
}


def _generic_errors(method: str, path: str, operation: dict[str, Any]) -> dict[str, str]:
    errors = {}
    if operation.get("security") and {} not in operation["security"]:
        errors["401"] = "The token is missing, not valid, expired or revoked."
    if method not in SAFE_METHODS:
        errors["403"] = "A read-only token, or a role that may not do this."
    conditional = any(
        p.get("in") == "header" and p.get("name") == "If-Match" for p in operation.get("parameters", [])
    )
    if "requestBody" in operation or conditional:
        errors["400"] = "The request is not valid (a body field, or an If-Match that is not an ETag)."
    if "requestBody" in operation:
        errors["413"] = "The body is larger than the server reads (ANNOTATOR_MAX_REQUEST_BODY_BYTES)."
    errors["429"] = (
        "Too many calls of this kind (reads, writes, suggestions or exports) from this token or user; "
        "Retry-After says how many seconds to wait."
    )
    paginated = any(p.get("name") == "cursor" for p in operation.get("parameters", []))
    if "{" in path or paginated:
        errors["404"] = "No such object (or cursor) in the projects you can reach."
    return errors


def add_generic_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    if "Error" not in result.get("components", {}).get("schemas", {}):
        return result
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            for status, description in _generic_errors(method, path, operation).items():
                response = {
                    "content": {"application/json": {"schema": ERROR_REF}},
                    "description": description,
                }
                if status == "429":
                    response["headers"] = {"Retry-After": RETRY_AFTER}
                responses.setdefault(status, response)
            operation["responses"] = dict(sorted(responses.items()))
    return result
