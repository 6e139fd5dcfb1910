"""``python -m policy``: serve policy with the settings from the environment."""

from gateway_shared.server import serve
from gateway_shared.settings import load
from policy.settings import PolicySettings

settings = load(PolicySettings)
serve(
    "policy.app:create_app",
    host=settings.host,
    port=settings.port,
    log_level=settings.log_level,
    access_log=settings.access_log,
)
