"""``nanonet bench``: the same work measured side by side, in one run.

W1 ping-pong latency, W2 stream throughput, W3 system calls per message and
W4 cold start and idle memory, over nanonet's tunnels and over the peers a
user would otherwise pick (Python and C sockets, a C shared-memory ring).
Every measured run happens in a child process of its own, so that a count of
system calls or a figure of memory covers that run and nothing else.
"""
