"""Public output of approved entries: evidence pages (static and served), ask, contribute."""
