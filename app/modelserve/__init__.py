"""modelserve: the small reference application stackprobe's live probes run against.

Modules: ``api`` (Flask app factory), ``worker`` (SQS consumer), ``healthcheck`` (container health
command), ``config`` (the environment contract), ``gunicorn_conf`` (production server settings).
"""

__version__ = "0.1.0"
