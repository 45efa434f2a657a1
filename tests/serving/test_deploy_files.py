"""The Dockerfile, Kubernetes manifests and .env.example: linted, validated, and checked for the rules."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from backend.config import PROJECT_ROOT, Settings

BIN = Path(sys.executable).parent
K8S = PROJECT_ROOT / "deploy" / "k8s"
SECRET_NAMES = {
    "SECRET_KEY",
    "JWT_SECRET_KEY",
    "DATABASE_URL",
    "ENCRYPTION_KEY",
    "ENCRYPTION_KEYS",
    "REDIS_URL",
    "METRICS_TOKEN",
    "SENTRY_DSN",
}


def all_manifests() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifests() -> dict[str, dict[str, Any]]:
    """One document per kind (for the kinds there is one of); the Deployment is the web one."""
    docs = {doc["kind"]: doc for doc in all_manifests()}
    docs["Deployment"] = next(
        d for d in all_manifests() if d["kind"] == "Deployment" and d["metadata"]["name"] == "homeroom"
    )
    return docs


def cronjobs() -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in all_manifests() if doc["kind"] == "CronJob"}


def pod_specs() -> dict[str, dict[str, Any]]:
    """Every pod the manifests run, by the name of what runs it."""
    pods = {}
    for doc in all_manifests():
        if doc["kind"] in ("Deployment", "Job"):
            pods[doc["metadata"]["name"]] = doc["spec"]["template"]["spec"]
        elif doc["kind"] == "CronJob":
            pods[doc["metadata"]["name"]] = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return pods


def env_example() -> dict[str, str]:
    lines = (PROJECT_ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


# --- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_is_hadolint_clean() -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), "Dockerfile"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\nCMD gunicorn wsgi:application\n")
    assert subprocess.run([str(BIN / "hadolint"), str(bad)], capture_output=True).returncode != 0


def test_dockerfile_rules() -> None:
    text = (PROJECT_ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(stages) >= 2 and all(s.startswith("python:3.11") and "slim" in s for s in stages)
    assert re.search(r"^USER 10001", text, re.M)
    assert re.search(r"^HEALTHCHECK .*?/health", text, re.M | re.S)
    command = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert command and json.loads(command.group(1)) == [
        "gunicorn",
        "--config",
        "gunicorn_config.py",
        "wsgi:application",
    ]
    assert "-r /tmp/requirements.txt" in text
    for name in SECRET_NAMES:
        assert not re.search(rf"^(ENV|ARG)\b.*\b{name}=", text, re.M), f"{name} baked into the image"


def test_dockerignore_keeps_secrets_and_clutter_out() -> None:
    ignored = set((PROJECT_ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", ".git", "tests", "instance"} <= ignored


# --- Kubernetes ---------------------------------------------------------------------------------


def _validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "kubernetes-validate"), "--strict", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_manifests_validate_against_kubernetes_schemas() -> None:
    result = _validate(*sorted(K8S.glob("*.yaml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_validator_rejects_a_broken_manifest(tmp_path: Path) -> None:
    broken = tmp_path / "deployment.yaml"
    shutil.copy(K8S / "deployment.yaml", broken)
    broken.write_text(broken.read_text().replace("containerPort: 8000", "containerPort: eight-thousand"))
    assert _validate(broken).returncode != 0


def test_probes_and_drain_timing() -> None:
    docs = manifests()
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    config = docs["ConfigMap"]["data"]
    graceful = int(config["GUNICORN_GRACEFUL_TIMEOUT"])
    assert float(config["GUNICORN_DRAIN_SECONDS"]) < graceful
    assert pod["terminationGracePeriodSeconds"] > sleep + graceful


@pytest.mark.parametrize("name", sorted(pod_specs()))
def test_pods_run_locked_down(name: str) -> None:
    pod = pod_specs()[name]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    for container in pod["containers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
        assert {"configMapRef", "secretRef"} <= {key for ref in container["envFrom"] for key in ref}
        for variable in container.get("env", []):
            assert variable["name"] not in SECRET_NAMES or "valueFrom" in variable


def test_no_secret_values_in_the_manifests() -> None:
    docs = manifests()
    assert "Secret" not in docs
    assert not SECRET_NAMES & docs["ConfigMap"]["data"].keys()


def test_migration_job_waits_then_upgrades() -> None:
    command = " ".join(manifests()["Job"]["spec"]["template"]["spec"]["containers"][0]["command"])
    assert command.index("wait-for-db") < command.index("db upgrade")


def test_backups_run_daily_and_are_verified_weekly() -> None:
    jobs = cronjobs()
    assert {"homeroom-backup", "homeroom-backup-verify"} <= set(jobs)
    create, verify = jobs["homeroom-backup"]["spec"], jobs["homeroom-backup-verify"]["spec"]
    assert create["schedule"].split()[2:] == ["*", "*", "*"]  # every day
    assert verify["schedule"].split()[2:4] == ["*", "*"] and verify["schedule"].split()[4] != "*"  # weekly
    backup_dir = manifests()["ConfigMap"]["data"]["BACKUP_DIR"]
    claims = {doc["metadata"]["name"] for doc in all_manifests() if doc["kind"] == "PersistentVolumeClaim"}
    for spec, command in ((create, ["backup", "create"]), (verify, ["backup", "verify"])):
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["timeZone"] == "Etc/UTC"
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["command"][-2:] == command
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        # BACKUP_DIR is a folder of the volume (Homeroom keeps it at 700), not its group-owned root.
        [mount] = [
            m for m in container["volumeMounts"] if backup_dir.startswith(m["mountPath"].rstrip("/") + "/")
        ]
        assert volumes[mount["name"]]["persistentVolumeClaim"]["claimName"] in claims
        assert pod["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"


def test_the_doctor_scans_on_a_schedule_without_fixing() -> None:
    spec = cronjobs()["homeroom-doctor"]["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    command = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert (
        command[-3:] == ["db", "doctor", "--json"] and "--fix" not in command and "--autofix" not in command
    )


# --- .env.example -------------------------------------------------------------------------------


def _variables_read_by_serving() -> set[str]:
    sources = [
        PROJECT_ROOT / "gunicorn_config.py",
        PROJECT_ROOT / "backend" / "core" / "serving.py",
        PROJECT_ROOT / "backend" / "core" / "gunicorn_worker.py",
        PROJECT_ROOT / "backend" / "core" / "admission.py",
        PROJECT_ROOT / "start_production.sh",
    ]
    pattern = (
        r"""_env\(\s*["']([A-Z_]+)|environ\.get\(\s*["']([A-Z_]+)|VARIABLE = ["']([A-Z_]+)"""
        r"""|\$\{([A-Z_]+):-"""
    )
    found = {name for path in sources for groups in re.findall(pattern, path.read_text()) for name in groups}
    return found - {""}


def test_env_example_documents_every_variable() -> None:
    documented = env_example().keys()
    settings = {name.upper() for name in Settings.model_fields}
    serving = _variables_read_by_serving()
    assert {"PORT", "GUNICORN_WORKERS", "GUNICORN_DRAIN_SECONDS", "SSL_KEYFILE", "DB_WAIT_TIMEOUT"} <= serving
    assert {"GUNICORN_REQUEST_READ_TIMEOUT", "GUNICORN_QUEUE_BUDGET_SECONDS"} <= serving
    assert (settings | serving) - documented == set()


def test_env_example_holds_placeholders_only() -> None:
    values = env_example()
    assert "replace-me" in values["SECRET_KEY"]
    assert "replace-me" in values["JWT_SECRET_KEY"]
    assert "replace-me" in values["ENCRYPTION_KEY"]
    assert values["REDIS_URL"] == ""
    assert "@" not in values["DATABASE_URL"]  # no credentials


def test_every_shipped_default_keeps_the_shutdown_drain() -> None:
    """.env.example, the Dockerfile and the manifests either leave the worker class to
    gunicorn_config.py (the draining worker) or name the draining worker themselves."""
    shipped = [
        env_example().get("GUNICORN_WORKER_CLASS"),
        *re.findall(r"GUNICORN_WORKER_CLASS[= ]+(\S+)", (PROJECT_ROOT / "Dockerfile").read_text()),
        *(doc.get("data", {}).get("GUNICORN_WORKER_CLASS") for doc in manifests().values()),
    ]
    named = [value for value in shipped if value]
    assert all(value == "backend.core.gunicorn_worker.DrainingThreadWorker" for value in named), named
    assert "DrainingThreadWorker" in (PROJECT_ROOT / "gunicorn_config.py").read_text()
