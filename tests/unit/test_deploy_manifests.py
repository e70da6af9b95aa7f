"""deploy/compose.yaml and deploy/k8s/ validated without a Docker engine or a cluster.

Structure is checked against schemas: the Compose Specification's JSON schema (vendored in
deploy/schemas/), Kubernetes' own OpenAPI-derived schemas for the built-in kinds (shipped by the
``kubernetes-validate`` package; that test is skipped where it is not installed), and focused
schemas written for the custom resources (Strimzi, KEDA, kustomize). Cross-checks tie the files to
the code: every environment variable set is a real setting, every topic has a KafkaTopic, every
service has its Deployment, Service, PodDisruptionBudget, probes and scaler, and names agree.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import AliasChoices

from consentry_ingest.settings import IngestSettings
from consentry_ledger.settings import LedgerSettings
from consentry_rights.settings import RightsSettings
from consentry_shared import topics
from consentry_shared.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
SCHEMAS = DEPLOY / "schemas"

SERVICES: dict[str, type[ServiceSettings]] = {
    "ingest": IngestSettings,
    "rights": RightsSettings,
    "ledger": LedgerSettings,
}
PORTS = {"ingest": 8701, "rights": 8702, "ledger": 8703}
USES_DATABASE = {"rights", "ledger"}
# What each service consumes and produces (its app.py subscribers and publishers). The consumed
# topic is what its consumer group lags on (KEDA) and what its Kafka user must be allowed to read.
READS = {"ingest": topics.MANIFESTS, "rights": topics.ITEMS, "ledger": topics.DECISIONS}
WRITES = {"ingest": topics.ITEMS, "rights": topics.DECISIONS, "ledger": topics.LEDGER_ENTRIES}

SECURITY_PROTOCOLS = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}
SASL_MECHANISMS = {"", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"}


# ---- helpers ---------------------------------------------------------------------------------------


def _otel_env_names() -> frozenset[str]:
    """The ``OTEL_*`` variables OpenTelemetry reads (they are not Consentry settings)."""
    from opentelemetry import environment_variables as api
    from opentelemetry.sdk import environment_variables as sdk

    return frozenset(name for module in (api, sdk) for name in dir(module) if name.startswith("OTEL_"))


OTEL_ENV = _otel_env_names()


@cache
def env_names(cls: type[ServiceSettings]) -> frozenset[str]:
    """Every environment variable name that sets a field of ``cls`` (as pydantic-settings reads them)."""
    config = cls.model_config
    prefix = str(config.get("env_prefix", ""))
    by_name = bool(config.get("populate_by_name") or config.get("validate_by_name"))
    names: set[str] = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
        if alias is None or by_name:
            names.add(f"{prefix}{field_name}".upper())
    return frozenset(names)


def unknown_env(names: set[str], services: list[str]) -> set[str]:
    """The names in ``names`` that none of ``services`` reads and that are no OTel name."""
    known = set(OTEL_ENV)
    for service in services:
        known |= env_names(SERVICES[service])
    return {name for name in names if name.upper() not in known}


def settings_from(service: str, env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> ServiceSettings:
    """The settings ``service`` would build in a process whose environment is exactly ``env``."""
    for name in list(os.environ):
        if name.startswith(("CONSENTRY_", "KAFKA_", "DATABASE_URL", "OTEL_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return SERVICES[service]()


@cache
def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def validate(document: Any, schema_name: str) -> None:
    definition = schema(schema_name)
    # The vendored Compose schema names its draft (2019-09) with a URI jsonschema does not know.
    validator_class = jsonschema.validators.validator_for(definition, default=jsonschema.Draft201909Validator)
    validator_class.check_schema(definition)
    errors = sorted(validator_class(definition).iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{schema_name}: /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]
    )


# ---- Compose -----------------------------------------------------------------------------------------

_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: Any, env: Mapping[str, str], missing: set[str]) -> Any:
    """Compose's variable interpolation, applied to every string in ``value``."""
    if isinstance(value, dict):
        return {key: interpolate(item, env, missing) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env, missing) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        current = env.get(name)
        if op in (":-", "-"):
            use_default = current is None or (op == ":-" and current == "")
            return arg if use_default else str(current)
        if op in (":+", "+"):
            return arg if current else ""
        if current is None:
            missing.add(name)
            return ""
        return current

    return _INTERPOLATION.sub(replace, value)


@cache
def compose_raw() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def compose() -> dict[str, Any]:
    """compose.yaml as Compose sees it with no variables set (every variable takes its default)."""
    missing: set[str] = set()
    document = interpolate(compose_raw(), {}, missing)
    assert not missing, f"compose.yaml needs variables without a default: {sorted(missing)}"
    return document  # type: ignore[no-any-return]


def compose_env(service: str) -> dict[str, str]:
    environment = compose()["services"][service].get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {name: "" if value is None else str(value) for name, value in environment.items()}


def test_compose_file_matches_the_compose_specification() -> None:
    validate(compose(), "compose-spec.json")


def test_compose_starts_with_no_variables_set() -> None:
    compose()  # raises if a ${VAR} has no default


def test_compose_runs_the_whole_stack() -> None:
    services = set(compose()["services"])
    expected = {"kafka", "postgres", "otel-collector", "jaeger", "prometheus", "grafana", *SERVICES}
    assert expected <= services, f"missing: {sorted(expected - services)}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_compose_service_environment_is_real_settings(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = compose_env(service)
    assert not unknown_env(set(env), [service]), f"{service}: not settings of {SERVICES[service].__name__}"
    settings = settings_from(service, env, monkeypatch)  # values must validate too
    assert settings.host == "0.0.0.0"  # reachable from the other containers
    assert settings.port == PORTS[service]
    assert str(settings.data_dir) == "/var/lib/consentry"
    assert env["KAFKA_SECURITY_PROTOCOL"] in SECURITY_PROTOCOLS
    assert env["KAFKA_SASL_MECHANISM"] in SASL_MECHANISMS


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_compose_service_points_at_the_stack(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose()["services"]
    settings = settings_from(service, compose_env(service), monkeypatch)
    host, port = settings.kafka_bootstrap_servers.split(":")
    assert host in services
    kafka_env = services[host]["environment"]
    assert f"//{host}:{port}" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    if service in USES_DATABASE:
        assert settings.database_url is not None
        url = settings.database_url
        assert url.startswith("postgresql://")
        assert url.split("@", 1)[1].split(":")[0] in services
        postgres_env = services["postgres"]["environment"]
        assert url.rsplit("/", 1)[1] == postgres_env["POSTGRES_DB"]
        assert f"//{postgres_env['POSTGRES_USER']}:{postgres_env['POSTGRES_PASSWORD']}@" in url
    endpoint = compose_env(service)["OTEL_EXPORTER_OTLP_ENDPOINT"]
    collector = endpoint.split("//", 1)[1].split(":")[0]
    assert collector in services
    assert endpoint.endswith(":4318")  # OTLP/HTTP, the exporter the services use


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_compose_service_runs_hardened_from_the_image(service: str) -> None:
    spec = compose()["services"][service]
    assert spec["command"] == ["python", "-m", f"consentry_{service}"]
    assert (DEPLOY / spec["build"]["context"] / spec["build"]["dockerfile"]).is_file()
    assert spec["read_only"] is True
    assert "/tmp" in spec["tmpfs"]
    assert spec["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in spec["security_opt"]
    data_dir = compose_env(service)["CONSENTRY_DATA_DIR"]
    targets = {volume.split(":")[1] for volume in spec["volumes"]}
    assert data_dir in targets, "the data directory must be a volume (the root filesystem is read-only)"
    published = [port.split(":")[-2:] for port in spec["ports"]]  # [host port, container port]
    assert [str(PORTS[service])] * 2 in published


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_compose_service_health_and_start_order(service: str) -> None:
    spec = compose()["services"][service]
    probe = " ".join(spec["healthcheck"]["test"])
    assert f"http://127.0.0.1:{PORTS[service]}/health" in probe
    depends = spec["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    if service in USES_DATABASE:
        assert depends["postgres"]["condition"] == "service_healthy"


def test_compose_dependencies_exist_and_healthy_ones_have_healthchecks() -> None:
    services = compose()["services"]
    for name, spec in services.items():
        for target, condition in spec.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s health, it has none"


def test_compose_mounts_exist_and_named_volumes_are_declared() -> None:
    document = compose()
    declared = set(document.get("volumes") or {})
    for name, spec in document["services"].items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
        for arg in spec.get("command", []) if isinstance(spec.get("command"), list) else []:
            if arg.startswith("--config="):
                mounted = {v.split(":")[1] for v in spec["volumes"]}
                assert arg.split("=", 1)[1] in mounted


def test_compose_kafka_is_a_consistent_kraft_node() -> None:
    env = {k: str(v) for k, v in compose()["services"]["kafka"]["environment"].items()}
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    listeners = {item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")}
    advertised = {item.split("://")[0] for item in env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert advertised <= listeners
    assert listeners == set(protocols)
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners - advertised
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    ports = {item.split("://")[0]: item.rsplit(":", 1)[1] for item in env["KAFKA_LISTENERS"].split(",")}
    voter_id, voter = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split("@")
    assert voter_id == env["KAFKA_NODE_ID"]
    assert voter.rsplit(":", 1)[1] == ports[env["KAFKA_CONTROLLER_LISTENER_NAMES"]]
    assert len(env["CLUSTER_ID"]) == 22  # base64url of a 16-byte UUID, as `kafka-storage random-uuid`
    for name in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[name] == "1", f"{name} must be 1 on a single broker"


# ---- Kubernetes --------------------------------------------------------------------------------------

# Custom resources and kustomize: focused schemas written for this project (deploy/schemas/).
CUSTOM_SCHEMAS = {
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "strimzi-kafkatopic-v1beta2.json",
    ("kafka.strimzi.io/v1beta2", "KafkaUser"): "strimzi-kafkauser-v1beta2.json",
    ("keda.sh/v1alpha1", "ScaledObject"): "keda-scaledobject-v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda-triggerauthentication-v1alpha1.json",
}
# Built-in kinds: Kubernetes' schemas (kubernetes-validate), plus the structural checks below.
BUILTIN_KINDS = {
    ("v1", "Namespace"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
}
# Oldest Kubernetes still in upstream support when this was written, and the newest schema shipped.
KUBERNETES_VERSIONS = ("1.31", "latest")


def _documents(path: Path) -> Iterator[dict[str, Any]]:
    for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if document is not None:
            yield document


@cache
def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def manifests() -> list[tuple[str, dict[str, Any]]]:
    """(file name, resource) for every resource the kustomization applies."""
    return [(name, document) for name in kustomization()["resources"] for document in _documents(K8S / name)]


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in manifests() if doc["kind"] == kind}


def one(kind: str, name: str) -> dict[str, Any]:
    found = resources(kind)
    assert name in found, f"no {kind} {name}"
    return found[name]


def config() -> dict[str, str]:
    return one("ConfigMap", "consentry-config")["data"]  # type: ignore[no-any-return]


def secret_keys(name: str) -> set[str]:
    secret = one("Secret", name)
    return set(secret.get("stringData", {})) | set(secret.get("data", {}))


def container(service: str) -> dict[str, Any]:
    containers = one("Deployment", f"consentry-{service}")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]  # type: ignore[no-any-return]


def pod_env(service: str) -> dict[str, str]:
    """The environment of ``service``'s container: ConfigMap values, then literal env (refs as ``<ref>``)."""
    env: dict[str, str] = {}
    for source in container(service).get("envFrom", []):
        env.update(one("ConfigMap", source["configMapRef"]["name"])["data"])
    for item in container(service).get("env", []):
        env[item["name"]] = item.get("value", "<ref>")
    return env


def test_kustomization_is_valid_and_lists_every_manifest() -> None:
    validate(kustomization(), "kustomization-v1beta1.json")
    listed = set(kustomization()["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk, f"unlisted: {sorted(on_disk - listed)}; missing: {sorted(listed - on_disk)}"
    images = {image["name"] for image in kustomization()["images"]}
    for service in SERVICES:
        assert container(service)["image"].split(":")[0] in images


def test_every_manifest_has_a_known_kind_and_a_unique_name() -> None:
    seen: set[tuple[str, str, str]] = set()
    for file, doc in manifests():
        key = (doc["apiVersion"], doc["kind"])
        assert key in BUILTIN_KINDS or key in CUSTOM_SCHEMAS, f"{file}: no schema for {key}"
        meta = doc["metadata"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", meta["name"]), meta["name"]
        if doc["kind"] != "Namespace":
            assert meta.get("namespace"), f"{file}: {doc['kind']} {meta['name']} names no namespace"
        identity = (doc["kind"], meta.get("namespace", ""), meta["name"])
        assert identity not in seen, f"duplicate {identity}"
        seen.add(identity)


def test_custom_resources_match_their_schemas() -> None:
    checked = 0
    for _, doc in manifests():
        name = CUSTOM_SCHEMAS.get((doc["apiVersion"], doc["kind"]))
        if name:
            validate(doc, name)
            checked += 1
    assert checked


def _kubernetes_validate() -> Any:
    if importlib.util.find_spec("kubernetes_validate") is None:
        pytest.skip("kubernetes-validate is not installed (it ships the Kubernetes JSON schemas)")
    import kubernetes_validate

    return kubernetes_validate


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_builtin_resources_match_the_kubernetes_schemas(version: str) -> None:
    kubernetes_validate = _kubernetes_validate()
    target = kubernetes_validate.latest_version() if version == "latest" else version
    failures = []
    for file, doc in manifests():
        if (doc["apiVersion"], doc["kind"]) in BUILTIN_KINDS:
            try:
                kubernetes_validate.validate(doc, target, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = "/".join(map(str, error.absolute_path))
                failures.append(f"{file} {doc['kind']}/{doc['metadata']['name']} /{path}: {error.message}")
    assert not failures, "\n".join(failures)


def _commented_block(path: Path, begin: str, end: str) -> str:
    """The commented-out YAML between the ``begin`` and ``end`` marker lines, from its first ``# ---``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if begin in line)
    start = next(i for i, line in enumerate(lines) if i > start and line.strip() == "# ---")
    stop = next(i for i, line in enumerate(lines) if end in line)
    return "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines[start:stop])


def test_the_commented_hpa_alternative_is_a_valid_hpa_on_the_lag_metric() -> None:
    block = _commented_block(K8S / "autoscaling.yaml", "HPA alternative (begin)", "HPA alternative (end)")
    hpas = [doc for doc in yaml.safe_load_all(block) if isinstance(doc, dict) and doc.get("kind")]
    assert len(hpas) == 1
    hpa = hpas[0]
    metric = hpa["spec"]["metrics"][0]["external"]["metric"]
    assert metric["name"] == "consentry_consumer_lag"
    assert metric["selector"]["matchLabels"]["group"] == "consentry-rights"
    assert hpa["spec"]["maxReplicas"] <= partitions()[topics.ITEMS]
    if importlib.util.find_spec("kubernetes_validate") is not None:
        import kubernetes_validate

        kubernetes_validate.validate(hpa, kubernetes_validate.latest_version(), strict=True)


def test_namespace_enforces_the_restricted_pod_security_standard() -> None:
    namespace = one("Namespace", "consentry")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_configmap_keys_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    data = config()
    assert all(isinstance(value, str) for value in data.values()), "ConfigMap values must be strings"
    assert not unknown_env(set(data), list(SERVICES))
    assert data["KAFKA_SECURITY_PROTOCOL"] in SECURITY_PROTOCOLS
    assert data["KAFKA_SASL_MECHANISM"] in SASL_MECHANISMS
    for service in SERVICES:
        settings_from(service, data, monkeypatch)  # every service accepts the shared values


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_deployment_env_is_real_settings_and_secrets_exist(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = container(service).get("env", [])
    values = " ".join(item.get("value", "") for item in items)
    referenced = set(re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", values))  # helpers such as POD_NAME
    names = {item["name"] for item in items} - referenced
    assert not unknown_env(names, [service]), f"{service}: not settings"
    for item in items:
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["key"] in secret_keys(ref["name"]), f"{service}: {ref} does not exist"
    env = {name: value for name, value in pod_env(service).items() if value != "<ref>"}
    env["DATABASE_URL"] = "postgresql://u:p@db:5432/consentry"  # stands for the Secret's value
    settings = settings_from(service, env, monkeypatch)
    assert settings.host == "0.0.0.0"
    assert settings.port == PORTS[service]
    if service in USES_DATABASE:
        assert "DATABASE_URL" in {item["name"] for item in items}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_deployment_is_hardened_and_probed(service: str) -> None:
    deployment = one("Deployment", f"consentry-{service}")
    pod = deployment["spec"]["template"]["spec"]
    main = container(service)
    assert main["command"] == ["python", "-m", f"consentry_{service}"]
    assert (
        deployment["spec"]["selector"]["matchLabels"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    pod_security = pod["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] != 0
    assert pod_security["seccompProfile"]["type"] == "RuntimeDefault"
    security = main["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod.get("automountServiceAccountToken") is False
    for resource in ("cpu", "memory"):
        assert resource in main["resources"]["requests"]
    assert "memory" in main["resources"]["limits"]
    ports = {port["name"]: port["containerPort"] for port in main["ports"]}
    assert ports["http"] == PORTS[service]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        check = main[probe]["httpGet"]
        assert check["path"] == "/health"
        assert check["port"] in ("http", PORTS[service])
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(PORTS[service])
    assert annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_deployment_volumes_cover_every_writable_and_secret_path(service: str) -> None:
    pod = one("Deployment", f"consentry-{service}")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in container(service)["volumeMounts"]}
    for mount in mounts.values():
        assert mount["name"] in volumes
    env = pod_env(service)
    assert env["CONSENTRY_DATA_DIR"] in mounts, "the data directory must be a volume (read-only root)"
    assert "emptyDir" in volumes[mounts[env["CONSENTRY_DATA_DIR"]]["name"]]
    assert "/tmp" in mounts
    cafile = Path(env["KAFKA_SSL_CAFILE"])
    ca_mount = mounts[str(cafile.parent)]
    ca_volume = volumes[ca_mount["name"]]["secret"]
    assert cafile.name in {item["path"] for item in ca_volume["items"]}
    for volume in volumes.values():
        if "secret" in volume:
            keys = secret_keys(volume["secret"]["secretName"])
            assert {item["key"] for item in volume["secret"].get("items", [])} <= keys


def test_ledger_signing_key_is_mounted_where_the_ledger_reads_it() -> None:
    env = pod_env("ledger")
    key_path = f"{env['CONSENTRY_DATA_DIR']}/ledger.key"  # consentry_ledger.app: data_dir / "ledger.key"
    mounts = {mount["mountPath"]: mount for mount in container("ledger")["volumeMounts"]}
    assert key_path in mounts
    mount = mounts[key_path]
    assert mount["readOnly"] is True
    volumes = {
        v["name"]: v for v in one("Deployment", "consentry-ledger")["spec"]["template"]["spec"]["volumes"]
    }
    secret = volumes[mount["name"]]["secret"]
    assert secret.get("optional") is not True, "a missing key must stop the pod, not make a new key"
    placeholder = one("Secret", secret["secretName"])["stringData"][mount["subPath"]]
    # Signed-note private key: PRIVATE+KEY+<name>+<key id>+<key>; its name must be the log origin.
    assert placeholder.startswith("PRIVATE+KEY+")
    assert placeholder.split("+")[2] == env["CONSENTRY_LEDGER_ORIGIN"]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_and_disruption_budget_select_the_pods(service: str) -> None:
    labels = one("Deployment", f"consentry-{service}")["spec"]["template"]["metadata"]["labels"]
    svc = one("Service", f"consentry-{service}")
    assert svc["spec"]["selector"].items() <= labels.items()
    port = svc["spec"]["ports"][0]
    assert port["port"] == PORTS[service]
    assert port["targetPort"] in ("http", PORTS[service])
    pdb = one("PodDisruptionBudget", f"consentry-{service}")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert ("maxUnavailable" in pdb["spec"]) != ("minAvailable" in pdb["spec"])


@cache
def partitions() -> dict[str, int]:
    return {doc["spec"]["topicName"]: doc["spec"]["partitions"] for doc in resources("KafkaTopic").values()}


def test_every_topic_and_its_dead_letter_topic_has_a_kafka_topic() -> None:
    prefix = config()["CONSENTRY_TOPIC_PREFIX"]
    expected = {prefix + name for topic in topics.ALL for name in (topic, topics.dead_letter(topic))}
    assert set(partitions()) == expected
    for topic in resources("KafkaTopic").values():
        spec = topic["spec"]
        assert spec["replicas"] >= int(spec["config"]["min.insync.replicas"]) + 1, (
            "one broker down must not stop writes"
        )
        assert topic["metadata"]["labels"]["strimzi.io/cluster"]


def _scaler_targets() -> dict[str, list[str]]:
    targets: dict[str, list[str]] = {}
    for kind in ("ScaledObject", "HorizontalPodAutoscaler"):
        for doc in resources(kind).values():
            targets.setdefault(doc["spec"]["scaleTargetRef"]["name"], []).append(kind)
    return targets


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_deployment_has_exactly_one_scaler_and_no_fixed_replicas(service: str) -> None:
    scalers = _scaler_targets().get(f"consentry-{service}", [])
    assert len(scalers) == 1, f"consentry-{service} is scaled by {scalers}"
    assert "replicas" not in one("Deployment", f"consentry-{service}")["spec"], "the scaler owns replicas"


@pytest.mark.parametrize("service", ["rights", "ledger"])
def test_keda_scales_on_the_lag_of_the_services_consumer_group(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scaled = one("ScaledObject", f"consentry-{service}")
    settings = settings_from(service, config(), monkeypatch)
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    assert meta["consumerGroup"] == settings.group(service)
    assert meta["topic"] == settings.topic(READS[service])
    assert meta["bootstrapServers"] == config()["KAFKA_BOOTSTRAP_SERVERS"]
    assert int(meta["lagThreshold"]) > 0
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    assert scaled["spec"]["maxReplicaCount"] <= partitions()[meta["topic"]], (
        "idle consumers beyond partitions"
    )
    auth = one("TriggerAuthentication", trigger["authenticationRef"]["name"])
    params = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"]}
    assert {"sasl", "tls", "ca", "username", "password"} <= set(params)
    for ref in params.values():
        assert ref["key"] in secret_keys(ref["name"])
    assert params["username"]["key"] == f"{service}-username"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_kafka_user_has_the_acls_the_service_needs(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    user = one("KafkaUser", f"consentry-{service}")
    username = one("Secret", "consentry-kafka")["stringData"][f"{service}-username"]
    assert username == user["metadata"]["name"]
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    assert config()["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    settings = settings_from(service, config(), monkeypatch)
    granted: dict[tuple[str, str], set[str]] = {}
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        granted.setdefault((resource["type"], resource["name"]), set()).update(acl["operations"])
    for (kind, name), operations in granted.items():
        if kind == "topic":
            assert name in partitions(), f"ACL on unknown topic {name}"
            assert "Describe" in operations
    read, write = settings.topic(READS[service]), settings.topic(WRITES[service])
    assert "Read" in granted[("topic", read)]
    assert "Write" in granted[("topic", write)]
    assert "Write" in granted[("topic", topics.dead_letter(read))]
    assert "Read" in granted[("group", settings.group(service))]


def test_secret_templates_hold_placeholders_only() -> None:
    for secret in resources("Secret").values():
        for key, value in secret.get("stringData", {}).items():
            if key.endswith(("password", "-url", ".key", ".crt")):
                assert re.search(r"CHANGE-ME|REPLACE", value), (
                    f"{secret['metadata']['name']}/{key} looks real"
                )


def test_kubernetes_and_compose_use_the_same_entrypoints() -> None:
    for service in SERVICES:
        assert shlex.join(container(service)["command"]) == shlex.join(
            compose()["services"][service]["command"]
        )
