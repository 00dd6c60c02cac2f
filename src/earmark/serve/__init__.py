"""``earmark serve``: an HTTP service (and, later, a page) on the library's API; see :mod:`earmark.serve.app`."""
