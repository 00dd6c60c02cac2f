"""The service's routes, one router per kind (see :func:`earmark.serve.app.create_app`)."""
