"""The per-user codeloci service: one process per data directory (and store) that owns the
store, the embedder, indexing, the watchers and the ``codeloci-ast`` children, shared by every
``codeloci serve`` session and every CLI command of that user.

* :mod:`~codeloci.service.paths`: where the service's socket, lock, pid and log files live, and
  the private directory that keeps other users out;
* :mod:`~codeloci.service.client`: a small HTTP client of the service over its unix socket, and
  :func:`~codeloci.service.client.ensure_service`, which starts the service when none runs
  (exactly one of several concurrent starters wins);
* :mod:`~codeloci.service.proxy`: ``codeloci serve`` as a thin session: JSON-RPC lines from
  stdin posted to the service, its answers written to stdout, with the session's settings in a
  header; it imports neither the MCP SDK nor the store;
* :mod:`~codeloci.service.cli`: ``codeloci service status|stop|logs``.

The service process itself, our MCP server over streamable HTTP on the socket, stopping once
idle, is :mod:`codeloci.service_main` (``codeloci service run``), beside this package: the
session side imports neither the MCP SDK nor the server.
"""
