"""The OpenAPI schema and the Swagger UI, served offline."""

import yaml


def test_it_serves_a_schema_with_every_endpoint(client, db):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    assert "/api/v1/incidents/" in paths
    assert "/api/v1/alerts/{integration_token}/" in paths
    for action in (
        "acknowledge",
        "grade",
        "assign",
        "log",
        "resolve",
        "verify",
        "notify-users",
        "feedback",
        "archive",
        "reopen",
        "cancel",
    ):
        operation = paths[f"/api/v1/incidents/{{id}}/{action}/"]["post"]
        assert {"200", "400", "403", "404", "409", "412"} <= set(operation["responses"]), action
        assert operation["requestBody"]["content"]["application/json"]["examples"], action
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_it_documents_the_roster_endpoints(client, db):
    paths = yaml.safe_load(client.get("/api/schema/").content)["paths"]
    team = "/api/v1/teams/{slug}"
    expected = {
        f"{team}/oncall/": {"get": {"200", "400", "401", "404"}},
        f"{team}/rotations/": {
            "get": {"200", "401", "404"},
            "post": {"201", "400", "401", "403", "404"},
        },
        f"{team}/rotations/{{id}}/": {
            "get": {"200", "401", "404"},
            "patch": {"200", "400", "401", "403", "404"},
            "delete": {"204", "401", "403", "404"},
        },
        f"{team}/overrides/": {
            "get": {"200", "400", "401", "404"},
            "post": {"201", "400", "401", "403", "404"},
        },
        f"{team}/overrides/{{id}}/": {"delete": {"204", "401", "403", "404"}},
        f"{team}/shifts/": {"get": {"200", "400", "401", "404"}},
        f"{team}/feeds/": {"post": {"200", "201", "401", "404"}},
    }
    for path, operations in expected.items():
        assert set(paths[path]) == set(operations), path
        for method, codes in operations.items():
            operation = paths[path][method]
            assert operation["summary"], (path, method)
            assert codes <= set(operation["responses"]), (path, method)
    writes = [paths[f"{team}/rotations/"]["post"], paths[f"{team}/overrides/"]["post"]]
    for operation in writes:
        assert operation["requestBody"]["content"]["application/json"]["examples"]
    shifts = {p["name"]: p for p in paths[f"{team}/shifts/"]["get"]["parameters"]}
    assert shifts["from"]["required"]
    assert shifts["until"]["required"]


def test_it_serves_swagger_ui_from_this_server(client, db):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in body
    assert "cdn" not in body.lower()
    assert "https://" not in body
