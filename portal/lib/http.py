def client_ip(request) -> str | None:
    """The address the request came from, as the web server saw it.

    Behind a proxy, configure the proxy to set REMOTE_ADDR (e.g. gunicorn --forwarded-allow-ips);
    X-Forwarded-For is not trusted here because any client can write it.
    """
    return request.META.get("REMOTE_ADDR") or None
