"""`promptopt view`: a local web viewer over the database (Starlette and uvicorn, the `view` extra).

Nothing here is imported by the plugin; `cli` imports it only when `promptopt view` runs.
"""
