#!/usr/bin/python3
# check-server-schema.py VERSION SCHEMA < BODY: validate a server body
# (SCHEMA: get_server, list_servers, list_servers_detail, update_server)
# against the response schema tempest's servers client picks at
# microversion VERSION ("2.N"), as tempest validates it.  Above tempest's
# newest schema (2.79), that one, with Nova 2.96's
# pinned_availability_zone allowed.  Exit 0: valid; 1: not (why on
# stderr); 77: tempest or jsonschema is not installed (skip).
import copy
import importlib
import json
import sys

try:
    import jsonschema
    from tempest.lib.common import jsonschema_validator as validator
    from tempest.lib.services.compute import servers_client
except ImportError as error:
    print("cannot validate: %s" % error, file=sys.stderr)
    sys.exit(77)


def minor(version):
    return int(version.split(".")[1]) if version else None


def schema_for(version, name):
    wanted = minor(version)
    for row in servers_client.ServersClient.schema_versions_info:
        low, high = minor(row["min"]), minor(row["max"])
        if (low is None or wanted >= low) and (high is None or wanted <= high):
            schema = copy.deepcopy(getattr(row["schema"], name))
            if high is None and wanted >= 96 and name != "list_servers":
                body = schema["response_body"]["properties"]
                server = (body["servers"]["items"] if "servers" in body
                          else body["server"])
                server["properties"]["pinned_availability_zone"] = {
                    "type": ["string", "null"]}
            return schema
    raise SystemExit("no schema for %s" % version)


def main():
    version, name = sys.argv[1], sys.argv[2]
    body = json.load(sys.stdin)
    schema = schema_for(version, name)
    try:
        jsonschema.validate(body, schema["response_body"],
                            cls=validator.JSONSCHEMA_VALIDATOR,
                            format_checker=validator.FORMAT_CHECKER)
    except jsonschema.ValidationError as error:
        print("%s at %s: %s" % (name, version, error.message), file=sys.stderr)
        print("path: %s" % list(error.absolute_path), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
