#!/usr/bin/env bash
# Best effort: the system programs some tests drive for real (headless Chromium for the HTML reports,
# PostgreSQL's server for multi-machine tuning). Root on Debian installs what is missing; elsewhere the
# tests that need them are skipped with the reason. Never fails the build by itself.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing test tools: ${missing[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
    || echo "could not install ${missing[*]}: the tests that need them will be skipped"
else
  echo "not installed: ${missing[*]} (tests that need them will be skipped)"
fi
exit 0
