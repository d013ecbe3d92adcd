"""Run reports: the data model (`model`), built from the database (`build`), and the JSON,
Markdown and HTML writers (`writers`, `markdown`, `html`); import the module you need, so the
terminal summary does not load jinja2."""
