"""GET /metrics: Prometheus's text format. With BULKMAIL_METRICS_TOKEN set, only a request bearing it; without,
only a client on this machine (the socket's peer, not a proxy's forwarded address)."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from app.deps import from_this_machine
from app.metrics.http import Metrics, token_matches

router = APIRouter(tags=["metrics"], include_in_schema=False)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    token = request.app.state.settings.metrics_token
    if token is not None:
        if not token_matches(token.get_secret_value(), request.headers.get("authorization")):
            return PlainTextResponse(
                "a bearer token (BULKMAIL_METRICS_TOKEN) is required\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    elif not from_this_machine(request):
        return PlainTextResponse(
            "metrics answer clients on this machine only; set BULKMAIL_METRICS_TOKEN to scrape from elsewhere\n",
            status_code=403,
        )
    registry: Metrics = request.app.state.metrics
    return Response(registry.exposition(), media_type=CONTENT_TYPE_LATEST)
