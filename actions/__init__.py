"""Rasa custom actions: thin adapters over the plain-Python core in `bot/`."""
