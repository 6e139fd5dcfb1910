"""``python -m edge``: serve edge with the settings from the environment."""

from edge.settings import EdgeSettings
from gateway_shared.server import serve
from gateway_shared.settings import load

settings = load(EdgeSettings)
serve(
    "edge.app:create_app",
    host=settings.host,
    port=settings.port,
    log_level=settings.log_level,
    access_log=settings.access_log,
)
