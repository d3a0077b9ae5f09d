"""The stand-in answers as CISO Assistant's API is documented to: Knox token auth, DRF
pagination, DRF validation errors, the model's scope uniqueness, 404s, PUT versus PATCH."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.server.integrations.ciso_standin import ROOT_FOLDER_ID, StandIn, serve

TOKEN = "t" * 64


@pytest.fixture
def standin() -> StandIn:
    return StandIn(token=TOKEN, page_size=3)


@pytest.fixture
def api(standin: StandIn) -> Iterator[httpx.Client]:
    with (
        serve(standin) as url,
        httpx.Client(base_url=url + "/", headers={"Authorization": f"Token {TOKEN}"}) as client,
    ):
        yield client


@pytest.fixture
def folder(standin: StandIn) -> str:
    return standin.add_folder("AI register")


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "Authentication credentials were not provided."),
        ("Bearer " + TOKEN, "Authentication credentials were not provided."),
        ("Token", "Invalid token header. No credentials provided."),
        ("Token " + "x" * 64, "Invalid token."),
    ],
)
def test_knox_token_auth(api: httpx.Client, header: str | None, detail: str) -> None:
    headers = {"Authorization": header} if header else {}
    answer = httpx.get(f"{api.base_url}assets/", headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"detail": detail}
    assert answer.headers["www-authenticate"] == "Token"


def test_limit_offset_pagination(api: httpx.Client, folder: str) -> None:
    for number in range(7):
        api.post("assets/", json={"name": f"a{number}", "folder": folder}).raise_for_status()
    first = api.get("assets/", params={"folder": folder}).json()
    assert first["count"] == 7 and len(first["results"]) == 3 and first["previous"] is None
    assert first["next"].startswith("/api/assets/?")
    second = api.get(first["next"].removeprefix("/api/")).json()
    assert [row["name"] for row in second["results"]] == ["a3", "a4", "a5"]
    assert second["previous"] is not None
    assert api.get("assets/", params={"folder": ROOT_FOLDER_ID}).json()["count"] == 0


def test_validation_errors_are_drf_shaped(api: httpx.Client, folder: str) -> None:
    missing = api.post("assets/", json={"folder": folder})
    assert missing.status_code == 400 and missing.json() == {"name": ["This field is required."]}
    wrong = api.post("assets/", json={"name": "x", "type": "XX", "folder": folder})
    assert wrong.json() == {"type": ['"XX" is not a valid choice.']}
    unknown = "5f0c6a6e-5d4c-4b8a-9a55-2b5f0c8d0e11"
    no_folder = api.post("applied-controls/", json={"name": "x", "folder": unknown})
    assert no_folder.json() == {"folder": [f'Invalid pk "{unknown}" - object does not exist.']}
    status = api.post("applied-controls/", json={"name": "x", "status": "done"})
    assert status.json() == {"status": ['"done" is not a valid choice.']}
    link = api.post("evidences/", json={"name": "x", "link": "not a url"})
    assert link.json() == {"link": ["Enter a valid URL."]}
    # Left out, the folder is the root folder, as in CISO Assistant; unknown fields are ignored.
    created = api.post("assets/", json={"name": "y", "colour": "red"}).json()
    assert created["folder"] == ROOT_FOLDER_ID and "colour" not in created


def test_names_are_unique_in_their_folder(api: httpx.Client, folder: str) -> None:
    api.post("evidences/", json={"name": "DPA", "folder": folder}).raise_for_status()
    clash = api.post("evidences/", json={"name": "dpa", "folder": folder})
    assert clash.status_code == 400
    assert clash.json() == {
        "name": "dpa is already used in this scope. Please choose another value."
    }
    api.post("evidences/", json={"name": "DPA", "folder": ROOT_FOLDER_ID}).raise_for_status()
    # Assets clash only on ref_id and name together.
    api.post("assets/", json={"name": "A", "ref_id": "1", "folder": folder}).raise_for_status()
    api.post("assets/", json={"name": "A", "ref_id": "2", "folder": folder}).raise_for_status()
    assert api.post("assets/", json={"name": "A", "ref_id": "1", "folder": folder}).is_error


def test_detail_put_patch_delete(api: httpx.Client, folder: str) -> None:
    asset = api.post("assets/", json={"name": "A", "type": "PR", "folder": folder}).json()
    assert asset["type"] == "PR" and asset["folder"] == folder  # write shape
    read = api.get(f"assets/{asset['id']}/").json()
    assert read["type"] == "Primary" and read["folder"] == {"id": folder, "str": "AI register"}
    patched = api.patch(f"assets/{asset['id']}/", json={"description": "d"})
    assert patched.status_code == 200 and patched.json()["name"] == "A"
    put = api.put(f"assets/{asset['id']}/", json={"description": "e"})
    assert put.status_code == 400 and put.json() == {"name": ["This field is required."]}
    control = api.post(
        "applied-controls/", json={"name": "C", "folder": folder, "assets": [asset["id"]]}
    ).json()
    assert api.delete(f"assets/{asset['id']}/").status_code == 204
    assert api.get(f"assets/{asset['id']}/").status_code == 404
    assert api.patch(f"assets/{asset['id']}/", json={}).json() == {
        "detail": "No Asset matches the given query."
    }
    assert api.get(f"applied-controls/{control['id']}/").json()["assets"] == []


def test_an_evidence_link_lives_on_revisions_as_in_ciso_assistant_3_20(
    api: httpx.Client, standin: StandIn, folder: str
) -> None:
    created = api.post(
        "evidences/", json={"name": "e", "folder": folder, "link": "https://a.example.com/1"}
    )
    assert created.status_code == 201 and created.json()["link"] == "https://a.example.com/1"
    pk = created.json()["id"]
    # A PATCH of the link is answered 200 and changes nothing.
    patched = api.patch(f"evidences/{pk}/", json={"link": "https://a.example.com/2"})
    assert patched.status_code == 200 and patched.json()["link"] == "https://a.example.com/1"
    # A null link is refused; so is a host name without a dot (Django's URLValidator).
    assert api.patch(f"evidences/{pk}/", json={"link": None}).json() == {
        "link": ["This field may not be null."]
    }
    assert api.post(
        "evidences/", json={"name": "f", "folder": folder, "link": "http://intranet/x"}
    ).json() == {"link": ["Enter a valid URL."]}
    assert api.post(
        "evidences/", json={"name": "g", "folder": folder, "link": "http://10.1.2.3/x"}
    ).is_success
    # A revision is numbered above the newest whatever it says, and puts the evidence in review.
    revision = api.post(
        "evidence-revisions/",
        json={"evidence": pk, "version": 7, "link": "https://a.example.com/2", "folder": folder},
    )
    assert revision.status_code == 201 and revision.json()["version"] == 2
    shown = api.get(f"evidences/{pk}/").json()
    assert shown["link"] == "https://a.example.com/2" and shown["status"] == "In review"
    listed = api.get("evidence-revisions/", params={"evidence": pk}).json()["results"]
    assert [row["version"] for row in listed] == [2, 1]


def test_a_folder_gets_its_user_groups_only_with_create_iam_groups(
    standin: StandIn, api: httpx.Client
) -> None:
    bare = api.post("folders/", json={"name": "AI register"}).json()
    assert bare["create_iam_groups"] is False
    with pytest.raises(LookupError, match="no 'Analyst' user group"):
        standin.give_role(bare["id"], "Analyst")
    grouped = api.post("folders/", json={"name": "AI register 2", "create_iam_groups": True})
    assert grouped.status_code == 201
    groups = api.get("user-groups/", params={"folder": grouped.json()["id"]}).json()["results"]
    assert "Analyst" in [row["name"] for row in groups]
    standin.write_folders = set()
    standin.give_role(grouped.json()["id"], "Analyst")
    assert standin.write_folders == {grouped.json()["id"]}


def test_writing_in_a_folder_without_a_role_is_403(
    standin: StandIn, api: httpx.Client, folder: str
) -> None:
    pk = api.post("assets/", json={"name": "a", "folder": folder}).json()["id"]
    standin.write_folders = set()
    refused = api.post("assets/", json={"name": "b", "folder": folder})
    assert refused.status_code == 403
    assert refused.json() == {"folder": "You do not have permission to add objects in this folder"}
    assert api.patch(f"assets/{pk}/", json={"name": "c"}).status_code == 403
    assert api.get(f"assets/{pk}/").status_code == 200  # reading is another permission
