"""Choosing organizations and teams: matching, prompting, and every way it cannot be done."""

from __future__ import annotations

import pytest
import requests
import requests_mock as rm
from chaosiq_teams import selection

from chaosiq_core.api import ApiClient
from chaosiq_core.errors import ApiError, AuthError, ChaosIQError

URL = "https://chaosiq.example.com"
ORGS = [{"id": "o1", "name": "Acme", "extra": 1}, {"id": "o2", "name": "beta"}, {"id": "o3", "name": "acme"}]


@pytest.fixture
def client() -> ApiClient:
    session = requests.Session()
    session.trust_env = False
    return ApiClient(URL, "tok", session=session)


class Answers:
    """A scripted user: answers prompts in turn and keeps what was printed."""

    def __init__(self, *answers: int) -> None:
        self.answers = list(answers)
        self.printed: list[str] = []
        self.asked: list[str] = []

    def echo(self, line: str) -> None:
        self.printed.append(line)

    def prompt(self, question: str) -> int:
        self.asked.append(question)
        return self.answers.pop(0)


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [("o2", "o2"), ("beta", "o2"), ("BETA", "o2"), ("Acme", "o1"), ("acme", "o3"), (" o3 ", "o3")],
)
def test_match_by_id_then_exact_name_then_any_case(wanted: str, expected: str) -> None:
    assert selection.match(ORGS, wanted, "organization")["id"] == expected


def test_ambiguous_name_asks_for_the_id() -> None:
    with pytest.raises(ChaosIQError, match=r"several organizations are named 'ACME': give its id \(o1, o3\)"):
        selection.match(ORGS, "ACME", "organization")


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ChaosIQError, match=r"no organization 'zeta' \(yours: Acme, acme, beta\)"):
        selection.match(ORGS, "zeta", "organization")


def test_interactive_choice_re_asks_until_valid(client: ApiClient) -> None:
    user = Answers(0, 4, 2)
    with rm.Mocker() as m:
        m.get(f"{URL}/api/v1/organizations", json=ORGS)
        chosen = selection.select_organization(client, None, True, user.echo, user.prompt)
    assert chosen["id"] == "o2"
    assert user.printed[:4] == ["Here are your known organizations:", "1) Acme", "2) beta", "3) acme"]
    assert user.printed[4:] == ["Please, select a valid organization (1 to 3)."] * 2
    assert user.asked == ["Default organization to use"] * 3
    assert m.call_count == 1  # the original re-fetched the list at every wrong answer


def test_single_team_is_taken_without_asking(client: ApiClient) -> None:
    user = Answers()
    with rm.Mocker() as m:
        m.get(f"{URL}/api/v1/organizations/o1/teams", json=[{"id": 7, "name": None}])
        team = selection.select_team(client, {"id": "o1", "name": "Acme"}, None, True, user.echo, user.prompt)
    assert team == {"id": "7", "name": ""}
    assert selection.label(team) == "7"
    assert user.printed == [] and user.asked == []


def test_empty_lists_end_at_once(client: ApiClient) -> None:
    user = Answers()
    with rm.Mocker() as m:
        m.get(f"{URL}/api/v1/organizations", json=[])
        m.get(f"{URL}/api/v1/organizations/o1/teams", json=[{"name": "no id"}])
        with pytest.raises(ChaosIQError, match="you belong to no organization on this server"):
            selection.select_organization(client, None, True, user.echo, user.prompt)
        with pytest.raises(ChaosIQError, match="you belong to no team in organization 'Acme'"):
            selection.select_team(client, {"id": "o1", "name": "Acme"}, None, True, user.echo, user.prompt)
    assert user.asked == []


def test_server_answers_that_are_not_lists(client: ApiClient) -> None:
    with rm.Mocker() as m:
        m.get(f"{URL}/api/v1/organizations", json={"items": []})
        with pytest.raises(ApiError, match="list of organizations is not a JSON list"):
            selection.fetch_organizations(client)


def test_refused_token_while_listing(client: ApiClient) -> None:
    with rm.Mocker() as m:
        m.get(f"{URL}/api/v1/organizations", status_code=401)
        with pytest.raises(AuthError, match="refused the token"):
            selection.fetch_organizations(client)
