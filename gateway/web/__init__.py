"""The web interface: server-rendered pages for caseworkers, analysts and IG officers.

Pages hold no data access of their own. Each page calls the `/v1` API in process with the signed-in
user's bearer token (`api_client.py`), so every view passes the same authentication, policy decision
and write-ahead audit as any API client: there is no side door.
"""
