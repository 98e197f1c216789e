"""A small client of nova-lxc-compute's API over its Unix socket.

Only the standard library: http.client over an AF_UNIX socket.  The
daemon answers one request per connection (Connection: close), so every
call opens its own connection; under nova-compute's eventlet monkey
patching the socket is a green one and a call never blocks the service.
"""

import http.client
import json
import socket

# The microversion the adapter speaks unless a call needs less (the
# driver API of docs/api.md, "The driver API").
VERSION = '2.96'


class ApiError(Exception):
    """The daemon answered with an error status."""

    def __init__(self, method, path, status, message):
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        super().__init__('nova-lxc-compute: %s %s: %d %s'
                         % (method, path, status, message))


class DaemonUnavailable(Exception):
    """Nothing answers on the daemon's socket.

    socket_path and reason (the error of the connection) say where and
    why, for the compute service's disabled reason.
    """

    def __init__(self, socket_path, reason):
        self.socket_path = socket_path
        self.reason = reason
        super().__init__('nova-lxc-compute does not answer on %s (%s): is '
                         'it running, and may nova-compute open its socket?'
                         % (socket_path, reason))


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__('localhost', timeout=timeout)
        self._socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _fault_message(status, body):
    """The message of a Nova fault body {"NAME": {"code", "message"}}."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and len(doc) == 1:
            inner = next(iter(doc.values()))
            if isinstance(inner, dict) and 'message' in inner:
                return str(inner['message'])
    except ValueError:
        pass
    text = body.decode('utf-8', 'replace').strip()
    return text[:500] or http.client.responses.get(status, '')


class Client(object):
    def __init__(self, socket_path, timeout=120):
        self.socket_path = socket_path
        self.timeout = timeout

    def _open(self, method, path, body, version, headers, timeout):
        conn = UnixHTTPConnection(self.socket_path,
                                  timeout if timeout else self.timeout)
        hdrs = {'Accept': 'application/json',
                'OpenStack-API-Version': 'compute %s' % version}
        data = None
        if body is not None:
            data = json.dumps(body).encode('utf-8')
            hdrs['Content-Type'] = 'application/json'
        hdrs.update(headers or {})
        try:
            conn.request(method, path, body=data, headers=hdrs)
            return conn, conn.getresponse()
        except (ConnectionError, FileNotFoundError, socket.timeout,
                OSError) as e:
            conn.close()
            raise DaemonUnavailable(self.socket_path, e)

    def request(self, method, path, body=None, version=VERSION,
                headers=None, timeout=None):
        """Send one request; return (status, headers, decoded JSON or None).

        An error status raises ApiError with the fault's message.
        """
        conn, resp = self._open(method, path, body, version, headers,
                                timeout)
        try:
            raw = resp.read()
        finally:
            conn.close()
        if resp.status >= 400:
            raise ApiError(method, path, resp.status,
                           _fault_message(resp.status, raw))
        doc = None
        if raw:
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = None
        return resp.status, resp.headers, doc

    def stream(self, method, path, version=VERSION, timeout=None):
        """Send one request; return (connection, response) unread.

        For the long answers (image files, the events stream): the caller
        reads the response as it arrives and closes the connection.
        """
        conn, resp = self._open(method, path, None, version, None, timeout)
        if resp.status >= 400:
            try:
                raw = resp.read()
            finally:
                conn.close()
            raise ApiError(method, path, resp.status,
                           _fault_message(resp.status, raw))
        return conn, resp
