"""``python -m router``: serve router with the settings from the environment."""

from gateway_shared.server import serve
from gateway_shared.settings import load
from router.settings import RouterSettings

settings = load(RouterSettings)
serve(
    "router.app:create_app",
    host=settings.host,
    port=settings.port,
    log_level=settings.log_level,
    access_log=settings.access_log,
)
