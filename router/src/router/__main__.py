"""``python -m router``: serve router with the settings from the environment."""

from gateway_shared.server import serve_tier
from gateway_shared.settings import load
from router.settings import RouterSettings

serve_tier("router.app:create_app", load(RouterSettings))
