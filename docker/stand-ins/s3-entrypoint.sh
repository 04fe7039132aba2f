#!/bin/sh
# The stand-in S3's start: MinIO's `server DIR` (DIR is ignored: moto keeps objects in memory), served by
# moto on 0.0.0.0:9000.
set -eu
if [ "${1:-}" = "server" ]; then
  shift $#
fi
exec moto_server --host 0.0.0.0 --port 9000 "$@"
