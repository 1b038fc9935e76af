"""A tiny Markdown subset to HTML converter."""
from .block import render
from .escape import escape_html
from .inline import render_inline

__all__ = ["escape_html", "render", "render_inline"]
