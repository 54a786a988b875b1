#!/usr/bin/env bash
# Runs one tagrec command for the GitHub Action and turns its result into what a workflow needs:
# step outputs, a job summary and a markdown report for the pull-request comment. It exits 0
# whatever tagrec did (so that the comment is still posted after a failure); the action fails
# the step afterwards when `failed=true`.
#
#   TAGREC_COMMAND   validate | plan | apply | audit, or a whole command line (default: plan)
#   TAGREC_MANIFEST  the manifest, or several, one per line, each a path or a glob that tagrec
#                    expands (`accounts/*/*.yaml`) (default: tagrec's, projects.yaml)
#   TAGREC_CHANGED_SINCE  a git ref: only the manifests whose files changed since its merge base
#   TAGREC_BIN       a directory to put first on the PATH (where install.sh put tagrec)
#   TAGREC_WORKING_DIRECTORY   only names the report's comment apart from other directories'
#
# The short forms run:
#   validate  tagrec validate -f M --format github            (annotations on the diff)
#   plan      the same validate, then, if it passes,
#             tagrec plan -f M --format markdown --detailed-exitcode --out <plan-file>
#             (with several manifests, a glob or a changed-since ref: the estate's forms, one
#             comment for all, and <plan-file> a folder of plans, one per manifest)
#   apply     tagrec apply -f M --auto-approve
#   audit     tagrec audit -f M --format markdown
# A whole command line (`plan --target Search-Prod`, `apply plan.json --allow-archive`) is split
# into words as a shell would (quotes, no expansion), `tagrec` in front optional, and gets `-f M`
# when it names no manifest and the manifest input is set (and `--changed-since REF` when it has
# none and the input is set).
#
# Exit code 2 counts as a result, not a failure, only where the command line asks for it
# (`--detailed-exitcode`, or `audit`): anywhere else it is a usage error and fails the step.
# Written to GITHUB_OUTPUT: exitcode, failed, has-changes (exit 2 as asked: changes, or audit
# violations), plan-file (a saved plan, when there is one), report (the markdown file), marker
# (the hidden first line that finds the comment again) and command-line.
set -euo pipefail

command_line=${TAGREC_COMMAND:-plan}
if [ -n "${TAGREC_BIN:-}" ]; then
  PATH=$TAGREC_BIN:$PATH
fi
scratch=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/tagrec-run.XXXXXX")
out=$scratch/stdout
err=$scratch/stderr
report=$scratch/report.md
limit=65000 # GitHub refuses comments over 65,536 characters

file_args=()
while IFS= read -r line; do
  line=${line#"${line%%[![:space:]]*}"}
  line=${line%"${line##*[![:space:]]}"}
  if [ -n "$line" ]; then
    file_args+=(-f "$line")
  fi
done <<<"${TAGREC_MANIFEST:-}"
# Several manifests, a glob, or a selection by change: tagrec's estate forms, where --out names
# a folder that gets one plan per manifest.
estate=false
if [ "${#file_args[@]}" -gt 2 ] || [ -n "${TAGREC_CHANGED_SINCE:-}" ]; then
  estate=true
fi
for word in ${file_args[@]+"${file_args[@]}"}; do
  case "$word" in *[*?[]*) estate=true ;; esac
done
changed_args=()
if [ -n "${TAGREC_CHANGED_SINCE:-}" ]; then
  changed_args=(--changed-since "$TAGREC_CHANGED_SINCE")
fi
manifest_args=(${file_args[@]+"${file_args[@]}"} ${changed_args[@]+"${changed_args[@]}"})

pre_validate=false
plan_file=
argv=()
case "$command_line" in
  validate) argv=(validate ${manifest_args[@]+"${manifest_args[@]}"} --format github) ;;
  plan)
    pre_validate=true
    plan_file=$scratch/plan.json
    if [ "$estate" = true ]; then
      plan_file=$scratch/plans
    fi
    argv=(plan ${manifest_args[@]+"${manifest_args[@]}"} --format markdown --detailed-exitcode
      --out "$plan_file")
    ;;
  apply) argv=(apply ${manifest_args[@]+"${manifest_args[@]}"} --auto-approve) ;;
  audit) argv=(audit ${manifest_args[@]+"${manifest_args[@]}"} --format markdown) ;;
  *)
    # Words as a shell splits them, quotes honoured, nothing expanded or executed.
    while IFS= read -r -d '' word; do
      argv+=("$word")
    done < <(printf '%s' "$command_line" | xargs printf '%s\0')
    if [ "${#argv[@]}" -gt 0 ] && [ "${argv[0]}" = tagrec ]; then
      argv=("${argv[@]:1}")
    fi
    names_manifest=false
    names_change=false
    for word in ${argv[@]+"${argv[@]}"}; do
      case "$word" in
        -f | --manifest | -f?* | --manifest=*) names_manifest=true ;;
        --changed-since | --changed-since=*) names_change=true ;;
      esac
    done
    if [ "$names_manifest" = false ]; then
      argv+=(${file_args[@]+"${file_args[@]}"})
    fi
    if [ "$names_change" = false ]; then
      argv+=(${changed_args[@]+"${changed_args[@]}"})
    fi
    ;;
esac

# The subcommand, whether exit 2 is asked for, whether stdout is markdown, and the plan file.
sub=
detailed=false
markdown=false
previous=
for word in ${argv[@]+"${argv[@]}"}; do
  case "$previous:$word" in
    --out:-) ;;
    --out:*) [ -n "$plan_file" ] || plan_file=$word ;;
    --format:markdown) markdown=true ;;
  esac
  case "$word" in
    --detailed-exitcode) detailed=true ;;
    --format=markdown) markdown=true ;;
    --out=?*) [ -n "$plan_file" ] || plan_file=${word#--out=} ;;
    -*) ;;
    *)
      case "$previous" in
        -f | --manifest | --format | --out | --target | --endpoint | --auth | --color | \
          --concurrency | --region | --profile | --jobs | --changed-since | --timeout) ;;
        *) [ -n "$sub" ] || sub=$word ;;
      esac
      ;;
  esac
  previous=$word
done
case "$plan_file" in
  "" | /*) ;;
  *) plan_file=$PWD/$plan_file ;;
esac
if [ "$sub" = audit ]; then
  detailed=true
fi
if [ "$sub" != plan ]; then
  plan_file=
fi

# Runs tagrec, its stdout and stderr going to the log as they come and to $out and $err.
run_tagrec() {
  printf '+ tagrec %s\n' "$*" >&2
  {
    {
      if tagrec "$@"; then status=0; else status=$?; fi
      echo "$status" >"$scratch/code"
    } 2>&1 1>&3 3>&- | tee "$err" >&2
  } 3>&1 | tee "$out"
  code=$(cat "$scratch/code")
}

strip_colours() {
  sed "s/$(printf '\033')\[[0-9;]*[A-Za-z]//g"
}

# `::error file=F,line=L,col=C,...,title=tagrec RULE::MESSAGE` -> `- F:L:C RULE: MESSAGE`.
annotations_as_list() {
  # shellcheck disable=SC2016 # the backquotes are markdown
  sed -n 's/^::error file=\([^,]*\),line=\([0-9]*\),col=\([0-9]*\)[^:]*title=tagrec \([^:]*\)::\(.*\)$/- `\1:\2:\3` \4: \5/p' |
    sed -e 's/%0A/ /g' -e 's/%0D//g' -e 's/%25/%/g'
}

fenced() {
  printf '```text\n'
  strip_colours | awk 1
  printf '```\n'
}

summary=${GITHUB_STEP_SUMMARY:-}
size_before=0
if [ -n "$summary" ] && [ -f "$summary" ]; then
  size_before=$(wc -c <"$summary")
fi

code=0
phase=$sub
if [ "$pre_validate" = true ]; then
  phase=validate
  run_tagrec validate ${manifest_args[@]+"${manifest_args[@]}"} --format github
  # One manifest with errors has no plan to show. In an estate, the plan reports each broken
  # manifest in its section and plans the others: one never stops the rest.
  if [ "$code" -eq 0 ] || [ "$estate" = true ]; then
    phase=plan
    rm -rf "$plan_file" # in this run's own scratch folder
    run_tagrec "${argv[@]}"
  fi
else
  rm -f "$plan_file" 2>/dev/null || true
  run_tagrec ${argv[@]+"${argv[@]}"}
fi

failed=false
changes=false
if [ "$code" -eq 2 ] && [ "$detailed" = true ] && [ "$phase" = "$sub" ]; then
  changes=true
elif [ "$code" -ne 0 ]; then
  failed=true
fi
# A plan file, or the folder of an estate's plans.
if [ "$failed" = true ] || [ -z "$plan_file" ] || [ ! -e "$plan_file" ]; then
  plan_file=
fi

# The report: what the comment shows and, unless tagrec wrote it itself, the job summary.
{
  if [ "$phase" = validate ] && [ "$failed" = true ]; then
    printf '### tagrec validate: the manifest has errors\n\n'
    if [ "$sub" = plan ]; then
      printf 'No plan was made: fix these first (they are annotated on the diff).\n\n'
    fi
    list=$(annotations_as_list <"$out")
    if [ -n "$list" ]; then
      printf '%s\n' "$list"
    else
      # Another --format, or a file that could not be read: what tagrec said.
      cat "$out" "$err" | head -c 40000 | fenced
    fi
  elif [ "$phase" = validate ]; then
    printf '### tagrec validate\n\nNo problems found.\n'
  elif [ "$failed" = true ]; then
    printf '### tagrec %s failed\n\n' "$sub"
    # shellcheck disable=SC2016 # the backquotes are markdown
    printf '`tagrec %s` exited %s' "${argv[*]}" "$code"
    if [ "$sub" = plan ]; then
      printf ': no plan was saved, and any plan shown here before no longer applies'
    fi
    printf '.\n\n'
    head -c 20000 "$err" | fenced
    if [ -s "$out" ]; then
      printf '\n'
      if [ "$markdown" = true ]; then
        cat "$out"
      else
        fenced <"$out"
      fi
    fi
  elif [ "$markdown" = true ]; then
    cat "$out"
  else
    printf '### tagrec %s\n\n' "$sub"
    fenced <"$out"
  fi
} >"$report.full"
if [ "$(wc -c <"$report.full")" -gt "$limit" ]; then
  head -c "$((limit - 200))" "$report.full" >"$report"
  printf '\n\n(cut here: the whole output is in the job log)\n' >>"$report"
else
  mv "$report.full" "$report"
fi
rm -f "$report.full"

if [ -n "$summary" ]; then
  size_after=0
  if [ -f "$summary" ]; then
    size_after=$(wc -c <"$summary")
  fi
  # plan appends its markdown to the summary itself; add only what it could not say.
  if [ "$size_after" -eq "$size_before" ] || [ "$failed" = true ]; then
    {
      cat "$report"
      printf '\n'
    } >>"$summary"
  fi
fi

key="$sub ${TAGREC_WORKING_DIRECTORY:-.} ${TAGREC_MANIFEST:-projects.yaml}"
key=$(printf '%s' "$key" | tr '\n' ' ' | LC_ALL=C tr -c 'A-Za-z0-9 ._/:*-' '_' | sed 's/--*/-/g')
marker="<!-- tagrec-action: $key -->"

if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "exitcode=$code"
    echo "failed=$failed"
    echo "has-changes=$changes"
    echo "plan-file=$plan_file"
    echo "report=$report"
    echo "marker=$marker"
    echo "command-line=tagrec ${argv[*]}"
  } >>"$GITHUB_OUTPUT"
fi
