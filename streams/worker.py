"""The worker's app: settings from the environment, topics, tables, agents registered.

``newsflow worker`` imports ``app`` from here; ``faust -A streams.worker worker`` works too.
"""

from __future__ import annotations

from streams.agents import register_agents
from streams.app import create_app
from streams.settings import Settings

settings = Settings.from_env()
app, topics, tables = create_app(settings)
register_agents(app, topics, tables, settings)
