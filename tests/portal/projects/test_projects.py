import pytest
from django.urls import reverse

from portal.lib.errors import Refused
from portal.projects.models import Maintainership, Project
from portal.projects.services import register_project

pytestmark = pytest.mark.django_db

GOOD = {
    "name": "yamlette",
    "ecosystem": "pypi",
    "repository_url": "https://codeberg.org/example/yamlette",
    "purls": "pkg:pypi/Yamlette\n\npkg:github/example/yamlette\npkg:pypi/yamlette",
}


def test_maintainer_registers_a_project_with_normalised_purls(client, maintainer):
    client.force_login(maintainer)
    response = client.post(reverse("projects:create"), GOOD, follow=True)
    assert (
        "yamlette is registered as one of your projects." in response.content.decode()
    )
    project = Project.objects.get()
    assert project.purls == ["pkg:pypi/yamlette", "pkg:github/example/yamlette"]
    assert Maintainership.objects.get().user == maintainer
    assert (
        b"pkg:github/example/yamlette" in client.get(reverse("projects:list")).content
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("purls", "pkg:pypi/yamlette@1.0", "names a version"),
        ("purls", "yamlette", "must start with"),
        ("purls", "   ", "This field is required."),
        ("repository_url", "http://codeberg.org/x", "https://"),
        ("repository_url", "not a url", "Enter a valid URL."),
        ("ecosystem", "cobol", "Select a valid choice"),
    ],
)
def test_bad_project_input_is_refused_with_a_clear_message(
    client, maintainer, field, value, message
):
    client.force_login(maintainer)
    response = client.post(reverse("projects:create"), {**GOOD, field: value})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Project.objects.count() == 0


def test_second_maintainer_joins_an_existing_project_without_changing_it(
    maintainer, other_maintainer
):
    first = register_project(
        actor=maintainer,
        name="yamlette",
        ecosystem="pypi",
        repository_url="https://a.example/y",
        purls=["pkg:pypi/yamlette"],
    )
    second = register_project(
        actor=other_maintainer,
        name="YAMLETTE",
        ecosystem="pypi",
        repository_url="https://evil.example/y",
        purls=[],
    )
    assert first == second
    second.refresh_from_db()
    assert second.repository_url == "https://a.example/y"
    assert set(second.maintainers.all()) == {maintainer, other_maintainer}


def test_registering_the_same_project_twice_is_refused(client, maintainer, project):
    client.force_login(maintainer)
    response = client.post(
        reverse("projects:create"),
        {
            "name": "tinyzip",
            "ecosystem": "generic",
            "repository_url": "https://github.com/example/tinyzip",
            "purls": "pkg:github/example/tinyzip",
        },
    )
    assert response.status_code == 400
    assert "You have already registered tinyzip." in response.content.decode()
    assert Maintainership.objects.count() == 1


def test_project_list_shows_only_my_projects(
    client, maintainer, project, other_project
):
    client.force_login(maintainer)
    body = client.get(reverse("projects:list")).content.decode()
    assert "tinyzip" in body
    assert "leftpadx" not in body


def test_project_pages_need_sign_in(client):
    assert client.get(reverse("projects:list")).status_code == 302
    assert client.post(reverse("projects:create"), GOOD).status_code == 302
    assert Project.objects.count() == 0


def test_refused_is_a_validation_error():
    from django.core.exceptions import ValidationError

    assert issubclass(Refused, ValidationError)
