"""A stand-in Kubernetes API server on 127.0.0.1, for a Helm server-side dry run without a cluster.

`helm template` takes `.Capabilities.APIVersions` from a fixed built-in list (plus `--api-versions`), and the
Helm library scripts/test-helm uses has no `--api-versions`. A server-side dry run (`helm install --dry-run=server`)
asks the API server instead: this one answers just enough of it, read-only, from a table of resources:

- discovery: /version, /api, /apis, /api/v1, /apis/GROUP/VERSION (the `.Capabilities` Helm renders with, and
  the REST mapping of every kind the chart renders);
- /openapi/v3 and one document per group-version, holding for each kind a PATCH operation that takes the
  `fieldValidation` query parameter: client-go then leaves field validation to the server (which never sees an
  object: nothing is created in a dry run) instead of downloading the full OpenAPI schema; the manifests are
  validated against the real schemas by kubernetes-validate afterwards;
- 404 for everything else, in particular the GET of each object Helm makes to check that none exists yet.

It never accepts a write.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (group/version) -> [(plural, Kind, namespaced)]
CORE_RESOURCES: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("services", "Service", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("persistentvolumeclaims", "PersistentVolumeClaim", True),
        ("pods", "Pod", True),
        ("namespaces", "Namespace", False),
    ],
    "apps/v1": [
        ("statefulsets", "StatefulSet", True),
        ("deployments", "Deployment", True),
    ],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "networking.k8s.io/v1": [("networkpolicies", "NetworkPolicy", True)],
}

PROMETHEUS_OPERATOR: dict[str, list[tuple[str, str, bool]]] = {
    "monitoring.coreos.com/v1": [
        ("servicemonitors", "ServiceMonitor", True),
        ("podmonitors", "PodMonitor", True),
        ("prometheusrules", "PrometheusRule", True),
    ],
}

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def _split(gv: str) -> tuple[str, str]:
    return tuple(gv.split("/", 1)) if "/" in gv else ("", gv)  # type: ignore[return-value]


def _root(gv: str) -> str:
    return f"api/{gv}" if "/" not in gv else f"apis/{gv}"


class FakeApiServer:
    """Serves discovery for `resources` and reports `git_version` as the server's version."""

    def __init__(self, resources: dict[str, list[tuple[str, str, bool]]], git_version: str = "v1.33.0"):
        self.resources = resources
        self.git_version = git_version
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802 (http.server's name)
                outer.requests.append(self.path)
                code, body = outer.answer(self.path.split("?", 1)[0])
                self._send(code, body)

            def _refuse(self):
                outer.requests.append(f"{self.command} {self.path}")
                self._send(405, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                 "reason": "MethodNotAllowed", "code": 405})

            do_POST = do_PUT = do_PATCH = do_DELETE = _refuse  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def kubeconfig(self, namespace: str) -> str:
        return (
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: fake, cluster: {{server: \"{self.url}\"}}}}]\n"
            f"contexts: [{{name: fake, context: {{cluster: fake, user: fake, namespace: {namespace}}}}}]\n"
            "users: [{name: fake, user: {}}]\n"
            "current-context: fake\n"
        )

    def __enter__(self) -> "FakeApiServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str) -> tuple[int, dict]:
        not_found = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
        if path == "/version":
            major, minor = self.git_version.lstrip("v").split(".")[:2]
            return 200, {"major": major, "minor": minor, "gitVersion": self.git_version, "platform": "linux/amd64"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            groups: dict[str, list[str]] = {}
            for gv in self.resources:
                group, version = _split(gv)
                if group:
                    groups.setdefault(group, []).append(version)
            return 200, {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": group,
                        "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
                        "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]},
                    }
                    for group, versions in groups.items()
                ],
            }
        for gv, kinds in self.resources.items():
            if path == "/" + _root(gv):
                return 200, {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": gv,
                    "resources": [
                        {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                         "verbs": VERBS}
                        for plural, kind, namespaced in kinds
                    ],
                }
        if path == "/openapi/v3":
            return 200, {"paths": {_root(gv): {"serverRelativeURL": f"/openapi/v3/{_root(gv)}?hash=0"}
                                   for gv in self.resources}}
        for gv, kinds in self.resources.items():
            if path == f"/openapi/v3/{_root(gv)}":
                group, version = _split(gv)
                paths = {}
                for plural, kind, namespaced in kinds:
                    scope = "namespaces/{namespace}/" if namespaced else ""
                    paths[f"/{_root(gv)}/{scope}{plural}/{{name}}"] = {
                        "patch": {
                            "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
                            "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                            "responses": {},
                        }
                    }
                return 200, {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": self.git_version},
                             "paths": paths}
        return 404, not_found
