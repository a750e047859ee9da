import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import services

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("as_role", ["maintainer", "caseworker"])
def test_case_page_queries_do_not_grow_with_messages_and_files(
    request, client, case, maintainer, caseworker, as_role, django_assert_num_queries
):
    def add(count):
        for n in range(count):
            services.post_message(case=case, actor=maintainer, body=f"message {n}")
            services.post_message(case=case, actor=caseworker, body=f"reply {n}")
            services.add_attachment(
                case=case, actor=maintainer, name=f"f{n}.txt", data=b"plain text"
            )

    user = request.getfixturevalue(as_role)
    client.force_login(user)
    url = reverse("cases:detail", args=[case.public_id])
    add(1)
    client.get(url)  # warm per-process caches (content types, permissions)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    add(10)
    with django_assert_num_queries(len(small.captured_queries)):
        assert client.get(url).status_code == 200
