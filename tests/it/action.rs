//! The GitHub Action's scripts (`action/run.sh`, `action/comment.sh`) and the `run:` steps of the
//! example workflows, executed with bash as a runner executes them: the real binary on the PATH,
//! a manifest whose target is the embedded sandbox (no network, no credentials), and a fake `gh`
//! (bash and jq) that keeps pull-request comments and issues in files, as GitHub would.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use saphyr::{LoadableYamlNode, Yaml};
use serde_json::{Value, json};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A manifest repository of the kit's kind: a tag renamed by key case, one project to create and
/// one owned project to archive (`prune: true`).
const MANIFEST: &str = "version: 1
target: {region: us-east-1, sandbox: {state: .tagrec/state.json, seed: live.json}}
policy: policies/required-tags.yaml
owner: platform/bedrock
prune: true
defaults:
  tags: {Environment: Staging, Team: Risk, CostCenter: CC-2040, Owner: bob}
projects:
  - name: Alpha
    tags: {Application: Alpha}
  - name: Search
    tags: {Application: Search}
";

/// A fake GitHub CLI: the `gh api` calls of comment.sh and the `gh issue`/`gh label` calls of the
/// drift watch, on JSON files in $GH_FAKE_STORE; `--jq` is applied with jq, as gh applies it.
const FAKE_GH: &str = r#"#!/usr/bin/env bash
set -euo pipefail
store=$GH_FAKE_STORE
echo "$*" >> "$store/calls.log"
comments=$store/comments.json issues=$store/issues.json
[ -f "$comments" ] || echo '[]' > "$comments"
[ -f "$issues" ] || echo '[]' > "$issues"
update() { local file=$1; shift; jq "$@" "$file" > "$file.new"; mv "$file.new" "$file"; }
expr=. method=GET body= endpoint= label= state= title= number= comment=
group=$1; shift
if [ "$group" != api ]; then verb=$1; shift; fi
while [ $# -gt 0 ]; do
  case "$1" in
    --paginate) ;;
    --jq) expr=$2; shift ;;
    --method | -X) method=$2; shift ;;
    -F) body=$(cat "${2#body=@}"); shift ;;
    --body-file) body=$(cat "$2"); shift ;;
    --label) label=$2; shift ;;
    --state) state=$2; shift ;;
    --title) title=$2; shift ;;
    --comment) comment=$2; shift ;;
    --limit | --json | --color | --description) shift ;;
    *) if [ "$group" = api ]; then endpoint=$1; else number=$1; fi ;;
  esac
  shift
done
case "$group:${verb:-}:$method:$endpoint" in
  api::GET:repos/*/issues/*/comments) jq -r "$expr" "$comments" ;;
  api::PATCH:repos/*/issues/comments/*)
    update "$comments" --arg id "${endpoint##*/}" --arg b "$body" \
      'map(if (.id | tostring) == $id then .body = $b else . end)' ;;
  api::POST:repos/*/issues/*/comments)
    update "$comments" --arg b "$body" \
      '. + [{id: ((map(.id) | max // 100) + 1), body: $b, user: {login: "github-actions[bot]"}}]' ;;
  issue:list:*)
    jq -r --arg l "$label" --arg s "${state^^}" \
      "[.[] | select(.state == \$s and (.labels | index(\$l)))] | map({number}) | $expr" "$issues" ;;
  issue:create:*)
    update "$issues" --arg t "$title" --arg b "$body" --arg l "$label" \
      '. + [{number: ((map(.number) | max // 0) + 1), title: $t, body: $b, labels: [$l], state: "OPEN", comments: []}]'
    echo "https://github.com/o/r/issues/$(jq 'map(.number) | max' "$issues")" ;;
  issue:edit:*)
    update "$issues" --argjson n "$number" --arg b "$body" 'map(if .number == $n then .body = $b else . end)' ;;
  issue:close:*)
    update "$issues" --argjson n "$number" --arg c "$comment" \
      'map(if .number == $n then .state = "CLOSED" | .comments += [$c] else . end)' ;;
  label:create:*) ;;
  *) echo "fake gh: unexpected call: gh $group ${verb:-} $method $endpoint" >&2; exit 1 ;;
esac
"#;

/// A fake `curl` for the GitLab jobs: the notes of merge request 1 and the project's issues, in
/// JSON files in $GL_FAKE_STORE, read and written as GitLab's REST API does for these calls.
const FAKE_GITLAB_CURL: &str = r#"#!/usr/bin/env bash
set -euo pipefail
store=$GL_FAKE_STORE
echo "$*" >> "$store/calls.log"
notes=$store/notes.json issues=$store/issues.json
[ -f "$notes" ] || echo '[]' > "$notes"
[ -f "$issues" ] || echo '[]' > "$issues"
update() { local file=$1; shift; jq "$@" "$file" > "$file.new"; mv "$file.new" "$file"; }
method= url= body= description= title= labels= state_event=
while [ $# -gt 0 ]; do
  case "$1" in
    -X) method=$2; shift ;;
    -H) shift ;;
    --data-urlencode)
      # name=content, or name@file (whichever of = and @ comes first), as curl reads it.
      name=${2%%[=@]*}; rest=${2:${#name}}
      if [ "${rest:0:1}" = @ ]; then value=$(cat "${rest:1}"); else value=${rest:1}; fi
      printf -v "$name" '%s' "$value"
      [ -n "$method" ] || method=POST
      shift ;;
    -*) ;;
    *) url=$1 ;;
  esac
  shift
done
method=${method:-GET}
path=${url#*/api/v4}
case "$method:$path" in
  GET:/projects/*/merge_requests/*/notes\?*page=1) cat "$notes" ;;
  GET:/projects/*/merge_requests/*/notes\?*) echo '[]' ;;
  PUT:/projects/*/merge_requests/*/notes/*)
    update "$notes" --argjson id "${path##*/}" --arg b "$body" 'map(if .id == $id then .body = $b else . end)' ;;
  POST:/projects/*/merge_requests/*/notes)
    update "$notes" --arg b "$body" '. + [{id: ((map(.id) | max // 300) + 1), body: $b}]' ;;
  GET:/projects/*/issues\?labels=drift\&state=opened*)
    jq '[.[] | select(.state == "opened" and (.labels | index("drift")))]' "$issues" ;;
  POST:/projects/*/issues)
    update "$issues" --arg t "$title" --arg l "$labels" --arg d "$description" \
      '. + [{iid: ((map(.iid) | max // 0) + 1), title: $t, labels: [$l], description: $d, state: "opened"}]' ;;
  PUT:/projects/*/issues/*)
    iid=${path##*/}
    if [ -n "$description" ]; then
      update "$issues" --argjson n "$iid" --arg d "$description" 'map(if .iid == $n then .description = $d else . end)'
    fi
    if [ "$state_event" = close ]; then
      update "$issues" --argjson n "$iid" 'map(if .iid == $n then .state = "closed" else . end)'
    fi ;;
  *) echo "fake curl: unexpected $method $url" >&2; exit 22 ;;
esac
echo '{}' >/dev/null
"#;

struct Repo {
    dir: tempfile::TempDir,
}

/// What run.sh wrote to GITHUB_OUTPUT, and the process itself.
struct Run {
    out: Output,
    outputs: Vec<(String, String)>,
}

impl Run {
    fn get(&self, name: &str) -> &str {
        self.outputs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no output {name}: {:?}", self.outputs))
    }

    fn report(&self) -> String {
        fs::read_to_string(self.get("report")).unwrap()
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
}

impl Repo {
    fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        let owned = json!({"Application": "Old", "Environment": "Staging", "Team": "Risk",
                           "CostCenter": "CC-2040", "Owner": "bob", "ManagedBy": "platform/bedrock"});
        let live = json!([
            {"id": "proj_aaaaaaaaaaaaaaaaaaa1", "name": "Alpha",
             "tags": {"Application": "Alpha", "Environment": "Staging", "Team": "Risk",
                      "costcenter": "CC-2040", "Owner": "bob", "ManagedBy": "platform/bedrock"}},
            {"id": "proj_ooooooooooooooooooo9", "name": "Old-Experiment", "tags": owned},
        ]);
        repo.write("live.json", &live.to_string());
        repo.write("projects.yaml", MANIFEST);
        for policy in ["required-tags.yaml", "common.yaml"] {
            let text = fs::read_to_string(Path::new(REPO).join("policies").join(policy)).unwrap();
            repo.write(&format!("policies/{policy}"), &text);
        }
        for dir in ["runner", "gh", "gitlab", "fakes"] {
            fs::create_dir_all(repo.path(dir)).unwrap();
        }
        for (name, script) in [("gh", FAKE_GH), ("curl", FAKE_GITLAB_CURL)] {
            let path = repo.path("fakes").join(name);
            fs::write(&path, script).unwrap();
            make_executable(&path);
        }
        repo
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.path(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// bash running `script` in the repository as a runner's step: tagrec and the fake gh on the
    /// PATH, RUNNER_TEMP, GITHUB_OUTPUT (fresh for each step) and GITHUB_STEP_SUMMARY set.
    fn bash(&self, script: &str, env: &[(&str, &str)]) -> Output {
        self.shell("bash", script, env)
    }

    /// `shell -e -c script` (GitLab's alpine image runs job scripts with a POSIX sh), with the
    /// environment of `bash`.
    fn shell(&self, shell: &str, script: &str, env: &[(&str, &str)]) -> Output {
        let tagrec = assert_cmd::cargo::cargo_bin("tagrec");
        let path = format!(
            "{}:{}:{}",
            tagrec.parent().unwrap().display(),
            self.path("fakes").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let _ = fs::remove_file(self.path("github_output"));
        let mut command = Command::new(shell);
        for (name, _) in std::env::vars() {
            if name.starts_with("TAGREC_")
                || name.starts_with("GITHUB_")
                || name.starts_with("AWS_")
                || name.starts_with("RUNNER_")
                || name.ends_with("_API_KEY")
            {
                command.env_remove(name);
            }
        }
        command
            .current_dir(self.dir.path())
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .env("RUNNER_TEMP", self.path("runner"))
            .env("GITHUB_OUTPUT", self.path("github_output"))
            .env("GITHUB_STEP_SUMMARY", self.path("step_summary.md"))
            .env("GITHUB_REPOSITORY", "o/r")
            .env("GH_FAKE_STORE", self.path("gh"))
            .env("GL_FAKE_STORE", self.path("gitlab"))
            .envs(env.iter().copied());
        if shell == "bash" {
            command.args(["--noprofile", "--norc", "-o", "pipefail"]);
        }
        command.args(["-e", "-c", script]);
        command.output().expect("bash runs")
    }

    /// The action's "Run tagrec" step with `command` as its `command` input.
    fn run(&self, command: &str) -> Run {
        self.run_with(&[
            ("TAGREC_COMMAND", command),
            ("TAGREC_MANIFEST", "projects.yaml"),
        ])
    }

    /// The action's "Run tagrec" step with these inputs (as action.yml passes them: TAGREC_*).
    fn run_with(&self, inputs: &[(&str, &str)]) -> Run {
        let script = format!("bash '{REPO}/action/run.sh'");
        let out = self.bash(&script, inputs);
        assert_eq!(
            out.status.code(),
            Some(0),
            "run.sh always finishes:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let outputs = self
            .read("github_output")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Run { out, outputs }
    }

    /// The action's "Comment on the pull request" step after `run`, on pull request 12.
    fn comment(&self, run: &Run) {
        let script = format!("bash '{REPO}/action/comment.sh'");
        let out = self.bash(
            &script,
            &[
                ("TAGREC_PR", "12"),
                ("TAGREC_REPORT", run.get("report")),
                ("TAGREC_MARKER", run.get("marker")),
            ],
        );
        assert_success(&out);
    }

    fn comments(&self) -> Vec<Value> {
        serde_json::from_str(&self.read("gh/comments.json")).unwrap_or_default()
    }

    fn issues(&self) -> Vec<Value> {
        serde_json::from_str(&self.read("gh/issues.json")).unwrap_or_default()
    }

    /// The embedded sandbox's account: name -> (status, tags).
    fn live(&self) -> Vec<Value> {
        let state = self.read(".tagrec/state.json");
        let state: Value = if state.is_empty() {
            json!({"projects": serde_json::from_str::<Value>(&self.read("live.json")).unwrap()})
        } else {
            serde_json::from_str(&state).unwrap()
        };
        state["projects"].as_array().unwrap().clone()
    }

    fn live_project(&self, name: &str) -> Value {
        self.live()
            .into_iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no live project {name}"))
    }

    fn git(&self, args: &[&str]) {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("git runs");
        assert_success(&out);
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(not(unix))]
fn make_executable(_: &Path) {}

fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn yaml_doc(text: &str) -> Yaml<'_> {
    let mut docs = Yaml::load_from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    docs.remove(0)
}

/// The `run:` script of the step named `name` in an example workflow.
fn workflow_step(workflow: &str, name: &str) -> String {
    let text = fs::read_to_string(Path::new(REPO).join("examples/ci/github").join(workflow))
        .unwrap_or_else(|e| panic!("{workflow}: {e}"));
    let doc = yaml_doc(&text);
    let jobs = doc
        .as_mapping_get("jobs")
        .and_then(Yaml::as_mapping)
        .unwrap();
    jobs.values()
        .flat_map(|job| job.as_mapping_get("steps").and_then(Yaml::as_vec).unwrap())
        .find(|step| step.as_mapping_get("name").and_then(Yaml::as_str) == Some(name))
        .and_then(|step| step.as_mapping_get("run").and_then(Yaml::as_str))
        .unwrap_or_else(|| panic!("no run step {name:?} in {workflow}"))
        .to_string()
}

/// The `with:` inputs of the step named `name` in an example workflow, as the action's "Run
/// tagrec" step receives them (TAGREC_COMMAND, TAGREC_MANIFEST, TAGREC_CHANGED_SINCE), with
/// `${{ github.base_ref }}` standing for `base_ref`.
fn workflow_inputs(workflow: &str, name: &str, base_ref: &str) -> Vec<(String, String)> {
    let text = fs::read_to_string(Path::new(REPO).join("examples/ci/github").join(workflow))
        .unwrap_or_else(|e| panic!("{workflow}: {e}"));
    let doc = yaml_doc(&text);
    let jobs = doc
        .as_mapping_get("jobs")
        .and_then(Yaml::as_mapping)
        .unwrap();
    let with = jobs
        .values()
        .flat_map(|job| job.as_mapping_get("steps").and_then(Yaml::as_vec).unwrap())
        .find(|step| step.as_mapping_get("name").and_then(Yaml::as_str) == Some(name))
        .and_then(|step| step.as_mapping_get("with").and_then(Yaml::as_mapping))
        .unwrap_or_else(|| panic!("no step {name:?} with inputs in {workflow}"));
    let mut inputs = Vec::new();
    for (input, variable) in [
        ("command", "TAGREC_COMMAND"),
        ("manifest", "TAGREC_MANIFEST"),
        ("changed-since", "TAGREC_CHANGED_SINCE"),
    ] {
        let value = with
            .iter()
            .find(|(k, _)| k.as_str() == Some(input))
            .and_then(|(_, v)| v.as_str());
        if let Some(value) = value {
            let value = value.replace("${{ github.base_ref }}", base_ref);
            assert!(
                !value.contains("${{ github."),
                "{workflow}: {input}: {value}"
            );
            inputs.push((variable.to_string(), value));
        }
    }
    inputs
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn the_plan_is_one_comment_that_every_run_edits_a_failed_run_included() {
    let repo = Repo::new();
    repo.write(
        "gh/comments.json",
        &json!([{"id": 7, "body": "LGTM", "user": {"login": "alice"}}]).to_string(),
    );

    let run = repo.run("plan");
    assert_eq!(run.get("exitcode"), "2");
    assert_eq!(run.get("has-changes"), "true");
    assert_eq!(run.get("failed"), "false");
    let saved: Value = serde_json::from_str(&fs::read_to_string(run.get("plan-file")).unwrap())
        .expect("the plan file is the JSON plan");
    assert_eq!(saved["summary"]["create"], 1);
    assert_eq!(saved["summary"]["archive"], 1);
    assert_eq!(
        count(&repo.read("step_summary.md"), "### tagrec plan"),
        1,
        "the plan shows once on the summary page:\n{}",
        repo.read("step_summary.md")
    );
    repo.comment(&run);
    let comments = repo.comments();
    assert_eq!(comments.len(), 2, "{comments:?}");
    let ours = comments[1]["body"].as_str().unwrap();
    assert!(ours.starts_with(run.get("marker")), "{ours}");
    assert!(ours.contains("Plan: 1 to create, 1 to update, 1 to archive."));
    let id = comments[1]["id"].clone();

    // A push breaks the manifest: the comment now says so, and the old plan is gone from it.
    repo.write(
        "projects.yaml",
        &MANIFEST.replace(
            "    tags: {Application: Search}",
            "    tagz: {Application: Search}",
        ),
    );
    let run = repo.run("plan");
    assert_eq!(run.get("exitcode"), "1");
    assert_eq!(run.get("failed"), "true");
    assert_eq!(run.get("plan-file"), "");
    assert!(
        run.stdout()
            .lines()
            .any(|l| l.starts_with("::error file=projects.yaml,line=12,")),
        "annotations on the diff:\n{}",
        run.stdout()
    );
    repo.comment(&run);
    let comments = repo.comments();
    assert_eq!(comments.len(), 2, "still one comment: {comments:?}");
    assert_eq!(comments[1]["id"], id, "edited in place");
    let body = comments[1]["body"].as_str().unwrap();
    assert!(body.contains("the manifest has errors"), "{body}");
    assert!(body.contains("`projects.yaml:12:5` unknown-key"), "{body}");
    assert!(
        !body.contains("Plan: 1 to create"),
        "the stale plan is gone:\n{body}"
    );

    // A valid manifest whose plan fails (a pinned id the account lacks): the error replaces it too.
    repo.write(
        "projects.yaml",
        &MANIFEST.replace(
            "  - name: Search\n",
            "  - name: Search\n    id: proj_zzzzzzzzzzzzzzzzzzz0\n",
        ),
    );
    let run = repo.run("plan");
    assert_eq!(run.get("exitcode"), "1");
    assert_eq!(run.get("failed"), "true");
    repo.comment(&run);
    let comments = repo.comments();
    assert_eq!(comments.len(), 2);
    let body = comments[1]["body"].as_str().unwrap();
    assert!(body.contains("tagrec plan failed"), "{body}");
    assert!(body.contains("proj_zzzzzzzzzzzzzzzzzzz0"), "{body}");
    assert!(
        repo.read("step_summary.md").contains("tagrec plan failed"),
        "the summary page says it too"
    );

    // Fixed: the plan is back, in the same comment; the reviewer's comment was never touched.
    repo.write("projects.yaml", MANIFEST);
    let run = repo.run("plan");
    assert_eq!(run.get("exitcode"), "2");
    repo.comment(&run);
    let comments = repo.comments();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[1]["id"], id);
    assert!(
        comments[1]["body"]
            .as_str()
            .unwrap()
            .contains("Plan: 1 to create")
    );
    assert_eq!(comments[0]["body"], "LGTM");
}

#[test]
fn exit_2_counts_as_changes_only_where_the_command_line_asks_for_it() {
    let repo = Repo::new();

    // A mistyped flag is a usage error, whatever code it exits with: the step fails.
    let run = repo.run("plan --formt markdown");
    assert_ne!(run.get("exitcode"), "0");
    assert_eq!(run.get("failed"), "true");
    assert_eq!(run.get("has-changes"), "false");
    assert!(run.report().contains("--formt"), "{}", run.report());

    let run = repo.run("tagrec plan --detailed-exitcode --target Search");
    assert_eq!(run.get("exitcode"), "2");
    assert_eq!(run.get("failed"), "false");
    assert_eq!(run.get("has-changes"), "true");

    // Without --detailed-exitcode, changes exit 0.
    let run = repo.run("plan --out plan.json");
    assert_eq!(run.get("exitcode"), "0");
    assert_eq!(run.get("has-changes"), "false");
    assert_eq!(
        run.get("plan-file"),
        repo.path("plan.json").display().to_string(),
        "the plan file a command line names"
    );

    // audit's violations (the account's Alpha has `costcenter`) are a result, not a failure.
    let run = repo.run("audit");
    assert_eq!(run.get("exitcode"), "2");
    assert_eq!(run.get("failed"), "false");
    assert_eq!(run.get("has-changes"), "true");
    assert!(
        repo.read("step_summary.md").contains("Compliance:"),
        "{}",
        repo.read("step_summary.md")
    );

    let run = repo.run("validate");
    assert_eq!(run.get("exitcode"), "0");
    assert_eq!(run.get("failed"), "false");
    assert!(repo.read("step_summary.md").contains("No problems found."));
}

#[test]
fn a_saved_plan_is_applied_as_reviewed_and_refused_once_stale() {
    let repo = Repo::new();
    let plan = repo.run("plan");
    fs::copy(plan.get("plan-file"), repo.path("plan.json")).unwrap();

    let run = repo.run("apply plan.json --allow-archive");
    assert_eq!(run.get("exitcode"), "0", "{}", run.report());
    assert_eq!(run.get("failed"), "false");
    assert_eq!(repo.live_project("Old-Experiment")["status"], "archived");
    assert_eq!(repo.live_project("Search")["status"], "active");
    assert!(
        repo.read("step_summary.md").contains("### tagrec apply"),
        "{}",
        repo.read("step_summary.md")
    );

    // The next pull request changes Alpha; before it merges, someone edits Alpha by hand.
    repo.write(
        "projects.yaml",
        &MANIFEST.replace("{Application: Alpha}", "{Application: Alpha, Tier: gold}"),
    );
    let plan = repo.run("plan");
    assert_eq!(plan.get("exitcode"), "2");
    fs::copy(plan.get("plan-file"), repo.path("plan.json")).unwrap();
    let mut state: Value = serde_json::from_str(&repo.read(".tagrec/state.json")).unwrap();
    for project in state["projects"].as_array_mut().unwrap() {
        if project["name"] == "Alpha" {
            project["tags"]["Owner"] = json!("mallory");
        }
    }
    repo.write(".tagrec/state.json", &state.to_string());

    let run = repo.run("apply plan.json --allow-archive");
    assert_eq!(run.get("exitcode"), "1");
    assert_eq!(run.get("failed"), "true");
    assert!(run.report().contains("stale"), "{}", run.report());
    let alpha = repo.live_project("Alpha");
    assert_eq!(alpha["tags"]["Owner"], "mallory", "nothing written");
    assert!(alpha["tags"].get("Tier").is_none(), "nothing written");
}

#[test]
fn the_apply_workflow_takes_the_reviewed_plan_only_when_the_merge_kept_its_inputs() {
    let repo = Repo::new();
    repo.write(".gitignore", ".tagrec/\nrunner/\ngh/\nfakes/\n");
    repo.git(&["init", "-q"]);
    repo.git(&["add", "."]);
    repo.git(&["commit", "-qm", "manifest"]);

    // The pull request's run: plan, then keep the plan with its inputs (the artifact).
    let plan = repo.run("plan");
    let keep = workflow_step(
        "tagrec-plan.yml",
        "Keep the plan with the manifest it was made from",
    );
    assert_success(&repo.bash(&keep, &[("PLAN_FILE", plan.get("plan-file"))]));
    // What actions/download-artifact puts in `reviewed/`.
    fs::rename(repo.path("tagrec-plan"), repo.path("reviewed")).unwrap();
    assert!(repo.read("reviewed/inputs.txt").contains("projects.yaml"));

    let choose = workflow_step("tagrec-apply.yml", "Choose the plan to apply");
    assert_success(&repo.bash(&choose, &[]));
    assert_eq!(
        repo.read("github_output").trim(),
        "command=apply reviewed/plan.json --allow-archive"
    );

    // Another merge changed the manifest since that plan: plan afresh (prune: true allows archives).
    repo.write(
        "projects.yaml",
        &format!("{MANIFEST}  - name: Gamma\n    tags: {{Application: Gamma}}\n"),
    );
    repo.git(&["commit", "-qam", "Gamma"]);
    assert_success(&repo.bash(&choose, &[]));
    let command = repo.read("github_output");
    assert_eq!(
        command.trim(),
        "command=apply --auto-approve --allow-archive"
    );

    // The action runs what was chosen; the account then matches the merged manifest.
    let run = repo.run(command.trim().strip_prefix("command=").unwrap());
    assert_eq!(run.get("exitcode"), "0", "{}", run.report());
    assert_eq!(repo.live_project("Gamma")["status"], "active");
    assert_eq!(repo.run("plan").get("has-changes"), "false");
}

#[test]
fn the_drift_watch_keeps_one_issue_open_while_the_account_differs() {
    let repo = Repo::new();
    let step = workflow_step("tagrec-drift.yml", "Open, update or close the drift issue");
    let watch = |run: &Run| {
        let out = repo.bash(
            &step,
            &[
                ("DRIFT", run.get("has-changes")),
                ("REPORT", run.get("report")),
                ("RUN_URL", "https://github.com/o/r/actions/runs/1"),
            ],
        );
        assert_success(&out);
    };

    // The account differs from the manifest: one issue, labelled drift, with the plan.
    watch(&repo.run("plan"));
    let issues = repo.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0]["labels"], json!(["drift"]));
    assert_eq!(issues[0]["state"], "OPEN");
    assert!(
        issues[0]["body"]
            .as_str()
            .unwrap()
            .contains("Plan: 1 to create, 1 to update, 1 to archive."),
        "{}",
        issues[0]["body"]
    );

    // Part of it is fixed (Search is created by hand), the rest remains: the same issue follows.
    let run = repo.run("apply --auto-approve --target Search");
    assert_eq!(run.get("exitcode"), "0", "{}", run.report());
    watch(&repo.run("plan"));
    let issues = repo.issues();
    assert_eq!(issues.len(), 1, "never a second issue: {issues:?}");
    assert!(
        issues[0]["body"]
            .as_str()
            .unwrap()
            .contains("Plan: 0 to create, 1 to update, 1 to archive."),
        "{}",
        issues[0]["body"]
    );

    // Back in line: closed. And no new issue on the next quiet run.
    let run = repo.run("apply --auto-approve --allow-archive");
    assert_eq!(run.get("exitcode"), "0", "{}", run.report());
    watch(&repo.run("plan"));
    watch(&repo.run("plan"));
    let issues = repo.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0]["state"], "CLOSED");
    assert!(
        issues[0]["comments"][0]
            .as_str()
            .unwrap()
            .contains("back in line")
    );
}

#[test]
fn the_workflows_never_run_two_applies_at_once_and_grant_no_more_than_each_job_needs() {
    for workflow in [
        "tagrec-plan.yml",
        "tagrec-apply.yml",
        "tagrec-drift.yml",
        "tagrec-audit.yml",
        "tagrec-estate-plan.yml",
        "tagrec-estate-matrix.yml",
    ] {
        let text =
            fs::read_to_string(Path::new(REPO).join("examples/ci/github").join(workflow)).unwrap();
        let doc = yaml_doc(&text);
        let top = doc.as_mapping_get("permissions").and_then(Yaml::as_mapping);
        assert!(
            top.is_some_and(|p| p.is_empty()),
            "{workflow}: nothing granted at the top, each job says what it needs"
        );
        let jobs = doc
            .as_mapping_get("jobs")
            .and_then(Yaml::as_mapping)
            .unwrap();
        for job in jobs.values() {
            let permissions = job.as_mapping_get("permissions").and_then(Yaml::as_mapping);
            assert!(
                permissions.is_some(),
                "{workflow}: a job without permissions"
            );
            assert!(
                permissions
                    .unwrap()
                    .values()
                    .all(|v| v.as_str() != Some("write-all")),
                "{workflow}"
            );
        }
        if workflow == "tagrec-apply.yml" {
            let concurrency = doc.as_mapping_get("concurrency").unwrap();
            assert!(
                concurrency
                    .as_mapping_get("group")
                    .and_then(Yaml::as_str)
                    .is_some()
            );
            assert_eq!(
                concurrency
                    .as_mapping_get("cancel-in-progress")
                    .and_then(Yaml::as_bool),
                Some(false),
                "an apply is queued, never cut short"
            );
        }
    }
}

/// An estate of two accounts on the embedded sandbox, in a git repository whose `origin/main`
/// is the base of a pull request branch that changed only `accounts/b`.
fn estate_pull_request() -> Repo {
    let repo = Repo::new();
    repo.write(
        ".gitignore",
        ".tagrec/\nrunner/\ngh/\nfakes/\ngithub_output\nstep_summary.md\n",
    );
    for account in ["a", "b"] {
        repo.write(
            &format!("accounts/{account}/live.json"),
            &json!([{"id": format!("proj_{account}bbbbbbbbbbbbbbbbbb1"), "name": "Base",
                     "status": "active", "tags": {"Team": "t"}}])
            .to_string(),
        );
        repo.write(
            &format!("accounts/{account}/us-east-1.yaml"),
            "version: 1\ntarget: {sandbox: {state: .tagrec/state.json, seed: live.json}}\nprojects:\n  - {name: Base, tags: {Team: t}}\n",
        );
    }
    repo.git(&["init", "-q", "-b", "main"]);
    repo.git(&["add", "."]);
    repo.git(&["commit", "-qm", "estate"]);
    // What `actions/checkout` with fetch-depth: 0 leaves: the base branch as origin/main.
    repo.git(&["update-ref", "refs/remotes/origin/main", "HEAD"]);
    repo.git(&["checkout", "-qb", "pull-request"]);
    repo.write(
        "accounts/b/us-east-1.yaml",
        "version: 1\ntarget: {sandbox: {state: .tagrec/state.json, seed: live.json}}\nprojects:\n  - {name: Base, tags: {Team: t}}\n  - {name: New, tags: {Team: n}}\n",
    );
    repo.git(&["commit", "-qam", "b gets New"]);
    repo
}

#[test]
fn the_estate_workflow_plans_the_changed_manifests_in_one_comment() {
    let repo = estate_pull_request();
    let inputs = workflow_inputs(
        "tagrec-estate-plan.yml",
        "Validate and plan the changed manifests",
        "main",
    );
    let inputs: Vec<(&str, &str)> = inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let run = repo.run_with(&inputs);
    assert_eq!(run.get("exitcode"), "2", "{}", run.report());
    assert_eq!(run.get("has-changes"), "true");
    assert_eq!(run.get("failed"), "false");
    // The plans of the changed manifests only, one file each, in a folder for `tagrec apply DIR`.
    let plans = PathBuf::from(run.get("plan-file"));
    assert!(plans.is_dir(), "{}", plans.display());
    assert!(plans.join("accounts/b/us-east-1.json").is_file());
    assert!(!plans.join("accounts/a").exists());
    let report = run.report();
    assert!(
        report.starts_with(
            "### tagrec plan\n\n**Estate: 1 manifest, 1 to create, 0 to update, 0 to archive, 0 failed.**"
        ),
        "{report}"
    );
    assert!(
        report.contains("#### `accounts/b/us-east-1.yaml`"),
        "{report}"
    );
    assert_eq!(count(&repo.read("step_summary.md"), "### tagrec plan"), 1);
    repo.comment(&run);
    repo.comment(&repo.run_with(&inputs));
    let comments = repo.comments();
    assert_eq!(
        comments.len(),
        1,
        "one comment for the estate: {comments:?}"
    );

    // The saved plans are applied as they are, each finding its manifest.
    let plans = plans.display().to_string();
    let apply = repo.run_with(&[("TAGREC_COMMAND", &format!("apply {plans}"))]);
    assert_eq!(apply.get("exitcode"), "0", "{}", apply.report());
    let state = repo.read("accounts/b/.tagrec/state.json");
    assert!(state.contains("\"New\""), "{state}");
    assert!(!repo.path("accounts/a/.tagrec/state.json").exists());
}

#[test]
fn the_matrix_workflow_lists_the_changed_manifests_one_job_each() {
    let repo = estate_pull_request();
    let list = workflow_step("tagrec-estate-matrix.yml", "List the changed manifests");
    assert_success(&repo.bash(&list, &[("BASE_REF", "main")]));
    let outputs = repo.read("github_output");
    assert!(
        outputs.contains("matrix={\"include\":[{\"manifest\":\"accounts/b/us-east-1.yaml\"}]}\n"),
        "{outputs}"
    );
    assert!(outputs.contains("count=1\n"), "{outputs}");
    // The job the matrix gives plans that manifest alone.
    let inputs = workflow_inputs("tagrec-estate-matrix.yml", "Validate and plan", "main");
    let manifest = inputs
        .iter()
        .find(|(k, _)| k == "TAGREC_MANIFEST")
        .map(|(_, v)| v.as_str());
    assert_eq!(manifest, Some("${{ matrix.manifest }}"));

    // Nothing changed: an empty list, which the plan job's `if:` skips.
    repo.git(&["checkout", "-q", "main"]);
    assert_success(&repo.bash(&list, &[("BASE_REF", "main")]));
    let outputs = repo.read("github_output");
    assert!(outputs.contains("matrix={\"include\":[]}\n"), "{outputs}");
    assert!(outputs.contains("count=0\n"), "{outputs}");
}

/// The script lines of a job of the GitLab example, as the runner runs them (the `.tagrec`
/// template's install lines are left out: tagrec is on the PATH here).
fn gitlab_script(job: &str) -> String {
    let text =
        fs::read_to_string(Path::new(REPO).join("examples/ci/gitlab/.gitlab-ci.yml")).unwrap();
    let doc = yaml_doc(&text);
    let spec = doc
        .as_mapping_get(job)
        .unwrap_or_else(|| panic!("no job {job}"));
    spec.as_mapping_get("script")
        .and_then(Yaml::as_vec)
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_gitlab_jobs_keep_one_note_and_one_drift_issue_in_a_posix_shell() {
    let repo = Repo::new();
    let env = [
        ("CI_API_V4_URL", "https://gitlab.example.com/api/v4"),
        ("CI_PROJECT_ID", "5"),
        ("CI_MERGE_REQUEST_IID", "1"),
        ("CI_DEFAULT_BRANCH", "main"),
        ("CI_JOB_URL", "https://gitlab.example.com/o/r/-/jobs/9"),
        ("TAGREC_GITLAB_TOKEN", "token"),
        ("TAGREC_MANIFEST", "projects.yaml"),
    ];
    let job = |name: &str| repo.shell("sh", &gitlab_script(name), &env);
    let notes = || -> Vec<Value> { serde_json::from_str(&repo.read("gitlab/notes.json")).unwrap() };
    let issues =
        || -> Vec<Value> { serde_json::from_str(&repo.read("gitlab/issues.json")).unwrap() };

    assert_success(&job("validate"));
    assert_success(&job("plan"));
    assert_eq!(notes().len(), 1);
    let body = notes()[0]["body"].as_str().unwrap().to_string();
    assert!(body.starts_with("<!-- tagrec-plan -->"), "{body}");
    assert!(
        body.contains("Plan: 1 to create, 1 to update, 1 to archive."),
        "{body}"
    );
    assert!(
        repo.path("plan.json").exists(),
        "the plan file is an artifact"
    );

    // A push that breaks the manifest: the job fails, and the note says why, in place.
    repo.write(
        "projects.yaml",
        &MANIFEST.replace(
            "    tags: {Application: Search}",
            "    tagz: {Application: Search}",
        ),
    );
    let out = job("plan");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(notes().len(), 1);
    let body = notes()[0]["body"].as_str().unwrap().to_string();
    assert!(body.contains("tagrec plan failed (exit 1)"), "{body}");
    assert!(body.contains("tagz"), "{body}");
    assert!(!body.contains("Plan: 1 to create"), "{body}");
    repo.write("projects.yaml", MANIFEST);

    // The drift watch opens one issue, then the merge's apply puts the account in line and the
    // next watch closes it.
    assert_success(&job("drift"));
    assert_success(&job("drift"));
    assert_eq!(issues().len(), 1, "{:?}", issues());
    assert_eq!(issues()[0]["labels"], json!(["drift"]));
    assert!(
        issues()[0]["description"]
            .as_str()
            .unwrap()
            .contains("Plan: 1 to create")
    );
    assert_success(&job("apply"));
    assert_eq!(repo.live_project("Old-Experiment")["status"], "archived");
    assert_success(&job("drift"));
    assert_eq!(issues().len(), 1);
    assert_eq!(issues()[0]["state"], "closed");
}
