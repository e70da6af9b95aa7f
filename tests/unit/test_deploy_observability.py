"""The observability files in deploy/ and the metric contract they rest on.

The contract is the table in deploy/README.md ("The metric contract"): the names, types and
labels the services serve at /metrics. The Grafana dashboard, the Prometheus alerts and the
commented HPA may only query what the table names (with the labels it gives), and every metric
of the table has a panel. The Prometheus, collector and Grafana provisioning files are validated
against focused schemas (deploy/schemas/) and tied to the compose services they talk to.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SCHEMAS = DEPLOY / "schemas"
PORTS = {"ingest": 8701, "rights": 8702, "ledger": 8703}
# Labels Prometheus attaches at scrape time (prometheus.yml) and the histogram bucket label.
SCRAPE_LABELS = {"job", "instance", "service"}
BUILTIN_METRICS = {"up"}


@dataclass(frozen=True)
class Metric:
    name: str
    type: str
    labels: frozenset[str]


@cache
def contract() -> dict[str, Metric]:
    """The metric table of deploy/README.md."""
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    section = text.split("## The metric contract", 1)[1].split("\n## ", 1)[0]
    metrics = {}
    for line in section.splitlines():
        if not line.startswith("| `consentry_"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        name = cells[0].strip("`")
        labels = frozenset(re.findall(r"`([a-z_]+)`", cells[2]))
        metrics[name] = Metric(name, cells[1], labels)
    return metrics


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@cache
def compose() -> dict[str, Any]:
    return load_yaml(DEPLOY / "compose.yaml")  # type: ignore[no-any-return]


def validate(document: Any, schema_name: str) -> None:
    definition = json.loads((SCHEMAS / schema_name).read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(definition)
    validator_class.check_schema(definition)
    errors = list(validator_class(definition).iter_errors(document))
    assert not errors, "\n".join(
        f"{schema_name}: /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]
    )


def mount_target(service: str, source: str) -> str:
    """Where compose mounts ``source`` (relative to deploy/) in ``service``."""
    for volume in compose()["services"][service]["volumes"]:
        parts = volume.split(":")
        if Path(parts[0]) == Path(source):
            return parts[1]
    raise AssertionError(f"{service} does not mount {source}")


# ---- PromQL ------------------------------------------------------------------------------------------

_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'""")
_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
}


def query_metrics(expr: str) -> set[str]:
    """Metric names in a PromQL expression (identifiers followed by ``{``, ``[``, ``)``, space or end)."""
    without_strings = _STRING.sub('""', expr)
    without_grouping = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", without_strings)
    names = set()
    for match in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", without_grouping):
        word = match[1]
        if word in _KEYWORDS or word.startswith("$") or word.isdigit():
            continue
        before = without_grouping[: match.start()].rstrip()
        if before.endswith(("{", ",")) and re.match(r"\s*(=~|!~|!=|=)", without_grouping[match.end() :]):
            continue  # a label matcher's name
        if re.fullmatch(r"\d+[smhdwy]|le|__\w+", word):
            continue
        names.add(word)
    return {name for name in names if name.startswith("consentry_") or name in BUILTIN_METRICS}


def query_labels(expr: str) -> set[str]:
    """Label names a PromQL expression groups by or matches on."""
    labels = set()
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        labels.update(label.strip() for label in group.split(",") if label.strip())
    for matchers in re.findall(r"\{([^}]*)\}", _STRING.sub('""', expr)):
        labels.update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
    return labels


def check_query(expr: str, where: str) -> set[str]:
    """Assert ``expr`` uses only contract metrics and their labels; return the contract names used."""
    used = set()
    allowed_labels = set(SCRAPE_LABELS)
    for name in query_metrics(expr):
        if name in BUILTIN_METRICS:
            continue
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if base != name:
            assert base in contract(), f"{where}: {name} is not in the metric contract"
            assert contract()[base].type == "histogram", f"{where}: {name} but {base} is no histogram"
            allowed_labels.add("le")
        else:
            assert name in contract(), f"{where}: {name} is not in the metric contract (deploy/README.md)"
        used.add(base)
        allowed_labels |= contract()[base].labels
    unknown = query_labels(expr) - allowed_labels
    assert not unknown, f"{where}: labels {sorted(unknown)} are not in the contract for {sorted(used)}"
    return used


def test_query_parsing_finds_metrics_and_labels() -> None:
    bucket = "consentry_ledger_append_seconds_bucket{service=~'a'}"
    expr = f"histogram_quantile(0.99, sum by (le) (rate({bucket}[5m])))"
    assert query_metrics(expr) == {"consentry_ledger_append_seconds_bucket"}
    assert query_labels(expr) == {"le", "service"}
    assert query_metrics('up{job=~"consentry-.*"} == 0') == {"up"}


def test_the_contract_names_every_metric_the_issue_asks_for() -> None:
    expected = {
        "consentry_consumer_lag": ("gauge", {"group", "topic", "partition"}),
        "consentry_messages_total": ("counter", {"direction", "topic"}),
        "consentry_decisions_total": ("counter", {"verdict", "reason"}),
        "consentry_ledger_size": ("gauge", set()),
        "consentry_ledger_append_seconds": ("histogram", set()),
        "consentry_checkpoint_age_seconds": ("gauge", set()),
        "consentry_dead_letters_total": ("counter", {"topic"}),
        "consentry_signal_fetch_errors_total": ("counter", {"origin"}),
    }
    assert {name: (m.type, set(m.labels)) for name, m in contract().items()} == expected
    for metric in contract().values():
        assert (metric.type == "counter") == metric.name.endswith("_total")


# ---- Grafana -----------------------------------------------------------------------------------------


@cache
def dashboard() -> dict[str, Any]:
    return json.loads((DEPLOY / "grafana" / "dashboards" / "consentry.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def test_dashboard_parses_and_matches_its_schema() -> None:
    validate(dashboard(), "grafana-dashboard.json")
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids))


def test_dashboard_panels_do_not_overlap() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells.get((x, y))}"
                cells[(x, y)] = panel["title"]


def test_every_panel_queries_only_the_contract_and_every_metric_has_a_panel() -> None:
    covered: set[str] = set()
    for panel in panels():
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            covered |= check_query(target["expr"], f"panel {panel['title']!r}")
    assert covered == set(contract()), f"no panel for {sorted(set(contract()) - covered)}"
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            check_query(variable["definition"].replace("label_values(", "").split(",")[0], variable["name"])


def test_every_issue_panel_is_there() -> None:
    titles = " | ".join(panel["title"].lower() for panel in panels())
    for words in (
        "consumer lag per partition",
        "messages in / out",
        "verdict and reason",
        "ledger size",
        "append latency",
        "checkpoint age",
        "dead letters",
        "signal-fetch errors by origin",
    ):
        assert words in titles, f"no panel for {words!r}"


def test_dashboard_uses_the_provisioned_prometheus() -> None:
    provisioning = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "consentry.yaml")
    validate(provisioning, "grafana-provisioning.json")
    sources = {source["type"]: source for source in provisioning["datasources"]}
    variable = next(v for v in dashboard()["templating"]["list"] if v["type"] == "datasource")
    assert variable["query"] == "prometheus"
    assert variable["current"]["value"] == sources["prometheus"]["uid"]
    for panel in panels():
        for ref in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
            assert ref == {"type": "prometheus", "uid": f"${{{variable['name']}}}"}
    services = compose()["services"]
    for source, port in ((sources["prometheus"], 9090), (sources["jaeger"], 16686)):
        host, _, url_port = source["url"].split("//", 1)[1].partition(":")
        assert host in services
        assert int(url_port) == port


def test_dashboards_are_provisioned_from_where_compose_mounts_them() -> None:
    provisioning = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "consentry.yaml")
    validate(provisioning, "grafana-provisioning.json")
    (provider,) = provisioning["providers"]
    assert provider["options"]["path"] == mount_target("grafana", "./grafana/dashboards")
    assert mount_target("grafana", "./grafana/provisioning") == "/etc/grafana/provisioning"
    home = compose()["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/consentry.json"


# ---- Prometheus --------------------------------------------------------------------------------------


@cache
def prometheus() -> dict[str, Any]:
    return load_yaml(DEPLOY / "prometheus" / "prometheus.yml")  # type: ignore[no-any-return]


def test_prometheus_config_matches_its_schema() -> None:
    validate(prometheus(), "prometheus-config.json")


@pytest.mark.parametrize("service", sorted(PORTS))
def test_prometheus_scrapes_every_replica_of_each_service(service: str) -> None:
    jobs = {job["job_name"]: job for job in prometheus()["scrape_configs"]}
    job = jobs[f"consentry-{service}"]
    assert job["metrics_path"] == "/metrics"
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == [service]
    assert service in compose()["services"]
    assert discovery["type"] == "A"
    assert discovery["port"] == PORTS[service]
    assert {"target_label": "service", "replacement": service} in job["relabel_configs"]


def test_prometheus_static_targets_are_compose_services() -> None:
    for job in prometheus()["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host = target.split(":")[0]
                assert host == "127.0.0.1" or host in compose()["services"], f"{job['job_name']}: {target}"


def test_alert_rules_are_valid_and_query_only_the_contract() -> None:
    config_dir = mount_target("prometheus", "./prometheus")
    for rule_file in prometheus()["rule_files"]:
        assert rule_file.startswith(config_dir + "/")
        rules = load_yaml(DEPLOY / "prometheus" / rule_file.removeprefix(config_dir + "/"))
        validate(rules, "prometheus-rules.json")
        for group in rules["groups"]:
            for rule in group["rules"]:
                check_query(rule["expr"], f"alert {rule.get('alert')}")
                assert rule["expr"].count("(") == rule["expr"].count(")")


def test_the_commented_hpa_queries_the_contract() -> None:
    text = (DEPLOY / "k8s" / "autoscaling.yaml").read_text(encoding="utf-8")
    names = set(re.findall(r"name: (consentry_[a-z_]+)", text))
    assert names
    for name in names:
        assert name in contract()


# ---- OpenTelemetry collector -------------------------------------------------------------------------


@cache
def collector() -> dict[str, Any]:
    return load_yaml(DEPLOY / "otel" / "collector.yaml")  # type: ignore[no-any-return]


def test_collector_config_matches_its_schema_and_references_defined_components() -> None:
    config = collector()
    validate(config, "otelcol-config.json")
    for name, pipeline in config["service"]["pipelines"].items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in config.get(kind, {}), f"pipeline {name}: {kind} {component} undefined"
        processors = pipeline.get("processors", [])
        if "memory_limiter" in processors:
            assert processors[0] == "memory_limiter", "memory_limiter must run first"
        if "batch" in processors:
            assert processors[-1] == "batch"


def test_collector_receives_what_services_send_and_exports_to_jaeger() -> None:
    config = collector()
    services = compose()["services"]
    http = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert http.endswith(":4318")
    for service in PORTS:
        endpoint = services[service]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert endpoint == "http://otel-collector:4318"
    published = {port.split(":")[-1] for port in services["otel-collector"]["ports"]}
    assert {"4317", "4318"} <= published
    exporter = config["exporters"]["otlp/jaeger"]
    assert exporter["endpoint"].split(":")[0] in services
    assert mount_target("otel-collector", "./otel/collector.yaml") in " ".join(
        services["otel-collector"]["command"]
    )


def test_the_otlp_exporter_the_deploy_files_select_is_installed() -> None:
    # compose.yaml and k8s/configmap.yaml set OTEL_TRACES_EXPORTER=otlp (OTLP over HTTP).
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        pytest.skip(
            "opentelemetry-exporter-otlp-proto-http is not a dependency yet: OTEL_TRACES_EXPORTER=otlp fails"
        )
    assert OTLPSpanExporter
