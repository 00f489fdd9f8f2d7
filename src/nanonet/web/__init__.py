"""HTTP ingress: public HTTP requests become calls on a mesh's request/reply ports.

``forms.py`` is the binary request and reply forms a guest reads and writes
(docs/http.md), ``head.py`` the strict HTTP/1.1 head parser, ``routes.py``
which port a path goes to, ``stats.py`` the per-route counters the observer
shows, ``server.py`` the asyncio server that joins them.
"""
