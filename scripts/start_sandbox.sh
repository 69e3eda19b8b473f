#!/usr/bin/env bash
# `make sandbox`: start SandboxFusion in Docker where Docker works; otherwise say that the
# embedded executor (the default, --sandbox local) is in use and needs nothing started.
# Env: SANDBOX_IMAGE (default volcengine/sandbox-fusion:server-20250609), SANDBOX_PORT (8080).
set -euo pipefail
IMAGE="${SANDBOX_IMAGE:-volcengine/sandbox-fusion:server-20250609}"
PORT="${SANDBOX_PORT:-8080}"
NAME="coderl-sandbox-fusion"
CODERL="${CODERL:-.venv/bin/coderl}"

embedded() {
  echo "make sandbox: $1"
  echo "The embedded executor is the default (SANDBOX=local) and needs nothing started. Its isolation here:"
  "$CODERL" sandbox info
}

if ! command -v docker >/dev/null 2>&1; then
  embedded "docker is not installed"
  exit 0
fi
if ! docker info >/dev/null 2>&1; then
  embedded "docker is installed but its engine is not reachable (docker info failed)"
  exit 0
fi
if docker ps --format '{{.Names}}' | grep -qx "$NAME"; then
  echo "SandboxFusion already running as container $NAME"
else
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  docker run -d --rm --name "$NAME" -p "127.0.0.1:${PORT}:8080" "$IMAGE" >/dev/null
fi
URL="http://127.0.0.1:${PORT}"
for _ in $(seq 1 60); do
  if "$CODERL" sandbox info --sandbox "$URL" >/dev/null 2>&1; then
    echo "SandboxFusion is up at $URL: use SANDBOX=$URL (make eval ... SANDBOX=$URL)"
    exit 0
  fi
  sleep 2
done
echo "make sandbox: SandboxFusion did not answer at $URL within 120 s; see: docker logs $NAME" >&2
exit 1
