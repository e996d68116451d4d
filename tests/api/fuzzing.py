"""Schemathesis against the app's own OpenAPI document, through ASGI: shared by the test suite (few
examples) and bench/api/fuzz.py (many)."""

from collections.abc import Iterable

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, checks

from tests.support.dns import fake_dns

# Excluded, each for a reason: these reach real servers, and are covered where those servers run
# (tests/sending/test_real_relay.py; tests/bounces/test_api.py with the mail stack; tests/deliverability).
EXCLUDED = {
    ("POST", "/api/v1/campaigns/{campaign_id}/test"): "sends through the SMTP relay",
    ("POST", "/api/v1/sweeps"): "logs in to the bounce mailbox",
    (
        "POST",
        "/api/v1/campaigns/{campaign_id}/preflight",
    ): "asks DNS and spamd (tests/deliverability: NSD, SpamAssassin)",
}

CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
]


def fuzz(app: FastAPI, api_key: str, max_examples: int,
         modes: Iterable[GenerationMode] = (GenerationMode.POSITIVE,)) -> tuple[int, list[str]]:  # fmt: skip
    """(operations run, failures as text). Every operation of /api/v1 runs except EXCLUDED."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex="^/api/v1/")
    headers = {"Authorization": f"Bearer {api_key}"}
    failures: list[str] = []
    ran = 0
    # webhook URLs are resolved when registered: no name may be looked up off this machine
    with fake_dns({}):
        for result in schema.get_all_operations():
            op = result.ok()
            if (op.method.upper(), op.path) in EXCLUDED:
                continue
            ran += 1
            for mode in modes:

                @given(case=op.as_strategy(generation_mode=mode))
                @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck),
                          derandomize=True, database=None, phases=[Phase.explicit, Phase.generate])  # fmt: skip
                def run(case: schemathesis.Case) -> None:
                    case.call_and_validate(headers=headers, checks=CHECKS)

                try:
                    run()
                except Exception as exc:  # a failure report, kept to show all operations' failures at once
                    failures.append(f"{op.label} ({mode.value}): {exc}")
    return ran, failures
