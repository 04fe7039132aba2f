"""The results pages at ``/ui/``: server-rendered (Jinja2 templates, one stylesheet, one small script),
behind the API's authentication and policy table.

Modules: ``routes`` (the pages), ``session`` (cookies and CSRF), ``pages`` (rendering, formats, refusals as
pages), ``charts`` (the lineage chart as inline SVG).
"""

from hokusai.server.ui.routes import router

__all__ = ["router"]
