#!/usr/bin/python3
"""check-schemas.py: hold recorded API exchanges against tempest.lib's
response schemas, the way tempest.lib's compute service clients do.

Each line of the logs (NLX_TEST_SCHEMA_LOG, written by
tests/lib/nlx-test-client.c) is one exchange.  It is replayed through the
tempest.lib service client method that sends that request (ServersClient.
show_server for GET /v2.1/servers/{id}, ...): the client picks its schema
for the microversion with its own schema_versions_info/get_schema, checks
the status, the body and the headers with tempest.lib's validator, and
checks that the answer names the version asked for.  Nothing of tempest's
is re-typed here: only which client method sends which request.  The
client's URL must be the recorded one, so a wrong row here shows.

An exchange that tempest has no client method for (nova-lxc's own
extensions, Glance) is counted and listed as "no schema"; an error
answer (4xx/5xx) is one tempest validates no body of, and is counted.

Usage: check-schemas.py [--known FILE] [--summary] LOG...
       check-schemas.py --boundaries
Exit status: 1 when a violation is found that --known does not list;
0 otherwise.  A line of --known that matches no violation any more is
printed as FIXED, to be removed (not an error: an exchange of a racy
test may not happen on every run).
"""
import argparse
import json
import re
import sys
import urllib.parse

import jsonschema.exceptions
from tempest.lib.common import jsonschema_validator
from tempest.lib.common import rest_client
from tempest.lib import exceptions
from tempest.lib.services.compute import (
    aggregates_client, availability_zone_client, base_compute_client,
    flavors_client, hypervisor_client, images_client, keypairs_client,
    limits_client, services_client, servers_client, versions_client,
    volumes_client)

BASE = 'http://localhost'

# tempest puts str(ValidationError) in its message, which pprints the
# whole body and schema: most of the time of a run.  The verdict is the
# same with a short text, and every_error() lists the errors itself.
jsonschema.exceptions.ValidationError.__str__ = lambda self: self.message
ENDPOINT = BASE + '/v2.1'


class AuthStub:
    """What a RestClient asks its auth provider, answered for ENDPOINT."""

    def auth_request(self, method, url, headers, body, filters):
        return ENDPOINT + '/' + url, headers, body

    def base_url(self, filters, auth_data=None):
        return ENDPOINT

    def get_token(self):
        return 'token'


class Response(dict):
    """tempest.lib.common.http's Response: lower-case headers, .status."""

    def __init__(self, exchange):
        super().__init__()
        for key, value in exchange.get('headers', {}).items():
            self[key.lower()] = value
        self.status = exchange['status']
        self['status'] = str(self.status)
        self.reason = ''
        self.version = 11


class Replay:
    """The HTTP object of every client: answers the recorded exchange and
    keeps the URL the client built, to be compared with the recorded one."""

    def __init__(self):
        self.exchange = None
        self.urls = []

    def request(self, url, method, headers=None, body=None, chunked=False):
        self.urls.append((method, url))
        text = self.exchange['body'] or ''
        return Response(self.exchange), text.encode('utf-8')


REPLAY = Replay()

# tempest stops at the first error of a body; the schema its client chose
# is kept here so that every error of that body can be listed.
CHOSEN = []
_validate_response = rest_client.RestClient.validate_response.__func__


def _keep_schema(cls, schema, resp, body):
    CHOSEN.append((schema, body))
    return _validate_response(cls, schema, resp, body)


rest_client.RestClient.validate_response = classmethod(_keep_schema)


def every_error(message):
    """All errors of the body the client rejected, as (what, where)."""
    if not CHOSEN or not CHOSEN[-1][0].get('response_body') or \
            'response body is invalid (' not in message:
        return [(message.split('\n')[0] if 'Details: ' not in message
                 else message.split('Details: ', 1)[1].split('\n')[0], '')]
    schema, body = CHOSEN[-1]
    validator = jsonschema_validator.JSONSCHEMA_VALIDATOR(
        schema['response_body'],
        format_checker=jsonschema_validator.FORMAT_CHECKER)
    found = []
    for error in validator.iter_errors(body):
        where = ''.join('[%s]' % ('*' if isinstance(p, int) else repr(p))
                        for p in error.absolute_path) or 'top'
        found.append((error.message, where))
    return found


def client(cls):
    made = cls(AuthStub(), 'compute', 'RegionOne')
    made.http_obj = REPLAY
    return made


SERVERS = client(servers_client.ServersClient)
# As tests/tempest/tempest.conf.in says: nova-lxc sets no passwords and
# answers none, as Nova with [api] enable_instance_password false.
SERVERS.enable_instance_password = False
FLAVORS = client(flavors_client.FlavorsClient)
KEYPAIRS = client(keypairs_client.KeyPairsClient)
LIMITS = client(limits_client.LimitsClient)
ZONES = client(availability_zone_client.AvailabilityZoneClient)
SERVICES = client(services_client.ServicesClient)
AGGREGATES = client(aggregates_client.AggregatesClient)
HYPERVISORS = client(hypervisor_client.HypervisorClient)
IMAGES = client(images_client.ImagesClient)
VOLUMES = client(volumes_client.VolumesClient)
VERSIONS = client(versions_client.VersionsClient)


def params(query):
    return dict(urllib.parse.parse_qsl(query or '', keep_blank_values=True))


def action_call(ids, query, body):
    """POST /servers/{id}/action: the client method of the action."""
    (name, args), = body.items()
    server = ids[0]
    args = args if isinstance(args, dict) else {}
    if name == 'rebuild':
        args = dict(args)
        return lambda: SERVERS.rebuild_server(server, args.pop('imageRef', None),
                                              **args)
    if name == 'createImage':
        return lambda: IMAGES.create_image(server, **args)
    if name == 'os-getVNCConsole':
        return lambda: SERVERS.get_vnc_console(server, **args)
    methods = {
        'reboot': 'reboot_server', 'os-stop': 'stop_server',
        'os-start': 'start_server', 'pause': 'pause_server',
        'unpause': 'unpause_server', 'suspend': 'suspend_server',
        'resume': 'resume_server', 'lock': 'lock_server',
        'unlock': 'unlock_server', 'rescue': 'rescue_server',
        'unrescue': 'unrescue_server', 'shelve': 'shelve_server',
        'unshelve': 'unshelve_server',
        'shelveOffload': 'shelve_offload_server',
        'os-getConsoleOutput': 'get_console_output',
        'createBackup': 'create_backup', 'changePassword': 'change_password',
        'confirmResize': 'confirm_resize_server',
        'revertResize': 'revert_resize_server',
        'forceDelete': 'force_delete_server',
        'restore': 'restore_soft_deleted_server',
        'os-resetState': 'reset_state', 'migrate': 'migrate_server',
        'os-migrateLive': 'live_migrate_server',
        'addSecurityGroup': 'add_security_group',
        'removeSecurityGroup': 'remove_security_group',
        'trigger_crash_dump': 'trigger_crash_dump',
    }
    if name == 'resize':
        args = dict(args)
        return lambda: SERVERS.resize_server(server, args.pop('flavorRef', None),
                                             **args)
    if name in ('unrescue',):
        return lambda: SERVERS.unrescue_server(server)
    method = methods.get(name)
    if method is None or not hasattr(SERVERS, method):
        return None
    return lambda: getattr(SERVERS, method)(server, **args)


ID = '([^/]+)'
# (method, path under /v2.1, the call of tempest.lib that sends it).  The
# path is a regular expression; its groups are the ids, unquoted.
ROUTES = [
    ('GET', 'servers', lambda i, q, b: lambda: SERVERS.list_servers(**params(q))),
    ('GET', 'servers/detail',
     lambda i, q, b: lambda: SERVERS.list_servers(detail=True, **params(q))),
    ('POST', 'servers', lambda i, q, b: lambda: SERVERS.create_server(**b['server'])),
    ('GET', 'servers/' + ID, lambda i, q, b: lambda: SERVERS.show_server(i[0])),
    ('PUT', 'servers/' + ID,
     lambda i, q, b: lambda: SERVERS.update_server(i[0], **b['server'])),
    ('DELETE', 'servers/' + ID, lambda i, q, b: lambda: SERVERS.delete_server(i[0])),
    ('POST', 'servers/' + ID + '/action', action_call),
    ('POST', 'servers/' + ID + '/remote-consoles',
     lambda i, q, b: lambda: SERVERS.get_remote_console(
         i[0], b['remote_console'].get('type'),
         b['remote_console'].get('protocol'))),
    ('GET', 'servers/' + ID + '/os-volume_attachments',
     lambda i, q, b: lambda: SERVERS.list_volume_attachments(i[0])),
    ('POST', 'servers/' + ID + '/os-volume_attachments',
     lambda i, q, b: lambda: SERVERS.attach_volume(i[0], **b['volumeAttachment'])),
    ('GET', 'servers/' + ID + '/os-volume_attachments/' + ID,
     lambda i, q, b: lambda: SERVERS.show_volume_attachment(i[0], i[1])),
    ('DELETE', 'servers/' + ID + '/os-volume_attachments/' + ID,
     lambda i, q, b: lambda: SERVERS.detach_volume(i[0], i[1])),
    ('GET', 'servers/' + ID + '/metadata',
     lambda i, q, b: lambda: SERVERS.list_server_metadata(i[0])),
    ('POST', 'servers/' + ID + '/metadata',
     lambda i, q, b: lambda: SERVERS.update_server_metadata(i[0], b['metadata'])),
    ('PUT', 'servers/' + ID + '/metadata',
     lambda i, q, b: lambda: SERVERS.set_server_metadata(i[0], b['metadata'])),
    ('GET', 'servers/' + ID + '/metadata/' + ID,
     lambda i, q, b: lambda: SERVERS.show_server_metadata_item(i[0], i[1])),
    ('PUT', 'servers/' + ID + '/metadata/' + ID,
     lambda i, q, b: lambda: SERVERS.set_server_metadata_item(i[0], i[1], b['meta'])),
    ('DELETE', 'servers/' + ID + '/metadata/' + ID,
     lambda i, q, b: lambda: SERVERS.delete_server_metadata_item(i[0], i[1])),
    ('GET', 'servers/' + ID + '/ips',
     lambda i, q, b: lambda: SERVERS.list_addresses(i[0])),
    ('GET', 'servers/' + ID + '/ips/' + ID,
     lambda i, q, b: lambda: SERVERS.list_addresses_by_network(i[0], i[1])),
    ('GET', 'servers/' + ID + '/os-instance-actions',
     lambda i, q, b: lambda: SERVERS.list_instance_actions(i[0])),
    ('GET', 'servers/' + ID + '/os-instance-actions/' + ID,
     lambda i, q, b: lambda: SERVERS.show_instance_action(i[0], i[1])),
    ('GET', 'servers/' + ID + '/tags', lambda i, q, b: lambda: SERVERS.list_tags(i[0])),
    ('PUT', 'servers/' + ID + '/tags',
     lambda i, q, b: lambda: SERVERS.update_all_tags(i[0], b['tags'])),
    ('DELETE', 'servers/' + ID + '/tags',
     lambda i, q, b: lambda: SERVERS.delete_all_tags(i[0])),
    ('GET', 'servers/' + ID + '/tags/' + ID,
     lambda i, q, b: lambda: SERVERS.check_tag_existence(i[0], i[1])),
    ('PUT', 'servers/' + ID + '/tags/' + ID,
     lambda i, q, b: lambda: SERVERS.update_tag(i[0], i[1])),
    ('DELETE', 'servers/' + ID + '/tags/' + ID,
     lambda i, q, b: lambda: SERVERS.delete_tag(i[0], i[1])),
    ('GET', 'servers/' + ID + '/os-server-password',
     lambda i, q, b: lambda: SERVERS.show_password(i[0])),
    ('DELETE', 'servers/' + ID + '/os-server-password',
     lambda i, q, b: lambda: SERVERS.delete_password(i[0])),
    ('GET', 'servers/' + ID + '/os-security-groups',
     lambda i, q, b: lambda: SERVERS.list_security_groups_by_server(i[0])),
    ('GET', 'servers/' + ID + '/diagnostics',
     lambda i, q, b: lambda: SERVERS.show_server_diagnostics(i[0])),
    ('GET', 'flavors', lambda i, q, b: lambda: FLAVORS.list_flavors(**params(q))),
    ('GET', 'flavors/detail',
     lambda i, q, b: lambda: FLAVORS.list_flavors(detail=True, **params(q))),
    ('GET', 'flavors/' + ID, lambda i, q, b: lambda: FLAVORS.show_flavor(i[0])),
    ('GET', 'flavors/' + ID + '/os-extra_specs',
     lambda i, q, b: lambda: FLAVORS.list_flavor_extra_specs(i[0])),
    ('GET', 'flavors/' + ID + '/os-extra_specs/' + ID,
     lambda i, q, b: lambda: FLAVORS.show_flavor_extra_spec(i[0], i[1])),
    ('GET', 'flavors/' + ID + '/os-flavor-access',
     lambda i, q, b: lambda: FLAVORS.list_flavor_access(i[0])),
    ('GET', 'os-keypairs', lambda i, q, b: lambda: KEYPAIRS.list_keypairs(**params(q))),
    ('POST', 'os-keypairs',
     lambda i, q, b: lambda: KEYPAIRS.create_keypair(**b['keypair'])),
    ('GET', 'os-keypairs/' + ID,
     lambda i, q, b: lambda: KEYPAIRS.show_keypair(i[0], **params(q))),
    ('DELETE', 'os-keypairs/' + ID,
     lambda i, q, b: lambda: KEYPAIRS.delete_keypair(i[0], **params(q))),
    ('GET', 'limits', lambda i, q, b: lambda: LIMITS.show_limits()),
    ('GET', 'os-availability-zone',
     lambda i, q, b: lambda: ZONES.list_availability_zones()),
    ('GET', 'os-availability-zone/detail',
     lambda i, q, b: lambda: ZONES.list_availability_zones(detail=True)),
    ('GET', 'os-services', lambda i, q, b: lambda: SERVICES.list_services(**params(q))),
    ('GET', 'os-aggregates', lambda i, q, b: lambda: AGGREGATES.list_aggregates()),
    ('GET', 'os-aggregates/' + ID,
     lambda i, q, b: lambda: AGGREGATES.show_aggregate(i[0])),
    ('GET', 'os-hypervisors',
     lambda i, q, b: lambda: HYPERVISORS.list_hypervisors(**params(q))),
    ('GET', 'os-hypervisors/detail',
     lambda i, q, b: lambda: HYPERVISORS.list_hypervisors(detail=True, **params(q))),
    ('GET', 'os-hypervisors/statistics',
     lambda i, q, b: lambda: HYPERVISORS.show_hypervisor_statistics()),
    ('GET', 'os-hypervisors/' + ID + '/uptime',
     lambda i, q, b: lambda: HYPERVISORS.show_hypervisor_uptime(i[0])),
    ('GET', 'os-hypervisors/' + ID + '/search',
     lambda i, q, b: lambda: HYPERVISORS.search_hypervisor(i[0])),
    ('GET', 'os-hypervisors/' + ID + '/servers',
     lambda i, q, b: lambda: HYPERVISORS.list_servers_on_hypervisor(i[0])),
    ('GET', 'os-hypervisors/' + ID,
     lambda i, q, b: lambda: HYPERVISORS.show_hypervisor(i[0], **params(q))),
    ('GET', 'images', lambda i, q, b: lambda: IMAGES.list_images(**params(q))),
    ('GET', 'images/detail',
     lambda i, q, b: lambda: IMAGES.list_images(detail=True, **params(q))),
    ('GET', 'images/' + ID, lambda i, q, b: lambda: IMAGES.show_image(i[0])),
    ('DELETE', 'images/' + ID, lambda i, q, b: lambda: IMAGES.delete_image(i[0])),
    ('GET', 'os-volumes', lambda i, q, b: lambda: VOLUMES.list_volumes(**params(q))),
    ('GET', 'os-volumes/detail',
     lambda i, q, b: lambda: VOLUMES.list_volumes(detail=True, **params(q))),
    ('POST', 'os-volumes', lambda i, q, b: lambda: VOLUMES.create_volume(**b['volume'])),
    ('GET', 'os-volumes/' + ID, lambda i, q, b: lambda: VOLUMES.show_volume(i[0])),
    ('DELETE', 'os-volumes/' + ID, lambda i, q, b: lambda: VOLUMES.delete_volume(i[0])),
]
ROUTES = [(m, re.compile('/v2\\.1/' + p + '$'), call) for m, p, call in ROUTES]
ROUTES += [
    ('GET', re.compile('/$'), lambda i, q, b: lambda: VERSIONS.list_versions()),
    ('GET', re.compile('/v2\\.1/?$'),
     lambda i, q, b: lambda: VERSIONS.get_version_by_url(ENDPOINT)),
]

VIOLATIONS = (exceptions.InvalidHTTPResponseBody,
              exceptions.InvalidHttpSuccessCode,
              exceptions.InvalidHTTPResponseHeader,
              exceptions.ResponseWithNonEmptyBody,
              exceptions.ResponseWithEntity,
              exceptions.JSONSchemaNotFound)


def pattern_of(path):
    """/v2.1/servers/<uuid>/metadata/k -> /v2.1/servers/{id}/metadata/{id}"""
    for method, regex, call in ROUTES:
        match = regex.match(path)
        if match:
            text = regex.pattern.rstrip('$').replace('\\', '')
            return text.replace(ID, '{id}')
    return path


def find_call(exchange):
    path = exchange['path']
    for method, regex, call in ROUTES:
        match = regex.match(path)
        if method != exchange['method'] or not match:
            continue
        ids = [urllib.parse.unquote(g) for g in match.groups()]
        body = None
        if exchange.get('request'):
            try:
                body = json.loads(exchange['request'])
            except ValueError:
                return None
        try:
            return call(ids, exchange.get('query'), body)
        except (KeyError, TypeError, ValueError, AttributeError):
            # A request body tempest's client could not have sent.
            return None
    return None


def asked_version(exchange):
    """The version string the request named, as tempest's
    COMPUTE_MICROVERSION would hold it; None when it named none."""
    asked = exchange.get('asked')
    if asked is None:
        return None
    for part in asked.split(','):
        words = part.split()
        if len(words) == 2 and words[0].lower() == 'compute':
            return words[1]
        if len(words) == 1 and words[0]:
            return words[0]
    return None


UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')
TIME = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?')
SEEN = {}


def check(exchange):
    """check_once(), once per exchange that differs in more than the
    values of its UUIDs and timestamps (which validate alike: each is
    replaced by one of the same form).  tempest's messages pprint the
    whole body and schema, and most exchanges repeat one another."""
    def same(text):
        text = UUID.sub('00000000-0000-4000-8000-000000000000', text or '')
        return TIME.sub(lambda m: '2000-01-01T00:00:00' + (m.group(1) and '.0' or '')
                        + (m.group(2) or ''), text)
    key = (exchange['method'], same(exchange['path']), exchange.get('query'),
           exchange.get('asked'), exchange.get('answered'), exchange['status'],
           same(exchange.get('headers', {}).get('Location')),
           same(exchange.get('request')), same(exchange.get('body')))
    if key not in SEEN:
        SEEN[key] = check_once(exchange)
    return SEEN[key]


def check_once(exchange):
    """Returns (kind, message): kind is ok, violation, no-schema, fault;
    message is a list of (what, where)."""
    if exchange['status'] >= 400:
        return 'fault', None
    call = find_call(exchange)
    if call is None:
        return 'no-schema', None
    base_compute_client.COMPUTE_MICROVERSION = asked_version(exchange)
    REPLAY.exchange = exchange
    REPLAY.urls = []
    CHOSEN.clear()
    try:
        call()
    except (VIOLATIONS + (exceptions.UnexpectedResponseCode,)) as error:
        return 'violation', every_error(str(error))
    finally:
        base_compute_client.COMPUTE_MICROVERSION = None
    # The path only: a client method may take no query (show_limits).
    # tempest's clients put ids in URLs unquoted ("alice key"), as sent.
    def plain(path):
        return urllib.parse.unquote(path).rstrip('/')
    got = [plain(urllib.parse.urlsplit(url).path) for method, url in REPLAY.urls]
    if plain(exchange['path']) not in got:
        return 'violation', [('check-schemas.py sent %s for %s: a wrong row '
                              'in its ROUTES' % (REPLAY.urls, exchange['path']), '')]
    return 'ok', None


def route_of(exchange):
    """METHOD /v2.1/servers/{id}/action NAME"""
    action = ''
    if exchange['path'].endswith('/action') and exchange.get('request'):
        try:
            action = ' ' + next(iter(json.loads(exchange['request'])))
        except (ValueError, StopIteration, TypeError):
            pass
    return '%s %s%s' % (exchange['method'], pattern_of(exchange['path']), action)


def problem_of(what, where):
    what = re.sub(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
                  '{uuid}', ' '.join(what.split()))
    if len(what) > 240:
        what = what[:240] + '...'
    return what + (' at ' + where if where else '')


def version_key(version):
    try:
        return tuple(int(x) for x in version.split('.'))
    except (AttributeError, ValueError):
        return (0, 0)


def runs(versions, tried):
    """The versions as runs over those @tried: "2.1, 2.19..2.96"."""
    tried = sorted(tried, key=version_key)
    text = []
    run = []
    for version in tried + [None]:
        if version in versions:
            run.append(version)
            continue
        if run:
            text.append(run[0] if len(run) == 1 else run[0] + '..' + run[-1])
        run = []
    return ','.join(text)


def boundaries():
    """Every microversion where a tempest.lib compute client changes
    schema, and the newest one."""
    found = set()
    for module in (servers_client, flavors_client, keypairs_client,
                   limits_client, availability_zone_client, services_client,
                   aggregates_client, hypervisor_client, images_client,
                   volumes_client, versions_client):
        for value in vars(module).values():
            for info in getattr(value, 'schema_versions_info', []) or []:
                if info.get('min'):
                    found.add(info['min'])
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split('.')))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--known', help='file of known violations, one a line')
    parser.add_argument('--boundaries', action='store_true',
                        help='print the versions where a schema changes')
    parser.add_argument('--summary', action='store_true',
                        help='only the distinct violations, not each request')
    parser.add_argument('logs', nargs='*')
    args = parser.parse_args()
    if args.boundaries:
        print(' '.join(boundaries()))
        return 0

    counts = {'ok': 0, 'violation': 0, 'no-schema': 0, 'fault': 0}
    no_schema = {}
    tried = {}      # route -> versions answered with a success
    found = {}      # (route, problem) -> [(version, log, line, exchange)]
    for name in args.logs:
        with open(name, encoding='utf-8') as log:
            for number, line in enumerate(log, 1):
                exchange = json.loads(line)
                kind, message = check(exchange)
                counts[kind] += 1
                route = route_of(exchange)
                version = exchange.get('answered') or '-'
                if kind == 'no-schema':
                    no_schema[route] = no_schema.get(route, 0) + 1
                if kind in ('ok', 'violation'):
                    tried.setdefault(route, set()).add(version)
                if kind == 'violation':
                    for what, where in message:
                        found.setdefault((route, problem_of(what, where)), []).append(
                            (version, name, number, exchange))
    # One line per violation: where, at which versions, what.
    violations = {}
    for (route, problem), seen in found.items():
        versions = {version for version, *rest in seen}
        key = '%s @%s: %s' % (route, runs(versions, tried[route]), problem)
        violations[key] = [rest for version, *rest in seen]

    known = set()
    if args.known:
        with open(args.known, encoding='utf-8') as text:
            known = {line.rstrip('\n') for line in text
                     if line.strip() and not line.startswith('#')}
    for key in sorted(no_schema):
        print('no schema: %s (%d)' % (key, no_schema[key]))
    new = 0
    for key in sorted(violations):
        tag = 'known' if key in known else 'VIOLATION'
        new += key not in known
        print('%s: %s (%d)' % (tag, key, len(violations[key])))
        if args.summary:
            continue
        name, number, exchange = violations[key][0]
        print('  first at %s:%d (%s %s) %s %s%s asked %s answered %s status %d' % (
            name, number, exchange.get('program'), exchange.get('test'),
            exchange['method'], exchange['path'],
            '?' + exchange['query'] if exchange.get('query') else '',
            exchange.get('asked'), exchange.get('answered'), exchange['status']))
        if exchange.get('request'):
            print('  request: %s' % exchange['request'][:300])
        print('  body: %s' % (exchange['body'] or '')[:600])
    gone = sorted(known - set(violations))
    for key in gone:
        print('FIXED (remove from the known list): %s' % key)
    print('# %d exchanges: %d valid, %d violations (%d distinct, %d not known), '
          '%d with no tempest schema, %d faults (tempest checks no fault body)'
          % (sum(counts.values()), counts['ok'], counts['violation'],
             len(violations), new, counts['no-schema'], counts['fault']))
    return 1 if new else 0


if __name__ == '__main__':
    sys.exit(main())
