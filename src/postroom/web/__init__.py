"""The web face: FastAPI pages (Jinja2, plain forms) and the JSON API, over ``services``.

See docs/web.md for the layout, the security rules and how the pages are tested.
"""
