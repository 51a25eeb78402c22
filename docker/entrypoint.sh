#!/bin/sh
# Entry point of the lab and worker images: refuse, with a message that says what to do, a
# workspace this user cannot write (a host folder that Docker created for root, say), then run
# the command.
set -e
workspace="${GMS_WORKSPACE:-/workspace}"
if [ ! -d "$workspace" ] || [ ! -w "$workspace" ]; then
    owner="$(stat -c '%u:%g' "$workspace" 2>/dev/null || echo 'nobody: it does not exist')"
    echo "gms: the workspace $workspace cannot be written by uid $(id -u) (gid $(id -g));" \
        "its owner is $owner." >&2
    echo "gms: on the host, give the folder to uid $(id -u): sudo chown -R $(id -u) <folder>" \
        "(make up-docker-runner creates GMS_HOST_WORKSPACE with that owner)." >&2
    exit 1
fi
exec "$@"
