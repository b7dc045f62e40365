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


def test_it_serves_swagger_ui_from_this_server(client, db):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in body
    assert "cdn" not in body.lower()
    assert "https://" not in body
