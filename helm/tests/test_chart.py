#!/usr/bin/env python3
"""Offline tests of the Helm chart in helm/incontra (run by scripts/test-helm, in its venv).

- Renders and lints the chart with Helm's own engine (Helm v4 SDK, through the helm-python-sdk wheel's
  libhelm_c), for every values file in helm/incontra/ci/.
- Validates every rendered object against the Kubernetes JSON schemas (kubernetes-validate, strict: unknown
  fields are errors) for the oldest Kubernetes the chart supports and a recent one, and ServiceMonitors against
  the prometheus-operator CRD's schema (helm/tests/fixtures), made strict the same way.
- Asserts what the chart promises: gRPC probes on 50051, the restricted security context, volumes per replica,
  resources, the command line (only flags `incontra serve` has, --auth-config whenever it listens beyond
  loopback, secrets only from mounted files), PDB, zone spread, Services, NetworkPolicy, no ServiceMonitor
  without its API and one with it (a server-side dry run against helm/tests/fake_apiserver.py), the dashboard's
  metric names against those the Rust code exports, and that values.schema.json and the templates refuse bad
  values.

Prints one line per check and ends with "helm: N passed, N failed"; exits 1 on any failure.
"""

from __future__ import annotations

import copy
import glob
import json
import os
import re
import sys
import threading
import time
import tomllib
import traceback
from pathlib import Path

import helm_python as helm
import jsonschema
import kubernetes_validate
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_apiserver import CORE_RESOURCES, PROMETHEUS_OPERATOR, FakeApiServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "incontra"
TESTS = ROOT / "helm" / "tests"
RELEASE = "incontra"
NAMESPACE = "lavoro"
# The chart's kubeVersion floor (native gRPC probes are GA from 1.27) and the newest schemas
# kubernetes-validate ships.
KUBE_VERSIONS = ["1.27.0", kubernetes_validate.utils.latest_version()]
GRPC_PORT = 50051
METRICS_PORT = 9464
STARTUP_BUDGET_MIN_S = 30 * 60  # covers a full replay (419 s at 1 M) and a new replica's catch-up
# Volume types the restricted Pod Security Standard allows.
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}

PASSED: list[str] = []
FAILED: list[tuple[str, str]] = []


def check(name: str):
    """Runs the decorated function now as one named check."""

    def run(fn):
        started = time.monotonic()
        try:
            fn()
        except Exception as error:  # noqa: BLE001 (a check fails on anything)
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            if not isinstance(error, AssertionError):
                detail += "\n" + traceback.format_exc()
            FAILED.append((name, detail))
            print(f"FAIL {name}: {detail}", flush=True)
        else:
            PASSED.append(name)
            print(f"ok   {name} ({time.monotonic() - started:.1f} s)", flush=True)
        return fn

    return run


def load_values(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def merged(values: dict) -> dict:
    with helm.Chart.load(CHART) as chart:
        return chart.merge_values(values)


def parse_manifests(texts: dict[str, str] | list[str]) -> list[dict]:
    docs = []
    items = texts.items() if isinstance(texts, dict) else [("manifest", t) for t in texts]
    for path, text in items:
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append(doc)
    return docs


def render(values: dict) -> list[dict]:
    with helm.Chart.load(CHART) as chart:
        return parse_manifests(chart.render(values, name=RELEASE, namespace=NAMESPACE))


def render_error(values: dict) -> str:
    try:
        render(values)
    except helm.HelmError as error:
        return str(error)
    raise AssertionError("rendered, but should have been refused")


def server_dry_run(values: dict, resources: dict) -> tuple[list[dict], list[str]]:
    """helm install --dry-run=server against the stand-in API server serving `resources`."""
    with FakeApiServer(resources) as server:
        context = helm.HelmContext()
        timer = threading.Timer(120, context.cancel)
        timer.start()
        try:
            with helm.Config(kubeconfig_content=server.kubeconfig(NAMESPACE), namespace=NAMESPACE,
                             storage_driver="memory") as config:
                release = config.install(str(CHART), RELEASE, values, dry_run="server", context=context,
                                         namespace=NAMESPACE)
        finally:
            timer.cancel()
        writes = [r for r in server.requests if not r.startswith("/")]
        assert not writes, f"the dry run wrote to the API server: {writes}"
        return parse_manifests([release["manifest"]]), server.requests


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in by_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}{' ' + name if name else ''}, found {len(found)}"
    return found[0]


def selects(selector: dict, labels: dict) -> bool:
    assert "matchExpressions" not in selector, "matchExpressions not expected"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", selector).items())


# --- what the code exports and accepts --------------------------------------------------------------------

def serve_flags() -> set[str]:
    """The long flags `incontra serve` takes, read from its clap structs (Common, KafkaArgs) in services/src."""
    source = "\n".join(p.read_text() for p in sorted((ROOT / "services" / "src").rglob("*.rs")))
    flags: set[str] = set()
    for struct in ("Common", "KafkaArgs"):
        match = re.search(r"struct " + struct + r" \{(.*?)\n\}", source, re.S)
        assert match, f"struct {struct} (the serve flags) not found in services/src"
        body = match.group(1)
        for attr, field in re.findall(r"#\[arg\(([^\]]*)\)\]\s*(?:///[^\n]*\n\s*|#\[[^\n]*\]\s*)*(\w+):", body):
            if not re.search(r"\blong\b", attr):
                continue
            explicit = re.search(r'\blong\s*=\s*"([^"]+)"', attr)
            flags.add(explicit.group(1) if explicit else field.replace("_", "-"))
    assert len(flags) >= 15, f"read only {len(flags)} flags from services/src/main.rs: {sorted(flags)}"
    return flags


def exported_metrics() -> set[str]:
    """Metric names the Rust code registers with the `metrics` macros (target/ excluded)."""
    names: set[str] = set()
    pattern = re.compile(r'metrics::(?:counter|gauge|histogram)!\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"')
    for path in ROOT.rglob("*.rs"):
        if "target" in path.relative_to(ROOT).parts:
            continue
        names.update(pattern.findall(path.read_text(errors="replace")))
    assert len(names) >= 20, f"found only {len(names)} metrics in the Rust sources"
    return names


def args_of(container: dict) -> list[str]:
    return list(container.get("args", []))


def flag(args: list[str], name: str) -> list[str]:
    """Values of --name=value arguments (and --name value)."""
    out = []
    for i, arg in enumerate(args):
        if arg.startswith(f"--{name}="):
            out.append(arg.split("=", 1)[1])
        elif arg == f"--{name}" and i + 1 < len(args):
            out.append(args[i + 1])
    return out


def mount_for(container: dict, pod: dict, path: str) -> tuple[dict, dict]:
    """The volumeMount whose mountPath holds `path`, and its volume (the data volume comes from the claim
    template, so its volume is {"persistentVolumeClaim": ...})."""
    best = None
    for mount in container.get("volumeMounts", []):
        if path == mount["mountPath"] or path.startswith(mount["mountPath"].rstrip("/") + "/"):
            if best is None or len(mount["mountPath"]) > len(best["mountPath"]):
                best = mount
    assert best is not None, f"{path} is not under any volumeMount"
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    return best, volumes.get(best["name"], {"name": best["name"], "persistentVolumeClaim": {}})


def secret_or_configmap_names(volume: dict) -> set[tuple[str, str]]:
    out = set()
    if "secret" in volume:
        out.add(("Secret", volume["secret"]["secretName"]))
    if "configMap" in volume:
        out.add(("ConfigMap", volume["configMap"]["name"]))
    for source in volume.get("projected", {}).get("sources", []):
        if "secret" in source:
            out.add(("Secret", source["secret"]["name"]))
        if "configMap" in source:
            out.add(("ConfigMap", source["configMap"]["name"]))
    return out


def file_in_volume(volume: dict, relative: str) -> bool:
    """Whether a Secret/ConfigMap/projected volume puts a file at `relative`."""
    sources = volume.get("projected", {}).get("sources", [])
    if "secret" in volume:
        sources = [{"secret": volume["secret"]}]
    if "configMap" in volume:
        sources = [{"configMap": volume["configMap"]}]
    for source in sources:
        spec = source.get("secret") or source.get("configMap") or {}
        items = spec.get("items")
        if items is None:
            return True  # every key becomes a file
        if any(item["path"] == relative for item in items):
            return True
    return False


# --- schemas ------------------------------------------------------------------------------------------------

def strict_crd_schema(schema: dict) -> dict:
    """A CRD's openAPIV3Schema with unknown fields refused where the API server would prune them."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (node.get("type") == "object" and "properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


SERVICE_MONITOR_SCHEMA = None


def validate_object(doc: dict) -> None:
    global SERVICE_MONITOR_SCHEMA
    if doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "ServiceMonitor":
        if SERVICE_MONITOR_SCHEMA is None:
            crd = [d for d in yaml.safe_load_all((TESTS / "fixtures" / "servicemonitor-crd.yaml").read_text()) if d][0]
            version = [v for v in crd["spec"]["versions"] if v["name"] == "v1"][0]
            SERVICE_MONITOR_SCHEMA = strict_crd_schema(version["schema"]["openAPIV3Schema"])
        body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
        jsonschema.validate(body, SERVICE_MONITOR_SCHEMA)
        return
    for version in KUBE_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            raise AssertionError(f"{doc['kind']}/{doc['metadata']['name']} against Kubernetes {version}: "
                                 f"{path}: {error.message}") from None


# --- the checks ----------------------------------------------------------------------------------------------

def check_restricted(sts: dict) -> None:
    pod = sts["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    assert psc.get("runAsNonRoot") is True, "pod runAsNonRoot"
    assert psc.get("seccompProfile", {}).get("type") in ("RuntimeDefault", "Localhost"), "pod seccompProfile"
    assert psc.get("runAsUser", 1) != 0, "pod runAsUser 0"
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(key), key
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        assert kinds <= RESTRICTED_VOLUMES, f"volume {volume['name']} of type {kinds} not allowed by restricted"
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        sc = container.get("securityContext", {})
        assert sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation must be false"
        assert sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem must be true"
        assert sc.get("privileged") in (None, False), "privileged"
        assert "ALL" in sc.get("capabilities", {}).get("drop", []), "capabilities must drop ALL"
        assert not sc.get("capabilities", {}).get("add"), "no capability added"
        assert sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, "runAsNonRoot"
        assert (sc.get("seccompProfile") or psc.get("seccompProfile", {})).get("type") == "RuntimeDefault"
        for port in container.get("ports", []):
            assert "hostPort" not in port, "hostPort"
        # Writable: the data volume and /tmp only.
        writable = {m["mountPath"] for m in container.get("volumeMounts", []) if not m.get("readOnly")}
        data_path = flag(args_of(container), "data-dir")[0]
        assert writable == {data_path, "/tmp"}, f"writable mounts {sorted(writable)}"
        volumes = {v["name"]: v for v in pod["volumes"]}
        tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"][0]
        assert "emptyDir" in volumes[tmp["name"]], "/tmp is an emptyDir"


def check_probes(container: dict, values: dict) -> None:
    startup, ready, live = (container.get(p) for p in ("startupProbe", "readinessProbe", "livenessProbe"))
    assert startup and ready and live, "startup, readiness and liveness probes"
    if values["tls"]["enabled"]:
        for probe in (startup, ready):
            assert probe.get("exec", {}).get("command") == values["probes"]["tlsCommand"], \
                "with TLS, startup and readiness run probes.tlsCommand"
            assert "grpc" not in probe
    else:
        for name, probe in (("startup", startup), ("readiness", ready)):
            assert probe.get("grpc", {}).get("port") == GRPC_PORT, f"{name}Probe is gRPC on {GRPC_PORT}: {probe}"
            assert probe["grpc"].get("service", "") == "", f"{name}Probe asks the server's overall health"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["grpc"] == GRPC_PORT
    # Liveness must not kill a replica that is catching up (NOT_SERVING): no gRPC health there.
    assert "grpc" not in live and "exec" not in live, f"liveness must not ask gRPC health: {live}"
    target = live.get("tcpSocket", {}).get("port")
    assert target in ("grpc", GRPC_PORT), f"liveness checks the gRPC port: {live}"
    budget = startup["periodSeconds"] * startup["failureThreshold"]
    assert budget >= STARTUP_BUDGET_MIN_S, f"startup budget {budget} s < {STARTUP_BUDGET_MIN_S} s"
    assert live.get("initialDelaySeconds", 0) == 0, "liveness waits for startup, not a delay"


def check_command_line(container: dict, pod: dict, docs: list[dict], values: dict, flags: set[str]) -> None:
    command = container["command"]
    args = args_of(container)
    assert command == [values["image"]["binary"]] and args[0] == "serve", f"{command} {args[:1]}"
    for arg in args[1:]:
        assert arg.startswith("--"), f"argument {arg!r}"
        name = arg[2:].split("=", 1)[0]
        assert name in flags, f"--{name} is not a flag of incontra serve"
    listen = flag(args, "listen")
    assert listen == [f"0.0.0.0:{GRPC_PORT}"], f"--listen {listen}"
    host = listen[0].rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "::1", "[::1]", "localhost"):
        auth = flag(args, "auth-config")
        assert len(auth) == 1, "listening beyond loopback needs --auth-config"
        mount, volume = mount_for(container, pod, auth[0])
        assert mount.get("readOnly") is True, "auth config mounted read-only"
        auth_dir = mount["mountPath"]
        relative = auth[0][len(auth_dir) + 1:]
        assert file_in_volume(volume, relative), f"{relative} in the auth volume"
        # auth.toml comes from the chart's ConfigMap; the JWKS it names is beside it.
        source = [c for c in by_kind(docs, "ConfigMap") if ("ConfigMap", c["metadata"]["name"])
                  in secret_or_configmap_names(volume) and relative in c.get("data", {})]
        assert len(source) == 1, "auth.toml comes from a rendered ConfigMap"
        config = tomllib.loads(source[0]["data"][relative])
        assert config["issuer"] == values["auth"]["issuer"] and config["audience"] == values["auth"]["audience"]
        assert file_in_volume(volume, config["jwks_file"]), f"the JWKS file {config['jwks_file']} is mounted"
        assert set(config.get("roles", {}).values()) <= {"collocamento_mirato", "operator", "hub", "portal",
                                                          "observatory", "admin", "producer"}
    data_dir = flag(args, "data-dir")
    assert len(data_dir) == 1
    mount, volume = mount_for(container, pod, data_dir[0])
    assert mount["mountPath"] == data_dir[0] and "persistentVolumeClaim" in volume and not mount.get("readOnly")
    metrics = flag(args, "metrics-listen")
    if values["metrics"]["enabled"]:
        assert metrics == [f"0.0.0.0:{METRICS_PORT}"], f"--metrics-listen {metrics}"
    else:
        assert not metrics
    # Every file the command line names is mounted read-only from a Secret or ConfigMap (the data dir aside).
    for name in ("auth-config", "tls-cert", "tls-key", "tls-client-ca", "kafka-config-file", "scoring-config",
                 "weights"):
        for path in flag(args, name):
            mount, volume = mount_for(container, pod, path)
            assert mount.get("readOnly") is True, f"--{name} {path} is on a read-only mount"
            assert secret_or_configmap_names(volume), f"--{name} {path} comes from a Secret or ConfigMap"
            assert file_in_volume(volume, path[len(mount["mountPath"]) + 1:]), f"--{name} {path} is in its volume"
    for path in flag(args, "kafka-option"):
        key = path.split("=", 1)[0]
        assert "password" not in key and "secret" not in key and key != "sasl.username", \
            f"--kafka-option {key} puts a secret on the command line"


def check_statefulset(docs: list[dict], values: dict, flags: set[str]) -> None:
    sts = one(docs, "StatefulSet")
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert selects(spec["selector"], labels), "the StatefulSet selects its pods"
    assert spec["replicas"] == values["replicaCount"]
    # One claim per replica, for --data-dir.
    claims = spec.get("volumeClaimTemplates", [])
    assert [c["metadata"]["name"] for c in claims] == ["data"], "volumeClaimTemplates: data"
    claim = claims[0]["spec"]
    assert claim["resources"]["requests"]["storage"] == values["persistence"]["size"]
    assert claim["accessModes"] == values["persistence"]["accessModes"]
    assert "data" not in {v["name"] for v in pod["volumes"]}, "data comes from the claim template"
    headless = one(docs, "Service", spec["serviceName"])
    assert headless["spec"].get("clusterIP") == "None", "serviceName is the headless Service"
    container = one([dict(c, kind="c", metadata={"name": c["name"]}) for c in pod["containers"]], "c", "incontra")
    check_restricted(sts)
    check_probes(container, values)
    check_command_line(container, pod, docs, values, flags)
    # Resources.
    resources = container["resources"]
    for part in ("requests", "limits"):
        for resource in ("cpu", "memory") if part == "requests" else ("memory",):
            assert resources.get(part, {}).get(resource), f"resources.{part}.{resource} set"
    assert resources == values["resources"], "resources are the values'"
    # Zone spread on this release's pods.
    spread = pod.get("topologySpreadConstraints", [])
    zones = [c for c in spread if c["topologyKey"] == "topology.kubernetes.io/zone"]
    assert zones, "a topology spread constraint across zones"
    for constraint in spread:
        assert selects(constraint["labelSelector"], labels), "spread constraints select this release's pods"
    # A graceful stop has time for the final snapshot.
    assert pod["terminationGracePeriodSeconds"] >= 60
    assert pod.get("automountServiceAccountToken") is False
    annotations = spec["template"]["metadata"].get("annotations", {})
    assert "checksum/auth" in annotations, "a change of auth.toml rolls the replicas"


def check_kafka(docs: list[dict], values: dict) -> None:
    sts = one(docs, "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    container = pod["containers"][0]
    args = args_of(container)
    kafka = values["kafka"]
    if not kafka["enabled"]:
        assert not [a for a in args if a.startswith("--kafka")], "no Kafka flags without Kafka"
        return
    assert flag(args, "kafka") == [kafka["bootstrap"]]
    for topic in ("vacancies", "candidacies", "co", "lists"):
        assert flag(args, f"kafka-topic-{topic}") == [kafka["topics"][topic]]
    assert flag(args, "kafka-ready-max-lag") == [str(kafka["readyMaxLag"])]
    options = dict(o.split("=", 1) for o in flag(args, "kafka-option"))
    for key, value in kafka["options"].items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        assert options.get(key) == text, f"--kafka-option {key}={options.get(key)}, values say {text}"
    if kafka["configSecret"]["name"]:
        path = flag(args, "kafka-config-file")
        assert len(path) == 1, "--kafka-config-file"
        mount, volume = mount_for(container, pod, path[0])
        assert ("Secret", kafka["configSecret"]["name"]) in secret_or_configmap_names(volume)
    else:
        assert not flag(args, "kafka-config-file")
    if kafka["caSecret"]["name"]:
        ca = options.get("ssl.ca.location")
        assert ca, "ssl.ca.location set from the mounted CA"
        mount, volume = mount_for(container, pod, ca)
        assert mount.get("readOnly") and ("Secret", kafka["caSecret"]["name"]) in secret_or_configmap_names(volume)


def check_services(docs: list[dict], values: dict) -> None:
    labels = one(docs, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    api = one(docs, "Service", RELEASE)
    ports = {p["name"]: p for p in api["spec"]["ports"]}
    assert ports["grpc"]["port"] == GRPC_PORT and ports["grpc"]["targetPort"] == "grpc"
    if not values["tls"]["enabled"]:
        assert ports["grpc"]["appProtocol"] == "kubernetes.io/h2c"
    assert ("http" in ports) == values["rest"]["enabled"], "the REST port only when rest.enabled"
    if values["rest"]["enabled"]:
        assert ports["http"]["port"] == 8080
    assert selects(api["spec"]["selector"], labels)
    assert not api["spec"].get("publishNotReadyAddresses"), "the API Service sends calls to ready replicas only"
    headless = one(docs, "Service", f"{RELEASE}-headless")
    assert headless["spec"]["clusterIP"] == "None" and selects(headless["spec"]["selector"], labels)
    metrics = [s for s in by_kind(docs, "Service") if s["metadata"]["name"] == f"{RELEASE}-metrics"]
    if values["metrics"]["enabled"]:
        assert len(metrics) == 1, "a metrics Service"
        assert [(p["name"], p["port"]) for p in metrics[0]["spec"]["ports"]] == [("metrics", METRICS_PORT)]
        assert selects(metrics[0]["spec"]["selector"], labels)
    else:
        assert not metrics, "no metrics Service when metrics are off"


def check_pdb(docs: list[dict], values: dict) -> None:
    labels = one(docs, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    pdbs = by_kind(docs, "PodDisruptionBudget")
    if not values["podDisruptionBudget"]["enabled"]:
        assert not pdbs
        return
    assert len(pdbs) == 1, "a PodDisruptionBudget"
    spec = pdbs[0]["spec"]
    assert selects(spec["selector"], labels), "the PDB covers the replicas"
    assert ("maxUnavailable" in spec) != ("minAvailable" in spec)
    if "maxUnavailable" in spec:
        assert spec["maxUnavailable"] == 1


def check_network_policy(docs: list[dict], values: dict) -> None:
    labels = one(docs, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    policies = by_kind(docs, "NetworkPolicy")
    np_values = values["networkPolicy"]
    if not np_values["enabled"]:
        assert not policies
        return
    policy = one(docs, "NetworkPolicy")
    spec = policy["spec"]
    assert selects(spec["podSelector"], labels)
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    # Ingress: the API port from the gateway only; metrics from the monitoring namespace.
    api_rules = [r for r in spec["ingress"] if {"port": "grpc", "protocol": "TCP"} in r.get("ports", [])]
    assert len(api_rules) == 1, "one ingress rule for the gRPC port"
    gateway = api_rules[0]["from"][0]
    assert gateway.get("namespaceSelector") == np_values["gateway"].get("namespaceSelector")
    assert gateway.get("podSelector") == (np_values["gateway"].get("podSelector") or {})
    for rule in spec["ingress"]:
        assert rule.get("from"), "no ingress rule open to everyone"
        assert rule.get("ports"), "every ingress rule names its ports"
    # Egress: DNS over UDP and TCP 53 to the cluster DNS.
    dns = [r for r in spec["egress"] if {"port": 53, "protocol": "UDP"} in r.get("ports", [])]
    assert len(dns) == 1 and {"port": 53, "protocol": "TCP"} in dns[0]["ports"], "egress to DNS, UDP and TCP 53"
    assert dns[0]["to"][0].get("podSelector") == np_values["dns"]["podSelector"]
    kafka_ports = [{"port": p, "protocol": "TCP"} for p in np_values["kafka"]["ports"]]
    kafka_rules = [r for r in spec["egress"] if r.get("ports") == kafka_ports]
    if values["kafka"]["enabled"]:
        assert len(kafka_rules) == 1, "egress to the Kafka brokers"
        assert kafka_rules[0].get("to", []) == np_values["kafka"]["to"], "to the configured broker peers"
    else:
        assert not kafka_rules, "no Kafka egress without Kafka"
    for rule in spec["egress"]:
        assert rule.get("ports"), "every egress rule names its ports (no allow-all)"


def check_dashboard_configmap(docs: list[dict], values: dict) -> None:
    maps = [c for c in by_kind(docs, "ConfigMap") if c["metadata"]["name"] == f"{RELEASE}-dashboard"]
    if not values["dashboards"]["enabled"]:
        assert not maps
        return
    assert len(maps) == 1, "the dashboard ConfigMap"
    assert maps[0]["metadata"]["labels"].get(values["dashboards"]["label"]) == values["dashboards"]["labelValue"]
    assert maps[0]["data"]["incontra.json"] == (CHART / "dashboards" / "incontra.json").read_text(), \
        "the ConfigMap carries dashboards/incontra.json unchanged"


def check_jwks(docs: list[dict], values: dict) -> None:
    pod = one(docs, "StatefulSet")["spec"]["template"]["spec"]
    auth = [v for v in pod["volumes"] if v["name"] == "auth"][0]
    sources = secret_or_configmap_names(auth)
    jwks = values["auth"]["jwks"]
    if jwks["existingSecret"]:
        assert ("Secret", jwks["existingSecret"]) in sources
    elif jwks["existingConfigMap"]:
        assert ("ConfigMap", jwks["existingConfigMap"]) in sources
    else:
        assert ("ConfigMap", f"{RELEASE}-jwks") in sources
    inline = [c for c in by_kind(docs, "ConfigMap") if c["metadata"]["name"] == f"{RELEASE}-jwks"]
    if jwks["inline"]:
        keys = json.loads(inline[0]["data"][jwks["key"]])["keys"]
        assert keys and all(k.get("kid") for k in keys), "the inline JWKS has keys with a kid"
    else:
        assert not inline, "no JWKS ConfigMap unless inline"


def main() -> int:
    started = time.monotonic()
    flags = serve_flags()
    metrics = exported_metrics()
    ci_files = sorted(Path(p) for p in glob.glob(str(CHART / "ci" / "*-values.yaml")))
    assert ci_files, "no values files in helm/incontra/ci"
    print(f"Helm SDK {helm.helm_sdk_version()} (helm-python-sdk, libhelm_c {helm.helm_c_version()}); "
          f"kubernetes-validate {kubernetes_validate.__version__} against Kubernetes {', '.join(KUBE_VERSIONS)}; "
          f"{len(ci_files)} values files; {len(flags)} serve flags and {len(metrics)} metrics read from the code",
          flush=True)

    @check("values.schema.json is a valid draft-07 schema and accepts values.yaml")
    def _():
        schema = json.loads((CHART / "values.schema.json").read_text())
        jsonschema.Draft7Validator.check_schema(schema)
        jsonschema.validate(load_values(CHART / "values.yaml"), schema)

    for path in ci_files:
        name = path.name
        user = load_values(path)

        @check(f"{name}: helm lint --strict, no warning")
        def _():
            for kube in ("v" + v for v in KUBE_VERSIONS):
                report = helm.lint(str(CHART), user, strict=True, kube_version=kube)
                bad = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
                assert not bad, f"lint ({kube}): {bad}"

        try:
            docs = render(user)
            values = merged(user)
        except Exception as error:  # noqa: BLE001
            FAILED.append((f"{name}: render", str(error)))
            print(f"FAIL {name}: render: {error}", flush=True)
            continue

        @check(f"{name}: rendered objects valid (kubernetes-validate --strict {' and '.join(KUBE_VERSIONS)})")
        def _():
            assert docs, "nothing rendered"
            for doc in docs:
                assert doc["metadata"].get("namespace") in (NAMESPACE, None)
                validate_object(doc)

        @check(f"{name}: no ServiceMonitor without the monitoring.coreos.com/v1 API")
        def _():
            assert not by_kind(docs, "ServiceMonitor")

        @check(f"{name}: StatefulSet (claims, probes, restricted security, command line, resources, spread)")
        def _():
            check_statefulset(docs, values, flags)

        @check(f"{name}: Kafka flags and secrets")
        def _():
            check_kafka(docs, values)

        @check(f"{name}: Services, PodDisruptionBudget, NetworkPolicy")
        def _():
            check_services(docs, values)
            check_pdb(docs, values)
            check_network_policy(docs, values)

        @check(f"{name}: JWKS source and dashboard ConfigMap")
        def _():
            check_jwks(docs, values)
            check_dashboard_configmap(docs, values)

    # Per-file specifics.
    @check("default-values.yaml: three Kafka replicas sized for 1 M candidates, PDB maxUnavailable 1")
    def _():
        docs = render({})
        sts = one(docs, "StatefulSet")
        assert sts["spec"]["replicas"] == 3
        resources = sts["spec"]["template"]["spec"]["containers"][0]["resources"]
        assert resources["requests"]["memory"] == resources["limits"]["memory"] == "20Gi"
        assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
        assert not [s for s in by_kind(docs, "Service") for p in s["spec"]["ports"] if p["port"] == 8080]

    @check("small-values.yaml: one embedded replica, smaller resources, no Kafka, no metrics")
    def _():
        docs = render(load_values(CHART / "ci" / "small-values.yaml"))
        sts = one(docs, "StatefulSet")
        assert sts["spec"]["replicas"] == 1
        container = sts["spec"]["template"]["spec"]["containers"][0]
        assert container["resources"]["limits"]["memory"] == "4Gi"
        assert not [a for a in container["args"] if a.startswith("--kafka")]
        assert "metrics" not in {p["name"] for p in container["ports"]}

    @check("kafka-sasl-tls-values.yaml: SASL_SSL from a Secret, mutual TLS with exec probes")
    def _():
        docs = render(load_values(CHART / "ci" / "kafka-sasl-tls-values.yaml"))
        container = one(docs, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]
        args = container["args"]
        assert "--kafka-option=security.protocol=SASL_SSL" in args
        assert "--kafka-option=sasl.mechanism=SCRAM-SHA-512" in args
        assert flag(args, "kafka-config-file") == ["/etc/incontra/kafka/kafka.properties"]
        assert flag(args, "tls-client-ca") and flag(args, "tls-cert") and flag(args, "tls-key")
        assert "exec" in container["readinessProbe"] and "exec" in container["startupProbe"]
        pod = one(docs, "StatefulSet")["spec"]["template"]["spec"]
        for arg in container["readinessProbe"]["exec"]["command"][1:]:
            path = arg.split("=", 1)[-1]
            if path.startswith("/etc/"):
                mount, volume = mount_for(container, pod, path)
                assert mount.get("readOnly") and "secret" in volume, f"the probe's {path} is mounted from a Secret"
        api = one(docs, "Service", RELEASE)
        assert "appProtocol" not in api["spec"]["ports"][0], "no kubernetes.io/h2c over TLS"
        text = json.dumps(docs)
        assert "hunter2" not in text and "sasl.password" not in text

    @check("rest.enabled reserves port 8080 on the container, Service and NetworkPolicy")
    def _():
        docs = render({"rest": {"enabled": True}})
        container = one(docs, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]
        assert {"name": "http", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
        assert [p for p in one(docs, "Service", RELEASE)["spec"]["ports"] if p["port"] == 8080]
        policy = one(docs, "NetworkPolicy")
        assert [r for r in policy["spec"]["ingress"] if {"port": "http", "protocol": "TCP"} in r["ports"]]
        for doc in docs:
            validate_object(doc)

    # The ServiceMonitor, against an API server that serves the Prometheus operator's API and one that does not.
    sm_values = load_values(CHART / "ci" / "servicemonitor-values.yaml")

    @check("servicemonitor-values.yaml, server dry run with monitoring.coreos.com/v1: a valid ServiceMonitor")
    def _():
        docs, requests = server_dry_run(sm_values, {**CORE_RESOURCES, **PROMETHEUS_OPERATOR})
        assert any(r.split("?")[0] == "/apis" for r in requests), "Helm asked the API server for its groups"
        monitor = one(docs, "ServiceMonitor")
        validate_object(monitor)
        for doc in docs:
            validate_object(doc)
        service = one(docs, "Service", f"{RELEASE}-metrics")
        assert selects(monitor["spec"]["selector"], service["metadata"]["labels"]), "it selects the metrics Service"
        assert not selects(monitor["spec"]["selector"], one(docs, "Service", RELEASE)["metadata"]["labels"]), \
            "and not the API Service (no duplicate scrape)"
        endpoint = monitor["spec"]["endpoints"][0]
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        assert endpoint["interval"] == "15s"
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert monitor["spec"]["namespaceSelector"]["matchNames"] == [NAMESPACE]

    @check("servicemonitor-values.yaml, server dry run without monitoring.coreos.com/v1: no ServiceMonitor")
    def _():
        docs, _requests = server_dry_run(sm_values, CORE_RESOURCES)
        assert not by_kind(docs, "ServiceMonitor")
        assert one(docs, "StatefulSet")

    @check("default-values.yaml, server dry run with monitoring.coreos.com/v1: none unless enabled")
    def _():
        docs, _requests = server_dry_run({}, {**CORE_RESOURCES, **PROMETHEUS_OPERATOR})
        assert not by_kind(docs, "ServiceMonitor")

    # What must be refused.
    schema = json.loads((CHART / "values.schema.json").read_text())
    for path in sorted((TESTS / "bad-values").glob("*.yaml")):
        bad = load_values(path)

        @check(f"bad-values/{path.name}: refused by values.schema.json, by helm template and by helm lint")
        def _():
            coalesced = merged(bad)
            errors = list(jsonschema.Draft7Validator(schema).iter_errors(coalesced))
            assert errors, "values.schema.json accepted it"
            message = render_error(bad)
            assert "schema" in message.lower(), f"refused, but not by the schema: {message}"
            report = helm.lint(str(CHART), bad, strict=True)
            assert report["errors"] or [m for m in report["messages"] if m["severity"] >= 3], "lint passed it"

    for description, bad, expected in [
        ("several replicas without Kafka", {"kafka": {"enabled": False}}, "replicaCount > 1 needs kafka.enabled"),
        ("TLS without a TLS-capable probe", {"tls": {"enabled": True, "secretName": "t"}}, "probes.tlsCommand"),
        ("TLS without its Secret", {"tls": {"enabled": True}, "probes": {"tlsCommand": ["x"]}}, "tls.secretName"),
        ("two JWKS sources", {"auth": {"jwks": {"inline": "{}", "existingSecret": "s"}}}, "at most one"),
        ("mutual TLS without TLS", {"tls": {"clientCA": {"enabled": True}}}, "needs tls.enabled"),
    ]:
        @check(f"refused by the templates: {description}")
        def _(bad=bad, expected=expected):
            message = render_error(bad)
            assert expected in message, message

    # The dashboard.
    @check("dashboards/incontra.json: valid, unique panel ids, every query names metrics the code exports")
    def _():
        dashboard = json.loads((CHART / "dashboards" / "incontra.json").read_text())
        assert dashboard["title"] and dashboard["uid"] and isinstance(dashboard["panels"], list)
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), "duplicate panel ids"
        boxes = [(p["title"], p["gridPos"]) for p in dashboard["panels"]]
        for i, (a, g) in enumerate(boxes):
            assert 0 <= g["x"] and g["x"] + g["w"] <= 24, f"panel {a} outside the 24-column grid"
            for b, h in boxes[i + 1:]:
                overlap = (g["x"] < h["x"] + h["w"] and h["x"] < g["x"] + g["w"]
                           and g["y"] < h["y"] + h["h"] and h["y"] < g["y"] + g["h"])
                assert not overlap, f"panels {a!r} and {b!r} overlap"
        used: set[str] = set()
        for panel in dashboard["panels"]:
            if panel["type"] == "row":
                continue
            assert panel.get("targets"), f"panel {panel['title']} has no query"
            assert panel["datasource"]["uid"] == "${datasource}"
            for target in panel["targets"]:
                used.update(re.findall(r"\bincontra_[a-z0-9_]+", target["expr"]))
        for variable in dashboard["templating"]["list"]:
            query = variable.get("query")
            if isinstance(query, dict):
                used.update(re.findall(r"\bincontra_[a-z0-9_]+", query["query"]))
        # Histograms are exported as summaries (metrics-exporter-prometheus' default): NAME{quantile},
        # NAME_sum and NAME_count.
        families = {re.sub(r"_(sum|count|bucket)$", "", m) if re.sub(r"_(sum|count|bucket)$", "", m) in metrics
                    else m for m in used}
        unknown = sorted(families - metrics)
        assert not unknown, f"the dashboard queries metrics the code does not export: {unknown}"
        missing = sorted(metrics - families)
        if missing:
            print(f"     note: metrics exported but not on the dashboard: {', '.join(missing)}")

    elapsed = time.monotonic() - started
    for name, detail in FAILED:
        print(f"\nFAILED: {name}\n{detail}")
    print(f"\n{len(PASSED) + len(FAILED)} checks in {elapsed:.0f} s")
    print(f"helm: {len(PASSED)} passed, {len(FAILED)} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
