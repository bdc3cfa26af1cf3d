#!/usr/bin/env python3
"""Checks the hosted-runner workflows (.github/workflows) as far as this
machine can, since the Android NDK, Xcode and Swift are not here:

- every workflow is valid YAML with jobs, each with `runs-on` and steps;
- every step either `uses` an action pinned to a version or `run`s a
  command, and its `working-directory` exists;
- every script of this repository a step runs exists, is executable, and
  parses (`bash -n`);
- every file a script of this repository names with `-p` builds is a
  workspace package (`cargo metadata`).

Prints one line per problem and exits 1 if there is any.
"""
import json
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = re.compile(r"(?<![\w/.-])((?:\.ci|scripts|bindings|android-demo|ios-demo)/[\w./-]+)")


def packages():
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return {p["name"] for p in json.loads(out)["packages"]}


def check_script(path, problems, seen, names):
    if path in seen:
        return
    seen.add(path)
    full = os.path.join(ROOT, path)
    runnable = path.endswith(".sh") or path == ".ci/run"
    if not os.path.isfile(full):
        # Build outputs (jniLibs, the XCFramework) are named too; only a
        # missing script is a problem.
        if runnable:
            problems.append(f"{path}: named by a workflow, not in the repository")
        return
    if not runnable:
        return
    # Sourced helpers need not be executable.
    if not path.startswith("scripts/lib/") and not os.access(full, os.X_OK):
        problems.append(f"{path}: not executable")
    parsed = subprocess.run(["bash", "-n", full], capture_output=True, text=True)
    if parsed.returncode != 0:
        problems.append(f"{path}: does not parse: {parsed.stderr.strip()}")
    with open(full, encoding="utf-8") as f:
        text = f.read()
    for package in re.findall(r"-p ([\w-]+)", text):
        if package not in names:
            problems.append(f"{path}: builds `{package}`, not a workspace package")
    for nested in SCRIPT.findall(text):
        if nested.endswith(".sh"):
            check_script(nested, problems, seen, names)


def main():
    problems = []
    names = packages()
    seen = set()
    folder = os.path.join(ROOT, ".github", "workflows")
    workflows = sorted(f for f in os.listdir(folder) if f.endswith((".yml", ".yaml")))
    if not workflows:
        problems.append(".github/workflows: no workflow")
    for name in workflows:
        where = f".github/workflows/{name}"
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            try:
                workflow = yaml.safe_load(f)
            except yaml.YAMLError as error:
                problems.append(f"{where}: not YAML: {error}")
                continue
        jobs = workflow.get("jobs") or {}
        if not jobs:
            problems.append(f"{where}: no jobs")
        for job_name, job in jobs.items():
            if "runs-on" not in job:
                problems.append(f"{where}: job {job_name} has no runs-on")
            for index, step in enumerate(job.get("steps") or []):
                label = f"{where}: {job_name} step {index + 1} ({step.get('name', step.get('uses', ''))})"
                if ("uses" in step) == ("run" in step):
                    problems.append(f"{label}: needs exactly one of uses and run")
                if "uses" in step and not re.match(r"^[\w.-]+/[\w./-]+@[\w.-]+$", step["uses"]):
                    problems.append(f"{label}: action not pinned to a version: {step['uses']}")
                directory = step.get("working-directory")
                if directory and not os.path.isdir(os.path.join(ROOT, directory)):
                    problems.append(f"{label}: working-directory {directory} does not exist")
                for path in SCRIPT.findall(step.get("run", "")):
                    check_script(path.rstrip("/"), problems, seen, names)
    for problem in problems:
        print(problem)
    print(f"{len(workflows)} workflows, {len(seen)} scripts checked, {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
