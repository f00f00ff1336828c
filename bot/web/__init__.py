"""The Guichet web app: the mediators' console (and, later, the kiosk page and the widget).

Each front end is its own module; `app.create_app` assembles them. Run with
`python -m bot.web` (what `make run` does).
"""
