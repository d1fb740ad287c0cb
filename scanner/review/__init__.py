"""The curators' review app (FastAPI): pages, JSON API, sessions, dashboard."""
