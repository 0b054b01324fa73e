#!/usr/bin/env bash
# Commit and push the live colors and versions shipyard wrote back into the stack config
# (stacks/ENV.yaml, Pulumi.ENV.yaml, and docs/environments.md, generated from them) after a
# rollout on AWS, so the next `pulumi up` wants what is live. Nothing to commit is fine.
# Used by the deploy, promote and rollback workflows.
set -euo pipefail
env="${1:?usage: scripts/record-live.sh ENV [WHAT]}"
what="${2:-live colors}"
files=("stacks/$env.yaml" "Pulumi.$env.yaml" "docs/environments.md")
.venv/bin/shipyard docs environments >/dev/null  # the live colors show there too
if git diff --quiet -- "${files[@]}"; then
  echo "record-live: $env unchanged"
  exit 0
fi
git config user.name "shipyard"
git config user.email "shipyard@users.noreply.github.com"
git add -- "${files[@]}"
git commit -q -m "Record $what in $env [skip ci]"
for attempt in 1 2 3; do
  if git pull -q --rebase && git push -q; then
    echo "record-live: $env recorded"
    exit 0
  fi
  sleep $((attempt * 5))
done
echo "record-live: could not push the recorded state of $env: commit ${files[*]} by hand" >&2
exit 1
