"""Writes the shell scripts embedded in action.yml (bash) and the GitLab example (POSIX sh, the
shell of its alpine image) to a directory, one file per step or job, for shellcheck: actionlint
checks the `run:` scripts of workflows, but reads neither file.

    python3 .ci/shell-blocks.py OUTDIR
"""
import pathlib
import re
import sys

from ruamel.yaml import YAML  # installed with check-jsonschema

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
yaml = YAML(typ="safe")
expression = re.compile(r"\$\{\{.*?\}\}")


def write(name, shell, lines):
    body = "\n".join(expression.sub("EXPRESSION", line) for line in lines)
    (out / name).write_text(f"#!/usr/bin/env {shell}\nset -e\n{body}\n")


action = yaml.load(pathlib.Path("action.yml").read_text())
for number, step in enumerate(action["runs"]["steps"]):
    if "run" in step:
        write(f"action-step-{number}.bash", "bash", [step["run"]])

gitlab = yaml.load(pathlib.Path("examples/ci/gitlab/.gitlab-ci.yml").read_text())
for job, spec in gitlab.items():
    if isinstance(spec, dict) and ("script" in spec or "before_script" in spec):
        lines = spec.get("before_script", []) + spec.get("script", [])
        write(f"gitlab-{job.lstrip('.')}.sh", "sh", lines)
