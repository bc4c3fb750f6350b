"""graphql.extractor against a real GraphQL server (ariadne over HTTP on 127.0.0.1, tests/components/
graphql_server.py): cursor pagination over many pages and batches, declared columns, errors in the body, HTTP
401/5xx, timeouts and retries, and no credential in any message."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from graphql_server import GraphQLServer, Knobs, cursor, item

from osiris.components.graphql_extractor.driver import Driver, operation_kind
from osiris.runtime.driver import StepContext, StepError

PAGED = """
# items, page by page ("mutation" in a comment does not make this a mutation)
query Items($first: Int!, $after: String) {
  items(first: $first, after: $after) {
    edges { node { id name score active owner { login since } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
TOKEN = "gql-Tok3n-that-must-never-leak-9f8e7d"


@pytest.fixture
def server() -> Iterator[GraphQLServer]:
    srv = GraphQLServer(Knobs())
    yield srv
    srv.close()


def run(config: dict[str, Any], tmp_path: Path, **kw: Any) -> tuple[pa.Table, list[tuple[str, Any]], list[int]]:
    """Run the driver; (table, events, rows per batch)."""
    events: list[tuple[str, Any]] = []
    ctx = StepContext(
        "gql", config, kw.pop("connection", None), tmp_path, tmp_path, event=lambda k, d: events.append((k, d))
    )
    reader = Driver({"id": "gql"}, ctx).run({})
    batches = list(reader)
    return pa.Table.from_batches(batches, reader.schema), events, [b.num_rows for b in batches]


def paged(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint": url,
        "query": PAGED,
        "variables": {"first": 10},
        "pagination_enabled": True,
        "pagination_path": "data.items.pageInfo",
        "data_path": "data.items.edges[*].node",
        "retry_delay": 0.1,
        **extra,
    }


def flat(i: int) -> dict[str, Any]:
    row = item(i)
    owner = row.pop("owner")
    return {**row, "owner.login": owner and owner["login"], "owner.since": owner and owner["since"]}


@pytest.mark.slow
def test_fifty_pages_stream_every_row_exactly_in_many_batches(server: GraphQLServer, tmp_path: Path) -> None:
    server.knobs.total = 100_000
    query = PAGED.replace("score active owner { login since }", "owner { login }")  # fewer fields: a faster server
    table, events, sizes = run(paged(server.url, query=query, variables={"first": 2000}, batch_size=7_000), tmp_path)
    assert server.knobs.requests == 50
    assert [d["page"] for k, d in events if k == "graphql_page"] == list(range(1, 51))
    assert sizes == [7_000] * 14 + [2_000]  # batches cross page boundaries and never exceed batch_size
    assert table.schema == pa.schema([("id", pa.int64()), ("name", pa.string()), ("owner.login", pa.string())])
    expected = [{k: flat(i)[k] for k in ("id", "name", "owner.login")} for i in range(100_000)]
    assert table.to_pylist() == expected
    # the cursor of each page was sent for the next one, and nothing else changed
    assert [b["variables"] for b in server.knobs.bodies[:3]] == [
        {"first": 2000},
        {"first": 2000, "after": cursor(2000)},
        {"first": 2000, "after": cursor(4000)},
    ]
    assert ("graphql_complete", {"pages": 50, "rows": 100_000, "requests": 50}) in events


def test_awkward_text_survives_unchanged(server: GraphQLServer, tmp_path: Path) -> None:
    table, _, _ = run(paged(server.url), tmp_path)
    names = table.column("name").to_pylist()
    assert names == [item(i)["name"] for i in range(100)]
    assert {"cr\rhere #1", "lf\nhere #2", "tab\there #3", "back\\slash #4", 'quote"d #5', "NULL #7", "\\N #8"} <= set(
        names
    )
    assert "emoji 🦉 #9" in names


def test_max_pages_stops_early_and_says_so(server: GraphQLServer, tmp_path: Path) -> None:
    table, events, _ = run(paged(server.url, max_pages=3), tmp_path)
    assert table.num_rows == 30 and server.knobs.requests == 3
    assert ("graphql_max_pages", {"pages": 3, "more": True}) in events


def test_without_pagination_one_request_and_a_single_object_is_one_row(server: GraphQLServer, tmp_path: Path) -> None:
    config = {"endpoint": server.url, "query": "query($id: Int!) { item(id: $id) { id name owner { login } } }",
              "variables": {"id": 12}, "data_path": "data.item"}  # fmt: skip
    table, _, _ = run(config, tmp_path)
    assert table.to_pylist() == [{"id": 12, "name": item(12)["name"], "owner.login": "user12"}]
    assert server.knobs.requests == 1


def test_flatten_false_keeps_objects_as_json_text(server: GraphQLServer, tmp_path: Path) -> None:
    table, _, _ = run(paged(server.url, flatten_result=False, max_pages=1), tmp_path)
    assert table.column_names == ["id", "name", "score", "active", "owner"]
    assert table.column("owner").to_pylist()[:2] == [None, '{"login":"user1","since":"2024-01-02T03:04:05Z"}']


def test_an_object_first_seen_null_lands_as_json_text(server: GraphQLServer, tmp_path: Path) -> None:
    """Item 0 has no owner: page 1 (one row) makes `owner` a column; later owners land in it, nothing is lost."""
    server.knobs.total = 3
    table, _, _ = run(paged(server.url, variables={"first": 1}), tmp_path)
    assert table.column("owner").to_pylist() == [
        None,
        '{"login":"user1","since":"2024-01-02T03:04:05Z"}',
        '{"login":"user2","since":"2024-01-02T03:04:05Z"}',
    ]


def test_declared_columns_win_and_undeclared_fields_are_reported(server: GraphQLServer, tmp_path: Path) -> None:
    columns = [
        {"name": "id", "type": "int32", "nullable": False},
        {"name": "score", "type": "decimal(10,2)"},
        {"name": "owner.since", "type": "timestamp[tz]"},
        {"name": "missing", "type": "string"},
    ]
    table, events, _ = run(paged(server.url, columns=columns), tmp_path)
    assert table.schema.types == [pa.int32(), pa.decimal128(10, 2), pa.timestamp("us", tz="UTC"), pa.string()]
    assert table.schema.field("id").nullable is False
    assert table.column("id").to_pylist() == list(range(100))
    assert str(table.column("score")[1].as_py()) == "0.25"
    assert table.column("owner.since")[1].as_py().isoformat() == "2024-01-02T03:04:05+00:00"
    assert table.column("missing").null_count == 100
    reported = [d for k, d in events if k == "fields_not_declared"]
    assert reported[0] == {"fields": ["active", "name"], "page": 1}  # each field once, when first seen
    assert sorted(f for d in reported for f in d["fields"]) == ["active", "name", "owner.login"]


def test_errors_in_the_body_fail_the_step_with_the_servers_message(server: GraphQLServer, tmp_path: Path) -> None:
    with pytest.raises(StepError, match=r"answered page 1 with errors: the warehouse is on fire \(at boom\)"):
        run({"endpoint": server.url, "query": "{ boom }"}, tmp_path)


def test_a_wrong_data_path_is_an_error_not_an_empty_table(server: GraphQLServer, tmp_path: Path) -> None:
    with pytest.raises(StepError, match=r"data_path 'data.itemz' matches nothing in page 1 \(fields under data: items"):
        run(paged(server.url, data_path="data.itemz"), tmp_path)


def test_bearer_token_is_sent_and_a_401_never_shows_it(server: GraphQLServer, tmp_path: Path) -> None:
    server.knobs.token = TOKEN
    table, _, _ = run(paged(server.url, auth_type="bearer", auth_token=TOKEN, max_pages=1), tmp_path)
    assert table.num_rows == 10 and server.knobs.headers[-1]["authorization"] == f"Bearer {TOKEN}"
    wrong = TOKEN[::-1]
    with pytest.raises(StepError) as info:
        run(paged(server.url, auth_type="bearer", auth_token=wrong), tmp_path)
    message = str(info.value)
    assert "authentication failed (HTTP 401: Bad credentials)" in message and server.url in message
    assert wrong not in message and TOKEN not in message
    assert server.knobs.requests == 2  # an auth failure is not retried


def test_api_key_header_and_extra_headers(server: GraphQLServer, tmp_path: Path) -> None:
    config = paged(server.url, auth_type="api_key", auth_header_name="X-Shop-Token", auth_token=TOKEN, max_pages=1,
                   headers={"X-Tenant": "acme", "User-Agent": "osirisc-test"})  # fmt: skip
    run(config, tmp_path)
    seen = server.knobs.headers[-1]
    assert (seen["x-shop-token"], seen["x-tenant"], seen["user-agent"]) == (TOKEN, "acme", "osirisc-test")


def test_basic_auth_is_sent(server: GraphQLServer, tmp_path: Path) -> None:
    run(paged(server.url, auth_type="basic", auth_username="ann", auth_token="pw-123", max_pages=1), tmp_path)
    assert server.knobs.headers[-1]["authorization"] == "Basic YW5uOnB3LTEyMw=="


def test_a_token_without_auth_type_is_refused(server: GraphQLServer, tmp_path: Path) -> None:
    with pytest.raises(StepError, match="auth_token is set but auth_type is none"):
        run(paged(server.url, auth_token=TOKEN), tmp_path)
    assert server.knobs.requests == 0


def test_5xx_is_retried_with_backoff_then_succeeds(server: GraphQLServer, tmp_path: Path) -> None:
    server.knobs.statuses = [503, 502]
    table, events, _ = run(paged(server.url, max_pages=1, retry_delay=0.2), tmp_path)
    assert table.num_rows == 10 and server.knobs.requests == 3
    retries = [d for k, d in events if k == "http_retry"]
    assert [(r["attempt"], r["wait_s"]) for r in retries] == [(1, 0.2), (2, 0.4)]
    assert retries[0]["reason"] == "HTTP 503: injected 503"


def test_5xx_gives_up_after_max_retries(server: GraphQLServer, tmp_path: Path) -> None:
    server.knobs.statuses = [500] * 10
    with pytest.raises(StepError, match=r"HTTP 500: injected 500; gave up after 3 attempt\(s\)"):
        run(paged(server.url, max_retries=2), tmp_path)
    assert server.knobs.requests == 3


def test_a_4xx_is_not_retried(server: GraphQLServer, tmp_path: Path) -> None:
    server.knobs.statuses = [404]
    with pytest.raises(StepError, match="HTTP 404: injected 404"):
        run(paged(server.url), tmp_path)
    assert server.knobs.requests == 1


@pytest.mark.slow
def test_a_timeout_is_retried_and_then_reported(server: GraphQLServer, tmp_path: Path) -> None:
    server.knobs.delay = 8.0
    with pytest.raises(StepError, match=r"no answer within 5 s \(timeout\); gave up after 2 attempt\(s\)"):
        run(paged(server.url, timeout=5, max_retries=1), tmp_path)
    assert server.knobs.requests == 2


def test_a_mutation_is_refused_before_any_request(server: GraphQLServer, tmp_path: Path) -> None:
    with pytest.raises(StepError, match=r"is a mutation: graphql\.extractor only sends queries"):
        run({"endpoint": server.url, "query": "# read?\nmutation Drop { dropAll }"}, tmp_path)
    assert server.knobs.requests == 0


@pytest.mark.parametrize(
    ("document", "kind"),
    [
        ("{ a }", "query"),
        ("query Q { a }", "query"),
        ('# mutation\n query { a(s: "mutation") }', "query"),
        ('"""mutation doc"""\nsubscription S { a }', "subscription"),
        ("fragment F on T { a }\nmutation M { b }", "mutation"),
        ("query A { a { b } }\nsubscription S { a }", "subscription"),
    ],
)
def test_operation_kind(document: str, kind: str) -> None:
    assert operation_kind(document) == kind


def test_a_cursor_that_repeats_stops_with_an_error(tmp_path: Path) -> None:
    """A server whose pageInfo says there is more but hands the same cursor back must not loop forever."""
    srv = GraphQLServer(Knobs(total=50))
    try:
        query = "{ items(first: 5) { edges { node { id } } pageInfo { hasNextPage endCursor } } }"
        with pytest.raises(StepError, match="a cursor already used; stopping rather than looping"):
            run(paged(srv.url, query=query, variables={}), tmp_path)
        assert srv.knobs.requests == 2
    finally:
        srv.close()


def test_scrubber_masks_secrets_also_url_encoded_and_inside_header_maps() -> None:
    from urllib.parse import quote

    from osiris.runtime.connectors.http import Scrubber

    scrub = Scrubber([TOKEN, {"X-Trace": "trace/Secr3t value"}, None, "ab"])
    text = f"echo {TOKEN} and {quote(TOKEN + '/x', safe='')} and trace/Secr3t value and {quote('trace/Secr3t value')}"
    assert scrub(text) == "echo *** and ***%2Fx and *** and ***"
    assert scrub("ab stays: too short to mask") == "ab stays: too short to mask"


def test_headers_from_an_environment_variable_are_a_json_object(server: GraphQLServer, tmp_path: Path) -> None:
    run(paged(server.url, headers='{"X-Tenant": "acme"}', max_pages=1), tmp_path)
    assert server.knobs.headers[-1]["x-tenant"] == "acme"
    with pytest.raises(StepError, match="must be a JSON object") as info:
        run(paged(server.url, headers="X-Tenant: s3cret-tenant"), tmp_path)
    assert "s3cret-tenant" not in str(info.value)


def _self_signed(folder: Path) -> ssl.SSLContext:
    """A server-side TLS context with a fresh self-signed certificate for 127.0.0.1 (no CA anywhere trusts it)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def test_validate_ssl_refuses_a_self_signed_certificate_unless_false(tmp_path: Path) -> None:
    """The same HTTPS server: validate_ssl true (the default) refuses its certificate before any request reaches it;
    false connects and reads every row."""
    https = GraphQLServer(Knobs(total=30), tls=_self_signed(tmp_path))
    try:
        assert https.url.startswith("https://")
        for validate in ({}, {"validate_ssl": True}):
            with pytest.raises(StepError, match=r"cannot connect: .*CERTIFICATE_VERIFY_FAILED"):
                run(paged(https.url, max_retries=0, **validate), tmp_path)
        assert https.knobs.requests == 0
        table, _, _ = run(paged(https.url, max_retries=0, validate_ssl=False), tmp_path)
        assert table.column("id").to_pylist() == list(range(30))
        assert https.knobs.requests == 3
    finally:
        https.close()
