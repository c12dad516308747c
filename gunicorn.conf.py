"""gunicorn settings for ``make serve`` (the Makefile passes the bind address and workers)."""

# One JSON object per request on stdout, for log shippers.
accesslog = "-"
logger_class = "idp.serving.JsonAccessLogger"
# No control socket: several servers on one host would fight over its fixed path.
control_socket_disable = True
