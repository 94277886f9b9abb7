"""Offline checks of the Dockerfile, docker-compose.yml and deploy/ (no engine, no cluster).

The Kubernetes overlays are rendered by a small, strict Kustomize renderer written for exactly
the features ``deploy/k8s`` uses: ``kubectl`` is not guaranteed on a developer's or CI's machine
and no Kustomize build on PyPI supports Python 3.11. Supported: ``resources`` (files and
directories with a ``kustomization.yaml``), ``namespace``, ``labels`` (``pairs``,
``includeSelectors: false``, ``includeTemplates``), ``images`` (``newName``/``newTag``),
``replicas`` and ``patches`` in JSON 6902 form targeted by ``kind``/``name``. Anything else
raises, so the renderer never silently mis-renders. When ``kubectl`` is on the PATH a test
compares this output with the real Kustomize (``kubectl kustomize``).
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from pydantic import BaseModel

from syncmesh_kit.settings import DEV_JWT_SECRET, SHARED_ENV_PREFIX, ServiceSettings

Doc = dict[str, Any]

_KEYS = {"apiVersion", "kind", "namespace", "resources", "labels", "images", "replicas", "patches"}
_CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
_LABEL_KEYS = {"pairs", "includeSelectors", "includeTemplates"}
_WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


class KustomizeError(ValueError):
    pass


def render(directory: Path) -> list[Doc]:
    kfile = directory / "kustomization.yaml"
    kust = yaml.safe_load(kfile.read_text())
    unknown = set(kust) - _KEYS
    if unknown:
        raise KustomizeError(f"{kfile}: unsupported keys {sorted(unknown)}")
    docs: list[Doc] = []
    for res in kust.get("resources", []):
        path = (directory / res).resolve()
        if path.is_dir():
            docs.extend(render(path))
        else:
            docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    for patch in kust.get("patches", []):
        _apply_patch(docs, patch, kfile)
    if "namespace" in kust:
        for doc in docs:
            if doc["kind"] not in _CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = kust["namespace"]
    for spec in kust.get("labels", []):
        if spec.get("includeSelectors", False) or set(spec) - _LABEL_KEYS:
            raise KustomizeError(f"{kfile}: only labels with includeSelectors: false supported")
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(spec["pairs"])
            if spec.get("includeTemplates") and doc["kind"] in _WORKLOADS:
                tmeta = doc["spec"]["template"].setdefault("metadata", {})
                tmeta.setdefault("labels", {}).update(spec["pairs"])
    for rep in kust.get("replicas", []):
        hits = [d for d in docs if d["kind"] in _WORKLOADS and d["metadata"]["name"] == rep["name"]]
        if not hits:
            raise KustomizeError(f"{kfile}: replicas for unknown workload {rep['name']}")
        for doc in hits:
            doc["spec"]["replicas"] = rep["count"]
    for img in kust.get("images", []):
        if set(img) - {"name", "newName", "newTag"}:
            raise KustomizeError(f"{kfile}: unsupported image fields {img}")
        for doc in docs:
            if doc["kind"] not in _WORKLOADS:
                continue
            for container in doc["spec"]["template"]["spec"]["containers"]:
                name, _, tag = container["image"].partition(":")
                if name == img["name"]:
                    container["image"] = f"{img.get('newName', name)}:{img.get('newTag', tag)}"
    return docs


def _apply_patch(docs: list[Doc], patch: dict[str, Any], kfile: Path) -> None:
    target = patch.get("target", {})
    if set(target) - {"kind", "name"} or set(patch) - {"target", "patch"}:
        raise KustomizeError(f"{kfile}: only inline JSON 6902 patches targeted by kind/name")
    ops = yaml.safe_load(patch["patch"])
    if not isinstance(ops, list):
        raise KustomizeError(f"{kfile}: only JSON 6902 patches (a list of operations)")
    hits = [
        d
        for d in docs
        if d["kind"] == target.get("kind", d["kind"])
        and d["metadata"]["name"] == target.get("name", d["metadata"]["name"])
    ]
    if not hits:
        raise KustomizeError(f"{kfile}: patch target {target} matches nothing")
    for doc in hits:
        for op in ops:
            _json6902(doc, op)


def _json6902(doc: Doc, op: dict[str, Any]) -> None:
    if op["op"] not in {"add", "replace"}:
        raise KustomizeError(f"unsupported JSON patch op {op['op']}")
    parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    parent: Any = doc
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last, value = parts[-1], copy.deepcopy(op["value"])
    if isinstance(parent, list):
        if last == "-":
            if op["op"] != "add":
                raise KustomizeError("'-' only with add")
            parent.append(value)
        elif op["op"] == "add":
            parent.insert(int(last), value)
        else:
            parent[int(last)] = value
    else:
        if op["op"] == "replace" and last not in parent:
            raise KustomizeError(f"replace of missing {op['path']}")
        parent[last] = value


# --------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
K8S_VERSION = "1.30"


@dataclass(frozen=True)
class Svc:
    name: str
    command: str
    port: int
    settings: str


SERVICES = (
    Svc("gateway", "syncmesh-gateway", 8000, "syncmesh_gateway.settings:GatewaySettings"),
    Svc("sync", "syncmesh-sync", 8001, "syncmesh_sync.settings:SyncSettings"),
    Svc(
        "conflict-resolver",
        "syncmesh-resolver",
        8002,
        "syncmesh_resolver.settings:ResolverSettings",
    ),
    Svc("presence", "syncmesh-presence", 8003, "syncmesh_presence.settings:PresenceSettings"),
    Svc(
        "notification",
        "syncmesh-notification",
        8004,
        "syncmesh_notification.settings:NotificationSettings",
    ),
)
BY_NAME = {s.name: s for s in SERVICES}


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} missing from the venv: `make install` (group deploy) installs it"
    return str(path)


def _settings_cls(svc: Svc) -> type[ServiceSettings]:
    module, _, attr = svc.settings.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    assert issubclass(cls, ServiceSettings)
    return cast(type[ServiceSettings], cls)


def _check_env_name(cls: type[ServiceSettings], env_name: str) -> None:
    """``env_name`` must address a real (nested) settings field of ``cls``."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    if env_name.startswith(prefix):
        rest = env_name[len(prefix) :]
    else:
        assert env_name.startswith(SHARED_ENV_PREFIX), f"{env_name}: not a syncmesh variable"
        rest = env_name[len(SHARED_ENV_PREFIX) :]
    model: type[BaseModel] = cls
    parts = rest.lower().split("__")
    for i, part in enumerate(parts):
        assert part in model.model_fields, f"{env_name}: {part!r} is no field of {model.__name__}"
        if i < len(parts) - 1:
            annotation = model.model_fields[part].annotation
            assert isinstance(annotation, type), env_name
            assert issubclass(annotation, BaseModel), env_name
            model = annotation


def _load_settings(
    cls: type[ServiceSettings], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> ServiceSettings:
    for key in list(os.environ):
        if key.startswith(SHARED_ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in env.items():
        _check_env_name(cls, key)
        monkeypatch.setenv(key, value)
    return cls()


# --- YAML, Dockerfile, compose --------------------------------------------------------------


def test_yamllint() -> None:
    cmd = [_tool("yamllint"), "-f", "parsable", "-s", "-c", ".yamllint"]
    result = subprocess.run(
        [*cmd, "docker-compose.yml", "deploy/", ".yamllint"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint() -> None:
    result = subprocess.run(
        [_tool("hadolint"), "--failure-threshold", "warning", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_conventions() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "FROM ${PYTHON_IMAGE} AS runtime" in text
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert "uv sync --frozen --no-dev --all-packages --no-editable" in text
    assert "--group" not in text  # neither dev nor bench in the image
    assert re.search(r"^USER 10001$", text, re.M)
    assert not re.search(r"(?i)secret|password|token", text.split("AS runtime")[1])
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".venv", ".tools", ".data", "node_modules", "bench/results", ".mypy_cache"):
        assert entry in ignored


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    result = subprocess.run(
        [_tool("docker-compose"), "-f", "docker-compose.yml", "config", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"},
    )
    assert result.returncode == 0, result.stderr
    return cast(dict[str, Any], json.loads(result.stdout))


def test_compose_config_quiet() -> None:
    result = subprocess.run(
        [_tool("docker-compose"), "-f", "docker-compose.yml", "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"},
    )
    assert result.returncode == 0, result.stderr
    assert "version" not in yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_nats(compose: dict[str, Any]) -> None:
    nats = compose["services"]["nats"]
    assert nats["image"].startswith("nats:")
    assert nats["image"].endswith("-alpine")
    assert nats["command"] == ["-js", "-sd", "/data", "-m", "8222"]
    assert any(v["target"] == "/data" and v["type"] == "volume" for v in nats["volumes"])
    test = nats["healthcheck"]["test"]
    assert test[:2] == ["CMD", "wget"]
    assert test[-1] == "http://127.0.0.1:8222/healthz?js-enabled-only=true"
    assert all(p.get("host_ip") == "127.0.0.1" for p in nats["ports"])


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_compose_service(
    compose: dict[str, Any], svc: Svc, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = compose["services"][svc.name]
    images = {s["image"] for n, s in compose["services"].items() if n != "nats"}
    assert len(images) == 1
    assert spec["image"] in images
    assert compose["services"]["gateway"]["build"]["context"] == str(ROOT)
    assert spec["command"] == [svc.command]
    assert spec["restart"] == "unless-stopped"
    assert spec["depends_on"]["nats"]["condition"] == "service_healthy"
    assert [(p["target"], p.get("host_ip")) for p in spec["ports"]] == [(svc.port, "127.0.0.1")]
    hc = spec["healthcheck"]["test"]
    assert hc[:3] == ["CMD", "python", "-c"]
    assert f"127.0.0.1:{svc.port}/readyz" in hc[3]
    assert spec["read_only"] is True
    assert spec["cap_drop"] == ["ALL"]
    env = spec["environment"]
    assert env["SYNCMESH_JWT_SECRET"] == DEV_JWT_SECRET  # the dev default, overridable
    settings = _load_settings(_settings_cls(svc), env, monkeypatch)
    assert settings.http.host == "0.0.0.0"
    assert settings.http.port == svc.port
    assert settings.nats.url == "nats://nats:4222"


# --- Kubernetes -----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Doc]]:
    name = cast(str, request.param)
    return name, render(K8S / "overlays" / name)


def _by_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_kubernetes_schemas(overlay: tuple[str, list[Doc]]) -> None:
    _, docs = overlay
    assert docs
    for doc in docs:
        # strict: unknown fields fail; a kind without a schema would only warn -> make it fail
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kubernetes_objects(overlay: tuple[str, list[Doc]]) -> None:
    name, docs = overlay
    kinds = sorted({d["kind"] for d in docs})
    expected = ["Deployment", "Namespace", "Service"]
    if name == "dev":
        expected.append("Secret")
    else:
        expected += ["HorizontalPodAutoscaler", "PodDisruptionBudget"]
    assert kinds == sorted(expected)
    namespace = {"dev": "syncmesh-dev", "prod": "syncmesh"}[name]
    assert _by_kind(docs, "Namespace").keys() == {namespace}
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace
    assert set(_by_kind(docs, "Deployment")) == set(BY_NAME)
    assert set(_by_kind(docs, "Service")) == set(BY_NAME)
    if name == "dev":
        secret = _by_kind(docs, "Secret")["syncmesh-jwt"]
        assert secret["stringData"] == {"jwt-secret": DEV_JWT_SECRET}  # placeholder only


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_kubernetes_service(
    overlay: tuple[str, list[Doc]], svc: Svc, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, docs = overlay
    dep = _by_kind(docs, "Deployment")[svc.name]
    service = _by_kind(docs, "Service")[svc.name]
    labels = {
        "app.kubernetes.io/name": f"syncmesh-{svc.name}",
        "app.kubernetes.io/part-of": "syncmesh",
        "app.kubernetes.io/component": svc.name,
    }
    selector = {"app.kubernetes.io/name": f"syncmesh-{svc.name}"}
    assert dep["metadata"]["labels"] == labels
    assert dep["spec"]["template"]["metadata"]["labels"] == labels
    assert dep["spec"]["selector"] == {"matchLabels": selector}
    assert service["spec"]["selector"] == selector
    assert service["spec"]["ports"] == [
        {"name": "http", "port": svc.port, "targetPort": "http", "protocol": "TCP"}
    ]
    assert dep["spec"]["replicas"] == (1 if name == "dev" else 2)

    pod = dep["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert 30 <= pod["terminationGracePeriodSeconds"] <= 60
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    tag = {"dev": "dev", "prod": "0.1.0"}[name]
    assert container["image"] == f"syncmesh/app:{tag}"
    assert container["command"] == [svc.command]
    assert container["ports"] == [{"name": "http", "containerPort": svc.port, "protocol": "TCP"}]
    csc = container["securityContext"]
    assert csc["allowPrivilegeEscalation"] is False
    assert csc["readOnlyRootFilesystem"] is True
    assert csc["capabilities"] == {"drop": ["ALL"]}
    assert csc.get("runAsUser", 10001) == 10001
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz")):
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["lifecycle"]["preStop"] == {"exec": {"command": ["sleep", "5"]}}
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]

    # Every variable is a real settings field of this service, and the values parse.
    env: dict[str, str] = {}
    for var in container["env"]:
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "secretKeyRef" in var["valueFrom"]:
            assert var["valueFrom"]["secretKeyRef"] == {"name": "syncmesh-jwt", "key": "jwt-secret"}
            env[var["name"]] = "x" * 64  # the real secret is >= 32 random bytes in production
        else:
            assert var["valueFrom"]["fieldRef"] == {"fieldPath": "metadata.name"}
            env[var["name"]] = f"{svc.name}-5d8f7c9b6-x2x4q"
    assert "SYNCMESH_JWT_SECRET" in env
    settings = _load_settings(_settings_cls(svc), env, monkeypatch)
    assert settings.http.host == "0.0.0.0"
    assert settings.http.port == svc.port
    assert settings.nats.url == "nats://nats:4222"
    if name == "prod":
        assert settings.environment == "production"
        assert settings.nats.replicas == 3
    else:
        assert settings.environment == "development"


def test_prod_autoscaling_and_disruption() -> None:
    docs = render(K8S / "overlays" / "prod")
    (hpa,) = _by_kind(docs, "HorizontalPodAutoscaler").values()
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "gateway"
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
    pdbs = _by_kind(docs, "PodDisruptionBudget")
    assert set(pdbs) == set(BY_NAME)
    for svc_name, pdb in pdbs.items():
        assert pdb["apiVersion"] == "policy/v1"
        assert pdb["spec"]["selector"] == {
            "matchLabels": {"app.kubernetes.io/name": f"syncmesh-{svc_name}"}
        }


def test_nats_values() -> None:
    values = yaml.safe_load((ROOT / "deploy" / "nats" / "values.yaml").read_text())
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert values["config"]["jetstream"]["enabled"] is True
    assert values["config"]["jetstream"]["fileStore"]["pvc"]["enabled"] is True
    assert values["config"]["monitor"]["enabled"] is True


@pytest.mark.skipif(
    shutil.which("kubectl") is None,
    reason=(
        "kubectl not on PATH: only this cross-check of the in-test Kustomize renderer "
        "against `kubectl kustomize` needs it (optional tool; every other check runs)"
    ),
)
@pytest.mark.parametrize("name", OVERLAYS)
def test_renderer_matches_kubectl_kustomize(name: str) -> None:
    """The Python renderer and the real Kustomize (bundled in kubectl) agree."""
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / name)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr

    def key(d: Doc) -> tuple[str, str, str]:
        return d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]

    real = sorted((d for d in yaml.safe_load_all(result.stdout) if d), key=key)
    assert real == sorted(render(K8S / "overlays" / name), key=key)
