"""``python -m router``: serve router with the settings from the environment."""

from gateway_shared.tier.server import serve_tier
from gateway_shared.tier.settings import load
from router.settings import RouterSettings

serve_tier("router.app:create_app", load(RouterSettings))
