#!/usr/bin/env bash
# Posts the action's report as ONE pull-request comment: the comment whose first line is the
# marker is edited in place (a plan that failed replaces the plan that was there), and created
# only when there is none. Uses the GitHub CLI (`gh`, on every GitHub-hosted runner) with GH_TOKEN.
#
#   TAGREC_PR       the pull request's number
#   TAGREC_REPORT   the markdown file to post (run.sh's `report`)
#   TAGREC_MARKER   its hidden first line (run.sh's `marker`), e.g. <!-- tagrec-action: plan . projects.yaml -->
#   GITHUB_REPOSITORY   owner/name (set by GitHub)
set -euo pipefail

: "${TAGREC_PR:?the pull request number}" "${TAGREC_REPORT:?the report file}"
: "${TAGREC_MARKER:?the marker}" "${GITHUB_REPOSITORY:?owner/name}"

case "$TAGREC_MARKER" in
  *'"'* | *\\*) echo "tagrec comment: the marker may not hold quotes or backslashes" >&2; exit 1 ;;
esac

body=$(mktemp "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/tagrec-comment.XXXXXX")
trap 'rm -f "$body"' EXIT
{
  printf '%s\n' "$TAGREC_MARKER"
  cat "$TAGREC_REPORT"
} >"$body"

# Every comment of the pull request, page after page; the first one carrying the marker wins.
ids=$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$TAGREC_PR/comments" \
  --jq ".[] | select(.body | startswith(\"$TAGREC_MARKER\")) | .id")
id=${ids%%$'\n'*}

if [ -n "$id" ]; then
  gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" -F "body=@$body" >/dev/null
  echo "tagrec comment: updated comment $id on pull request #$TAGREC_PR"
else
  gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$TAGREC_PR/comments" -F "body=@$body" >/dev/null
  echo "tagrec comment: commented on pull request #$TAGREC_PR"
fi
